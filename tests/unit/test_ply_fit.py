"""The effective ply law and its fit (fem/rve/ply_fit.py): a table made by the law itself is fitted
back to its own parameters, and the material point obeys its mixed control. Units: MPa, s."""
import math

import numpy as np
import pytest

from fem.physics.materials import LiCreep
from fem.rve.backus import mandel_to_voigt
from fem.rve.ply_fit import (HILL_PROJECTORS, I_DEV, K_B_FRACTION, NAMES, PointLaw, curve_errors, fit, reuss_bulk,
                              tetragonal_voigt)
from fem.rve.creep import M
from fem.rve.ply_tables import RATES, loadings


def _table(theta, K_b, steps=30, phi=0.0, rates=RATES, back_pressure=False):
    """The tables' curves (fem/rve/ply_tables.py loadings) made by the law itself; with pores (phi > 0)
    the table carries their volume fraction, as the cell's tables do."""
    law = PointLaw(theta, K_b, phi, back_pressure=back_pressure)
    curves = []
    for head, rate, t_end in loadings(rates=rates):
        t = np.linspace(0.0, t_end, steps + 1)
        curves.append({**head, "t_s": t.tolist(), "E": np.outer(t, rate).tolist(),
                       "Sigma_MPa": law.run(head["control"], rate, t_end, steps).tolist()})
    return {"curves": curves, **({"volume_fractions": {"void": phi}} if phi > 0.0 else {})}


def test_fit_recovers_the_parameters_of_its_own_law():
    # a skeleton and branch of the size the cloth cell gives (MPa, MPa^-n/s)
    # with Hill weights (in-plane normal, in-plane shear, transverse shear) away from von Mises; the
    # fit's default branch is transversely isotropic (the in-plane modes share theirs)
    theta = np.array([30000.0, 6000.0, 4000.0, 9000.0, 20.0, 300.0, 2500.0, math.log10(3e-3), 6.0, 0.6, 0.6, -0.3])
    C_s = tetragonal_voigt(theta[:6])
    # K_b is fixed by the fit from the instantaneous cell: build C_inst so that it reproduces K_b
    mu_b = theta[6]
    Idev_V = mandel_to_voigt(I_DEV)
    K_b = 2000.0
    C_inst = C_s + 2 * mu_b * Idev_V + K_b * np.outer(M, M)
    K_b = K_B_FRACTION * reuss_bulk(C_inst)
    table = _table(theta, K_b, steps=15)   # half the tables' 30 steps: the same recovery, half the time
    out = fit(table, C_inst, LiCreep())
    assert out["max_rel_error"] < 1e-3
    got = np.array([out["parameters"][k] for k in NAMES])
    assert got[[0, 1, 2, 3, 6]] == pytest.approx(theta[[0, 1, 2, 3, 6]], rel=2e-2)
    assert got[7] == pytest.approx(theta[7], abs=0.05) and got[8] == pytest.approx(theta[8], rel=2e-2)
    assert got[9:12] == pytest.approx(theta[9:12], abs=0.05)


def test_point_law_mixed_control():
    """Uniaxial stress at the point: the free stresses vanish and, without creep (A_b tiny), the
    strain follows the compliance of C_s + 2 mu_b I_dev + K_b m m."""
    theta = np.array([30000.0, 6000.0, 4000.0, 9000.0, 20.0, 300.0, 2500.0, -30.0, 6.0])
    K_b = 1000.0
    law = PointLaw(theta, K_b)
    control = ["stress", "stress", "strain", "stress", "stress", "stress"]
    rate = np.zeros(6)
    rate[2] = -1e-3
    S = law.run(control, rate, 1.0, 1)[-1]
    C = tetragonal_voigt(theta[:6]) + 2 * theta[6] * mandel_to_voigt(I_DEV) + K_b * np.outer(M, M)
    assert np.abs(np.delete(S, 2)).max() < 1e-9 * abs(S[2])
    assert S[2] == pytest.approx(-1e-3 / np.linalg.inv(C)[2, 2], rel=1e-9)


def test_pore_closure_step():
    """closure_at_volume_strain (the point law's volumetric step): p = K (tr + c) with c from the backward-Euler closure; c = c_n without rate or in
    tension, c -> phi for a very fast closure, the equation holds at the root, and dp/dtr equals a
    central difference."""
    from fem.physics.pore_closure import closure_at_volume_strain as closure_step
    K, phi, m, dt = 3000.0, 0.01, 6.0, 0.1
    assert closure_step(-1e-3, 0.002, dt, K, phi, 0.0, m)[0] == 0.002
    assert closure_step(+1e-3, 0.002, dt, K, phi, 1.0, m)[0] == 0.002          # tension: no closure
    assert closure_step(-2e-2, 0.0, dt, K, phi, 1e30, m)[0] == pytest.approx(phi, rel=1e-9)   # p stays < 0
    # at tr = -phi the closure stops where the pressure it relieves vanishes: c just below phi, p ~ 0
    c, p, _ = closure_step(-1e-2, 0.0, dt, K, phi, 1e30, m)
    assert c < phi and abs(p) < 1e-3
    tr, c_n, B = -2e-3, 0.001, 1e-3
    c, p, dp = closure_step(tr, c_n, dt, K, phi, B, m)
    r = dt * B * (-p) ** m
    assert c == pytest.approx((c_n + r * phi) / (1 + r), rel=1e-10) and c_n < c < phi
    h = 1e-9
    num = (closure_step(tr + h, c_n, dt, K, phi, B, m)[1] - closure_step(tr - h, c_n, dt, K, phi, B, m)[1]) / (2 * h)
    assert dp == pytest.approx(num, rel=1e-5)
    assert dp < K   # closing pores soften the volumetric response


def test_exact_minimax_fit_finds_the_chebyshev_line():
    """exact_minimax_fit on a problem with a known minimax: the best uniform line a + b x to x^2 on
    [0, 1] is x - 1/8 (error 1/8, equioscillating at 0, 1/2 and 1); with b <= 1/2 it is
    0.21875 + x/2 (error 0.28125, at x = 1/4 and 1)."""
    from fem.rve.ply_fit import exact_minimax_fit
    x = np.linspace(0.0, 1.0, 201)

    def res(z):
        return x ** 2 - z[0] - z[1] * x
    inf = np.full(2, np.inf)
    z, info = exact_minimax_fit(res, np.zeros(2), -inf, inf)
    assert z == pytest.approx([-0.125, 1.0], abs=1e-6) and np.abs(res(z)).max() == pytest.approx(0.125, abs=1e-6)
    z, _ = exact_minimax_fit(res, np.zeros(2), -inf, np.array([np.inf, 0.5]))
    assert z == pytest.approx([0.21875, 0.5], abs=1e-6) and np.abs(res(z)).max() == pytest.approx(0.28125, abs=1e-6)
    assert info["iterations"] >= 1 and info["nfev"] >= 3


def _hill_theta(mu_b=2500.0, log10_A=math.log10(3e-3), n=6.0):
    """The 15 constants of the Hill branch with modal moduli (skeleton, branch, weights, modulus ratios)."""
    return [30000.0, 6000.0, 4000.0, 9000.0, 20.0, 300.0, mu_b, log10_A, n, 0.6, 0.6, -0.3, 0.1, 0.1, -0.2]


def test_two_identical_branches_are_one_branch_of_twice_the_modulus():
    """fit(branches=2): two identical Hill-Norton branches (mu, A) stay equal, and as q is homogeneous
    of degree 1 in s their sum is one branch of modulus 2 mu and prefactor A / 2^n (exact, here to 1e-9
    along a confined and an in-plane shear curve at 1e-3 /s)."""
    n, A, mu = 6.0, 3e-3, 1200.0
    twin = PointLaw(_hill_theta(mu, math.log10(A), n) + [mu, math.log10(A)], 3000.0, branches=2)
    one = PointLaw(_hill_theta(2 * mu, math.log10(A / 2 ** n), n), 3000.0)
    for head, rate, t_end in loadings(rates=(1e-3,)):
        a = twin.run(head["control"], rate, t_end, 20)
        b = one.run(head["control"], rate, t_end, 20)
        assert np.abs(a - b).max() <= 1e-9 * np.abs(b).max(), head["mode"]
    # a second branch that differs changes the response
    other = PointLaw(_hill_theta(mu, math.log10(A), n) + [mu, math.log10(A) + 2.0], 3000.0, branches=2)
    head, rate, t_end = next(loadings(rates=(1e-3,)))
    assert np.abs(other.run(head["control"], rate, t_end, 20) - one.run(head["control"], rate, t_end, 20)).max() > 1e-2


def test_a_free_second_branch_with_the_first_branchs_exponent_and_weights_is_the_tied_one():
    """branch2_free: the second branch's own exponent n_b2 and Hill weights (one in-plane, one transverse
    shear). Set to those of the first branch (its two in-plane weights equal) it is the tied branch
    (exact: the same arithmetic, 1e-12); another n_b2 changes the response; and the disc's material
    (PlyViscoplastic.from_fit) carries them into its second branch."""
    from fem.physics.materials import PlyViscoplastic
    from fem.rve.ply_fit import BRANCH2_FREE_NAMES, MODAL_NAMES
    n, A, mu = 6.0, 3e-3, 1200.0
    th = _hill_theta(mu, math.log10(A), n)   # in-plane weights 10^0.6 (normal and shear), transverse 10^-0.3
    tied = PointLaw(th + [800.0, math.log10(A) + 1.0], 3000.0, branches=2)
    free = PointLaw(th + [800.0, math.log10(A) + 1.0, n, 0.6, -0.3], 3000.0, branches=2, branch2_free=True)
    other = PointLaw(th + [800.0, math.log10(A) + 1.0, n - 2.0, 0.6, -0.3], 3000.0, branches=2, branch2_free=True)
    for head, rate, t_end in loadings(rates=(1e-3,)):
        a = free.run(head["control"], rate, t_end, 20)
        b = tied.run(head["control"], rate, t_end, 20)
        assert np.abs(a - b).max() <= 1e-12 * np.abs(b).max(), head["mode"]
    head, rate, t_end = next(loadings(rates=(1e-3,)))
    assert np.abs(other.run(head["control"], rate, t_end, 20) - tied.run(head["control"], rate, t_end, 20)).max() > 1e-2
    names = list(NAMES) + list(MODAL_NAMES)
    p = dict(zip(names + list(BRANCH2_FREE_NAMES), th + [800.0, math.log10(A) + 1.0, 4.5, 0.2, -0.1], strict=True))
    fit = {"parameters": p, "K_b_MPa": 3000.0, "skeleton_isotropised_MPa": {"C11_MPa": 3e4, "C12_MPa": 6e3, "C13_MPa": 4e3,
                                                                          "C33_MPa": 9e3, "C44_MPa": 20.0},
           "hill_isotropised": {"inplane_normal": 10 ** 0.6, "transverse_shear": 10 ** -0.3}}
    b2 = PlyViscoplastic.from_fit(fit, 299.0).branch2()
    assert b2.creep_n == 4.5 and b2.creep_A == pytest.approx(10 * A)
    assert b2.hill_inplane == pytest.approx(10 ** 0.2) and b2.hill_transverse == pytest.approx(10 ** -0.1)
    assert b2.shear_modulus_MPa == pytest.approx(800.0, rel=1e-12)


def test_creep_curves_enter_the_fit_in_strain():
    """A creep curve of the table (kind "creep", fem/rve/ply_tables.py creep_curves) is compared in the
    through-thickness strain: the law's own curve has no error; with a 10x faster branch it creeps
    more (law - cell < 0: more compression), by 0.9 % (confined, the skeleton carries most of the
    load once the branch relaxes); with half the skeleton's C33 by 60 %."""
    from fem.rve.ply_fit import creep_model
    from fem.rve.ply_tables import CREEP_MODES
    theta = _hill_theta()
    law = PointLaw(theta, 3000.0)
    head = {"mode": "confined_creep", "stress_MPa": 20.0, "control": CREEP_MODES["confined"], "component": 2,
            "kind": "creep", "t_s": np.linspace(0.0, 30.0, 31).tolist()}
    E = creep_model(law, head)
    assert E[-1, 2] < E[1, 2] < 0.0 and np.abs(E[-1, [0, 1, 3, 4, 5]]).max() == 0.0   # it creeps; confined
    curve = {**head, "E": E.tolist()}
    assert curve_errors(theta, [curve], 3000.0)[0]["max_rel_error"] < 1e-12
    fast = list(theta)
    fast[7] += 1.0
    err = curve_errors(fast, [curve], 3000.0)[0]
    assert 0.005 < err["max_rel_error"] < 0.02 and err["final_strain_law"] < err["final_strain_rve"]
    soft = list(theta)
    soft[3] *= 0.5
    assert curve_errors(soft, [curve], 3000.0)[0]["max_rel_error"] > 0.5


def _porous_law(K_b):
    """(Hill theta, porosity 1 %, log10 B of the Budiansky closure in a Norton Li (A 3e-3, n 6), the
    instantaneous cell stiffness with branch bulk modulus K_b)."""
    theta = _hill_theta()
    phi, log10_B = 0.01, math.log10(1.5 * 3e-3 * (1.5 / 6.0) ** 6.0)
    mu_k = theta[6] * np.concatenate([[1.0], 10.0 ** np.asarray(theta[12:15])])
    C_b = sum(2.0 * m * mandel_to_voigt(P) for m, P in zip(mu_k, HILL_PROJECTORS))
    return theta, phi, log10_B, tetragonal_voigt(theta[:6]) + C_b + K_b * np.outer(M, M)


def test_fit_recovers_the_bulk_modulus_of_a_porous_law():
    """fit(bulk_free=True): a table made by a law with pores (phi 1 %) and a branch bulk modulus K_b
    2.1x the K_B_FRACTION of the cell's Reuss bulk modulus that FIT_VERSION 7 fixed it at. Started
    from the true law but at that fixed K_b (which puts the confined curves > 1 % off), the fit finds K_b
    again (2 %) and the table (0.1 %)."""
    K_true = 10000.0
    theta, phi, log10_B, C_inst = _porous_law(K_true)
    K_fixed = K_B_FRACTION * reuss_bulk(C_inst)
    assert K_true / K_fixed > 2.0
    table = _table(theta + [log10_B], K_true, steps=10, phi=phi, rates=(1e-4, 1e-2))   # two rates, 10 steps: enough for K_b, and fast
    out = fit(table, C_inst, LiCreep(), start=theta + [log10_B], bulk_free=True)
    assert out["K_b_fitted"] and out["K_b_MPa"] == pytest.approx(K_true, rel=2e-2)
    assert out["max_rel_error"] < 1e-3
    # the start's K_b matters: the true law at the fixed K_b is > 1 % off in confined compression
    errs = curve_errors(theta + [log10_B], table["curves"], K_fixed, phi)
    assert max(c["max_rel_error"] for c in errs if c["mode"] == "confined") > 1e-2


def test_fit_recovers_the_back_pressure_of_the_pores():
    """fit(back_pressure=True) (FIT_VERSION 10): a table made by a porous law (phi 1 %) whose pores close
    against a back-pressure p_c = 10 MPa (fem/physics/pore_closure.py). Started from the true law but
    with p_c at BACK_PRESSURE_START_MPA (0.1 MPa, where the closure runs almost free, > 2 % off in
    confined compression), the fit finds p_c again (0.05 decade) and the table (0.1 %)."""
    from fem.rve.ply_fit import BACK_PRESSURE_START_MPA
    theta, phi, log10_B, C_inst = _porous_law(5000.0)
    K_b = K_B_FRACTION * reuss_bulk(C_inst)   # the fit's fixed K_b (bulk_free off)
    true = theta + [log10_B, 1.0]
    table = _table(true, K_b, steps=10, phi=phi, rates=(1e-4, 1e-2), back_pressure=True)
    start = theta + [log10_B, math.log10(BACK_PRESSURE_START_MPA)]
    errs = curve_errors(start, table["curves"], K_b, phi, back_pressure=True)
    assert max(c["max_rel_error"] for c in errs if c["mode"] == "confined") > 2e-2
    out = fit(table, C_inst, LiCreep(), start=start, back_pressure=True)
    assert out["back_pressure"] and out["parameters"]["log10_closure_pc_MPa"] == pytest.approx(1.0, abs=0.05)
    assert out["max_rel_error"] < 1e-3
