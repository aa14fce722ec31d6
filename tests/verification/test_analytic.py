"""Verification of the axisymmetric solver against exact and analytic solutions (coarse meshes).

Each test states the requirement it checks and its tolerance. Units: mm, N, MPa, s.
"""
import math

import numpy as np
import pytest

from conftest import make_study
from fem.verification import analytic
from fem.physics.platen import nominal_force_N
from fem.stepping.run import run_case


def _run(tmp_path, name, **over):
    return run_case(make_study(name, **over), tmp_path / name, progress=False)


def _history(path):
    import csv
    with open(path) as f:
        return list(csv.DictReader(f))


# ---------------------------------------------------------------- 1. elastic, exact
@pytest.mark.parametrize("pressure,symmetric", [(5.19, True), (30.0, True), (17.79, False)])
def test_elastic_compression_matches_exact_homogeneous_solution(tmp_path, pressure, symmetric):
    """Requirement: elastic compression between frictionless platens reproduces the exact uniaxial
    solution of the hyperelastic law to < 1e-6 relative (thickness, diameter, force)."""
    s = make_study("elastic", li={"creep_A": 0.0},
                   geometry={"use_symmetry": symmetric, "mesh_size_mm": 0.125},
                   load=[{"pressure_MPa": pressure, "ramp_s": 0.0, "hold_s": 0.0}])
    r = run_case(s, tmp_path / "el", progress=False)
    lr, lz = analytic.elastic_uniaxial_stretches(s.li, pressure)
    exact_t, exact_d = 100 * (1 - lz), 100 * (lr - 1)
    assert abs(r["thickness_change_pct"] - exact_t) <= 1e-6 * exact_t
    assert abs(r["diameter_change_pct"] - exact_d) <= 1e-6 * exact_d
    F = nominal_force_N(pressure, 7.5)
    assert abs(r["platen_force_N"] - F) <= 1e-6 * F
    # sanity: the small-strain value is close (Poisson effect, E)
    assert exact_t == pytest.approx(100 * pressure / 7820.0, rel=0.02)


def test_elastic_law_is_equivalent_to_hencky_at_stack_pressures():
    """Requirement: the elastic law (Hencky deviatoric part, U(J) = K/2 (J - 1)^2 volumetric part) is close to
    isotropic Hencky elasticity: at 30 MPa the uniaxial elastic thickness and diameter changes
    agree with Hencky's within 0.3 % of themselves."""
    from scipy.optimize import brentq
    from fem.physics.materials import LiCreep
    m = LiCreep()
    P = 30.0
    lr, lz = analytic.elastic_uniaxial_stretches(m, P)
    ez = brentq(lambda e: m.youngs_modulus_MPa * e + P * math.exp(e), -0.1, 0.0)  # tau_z = E ln(lz) = -P lz
    assert 1 - lz == pytest.approx(1 - math.exp(ez), rel=3e-3)
    assert lr - 1 == pytest.approx(math.exp(-m.poisson_ratio * ez) - 1, rel=3e-3)


# ---------------------------------------------------------------- 2. creep at constant force
CREEP_T = 0.076  # s: analytic thickness loss 55 % at 5.19 MPa with A = 7.7e-3, n = 6.56


def _creep_study(integrator, cap, tol=0.0, hold=CREEP_T):
    return make_study("creep", time={"integrator": integrator, "time_tolerance": tol,
                                     "max_creep_increment": cap, "max_local_creep_increment": 10.0},
                      load=[{"pressure_MPa": 5.19, "ramp_s": 0.0, "hold_s": hold}])


@pytest.fixture(scope="module")
def creep_runs(tmp_path_factory):
    """Fixed creep-increment steps (no error control), both integrators, three step sizes."""
    out = {}
    for integ, caps in (("backward_euler", (0.02, 0.01, 0.005)), ("trapezoidal", (0.04, 0.02, 0.01))):
        for cap in caps:
            s = _creep_study(integ, cap)
            out[integ, cap] = (s, run_case(s, tmp_path_factory.mktemp(f"creep{integ}{cap}"), progress=False))
    return out


def test_constant_force_creep_matches_analytic(creep_runs):
    """Requirement: frictionless constant-force creep follows eps = ln(1 + n A P0^n t)/n at >= 50 %
    thickness loss: thickness and diameter change within 0.5 % relative (backward Euler, the
    coarser integrator), and the trapezoidal rule (dp <= 0.02 per step) within 0.05 % (thickness)
    and 0.1 % (diameter, twice as sensitive to the creep strain) of the exact solution of the
    law including elasticity."""
    s, r = creep_runs["backward_euler", 0.005]
    t_exact, d_exact = analytic.creep_changes_pct(s.li, 5.19, CREEP_T)
    assert t_exact >= 50.0
    assert r["thickness_change_pct"] == pytest.approx(t_exact, rel=5e-3)
    assert r["diameter_change_pct"] == pytest.approx(d_exact, rel=5e-3)
    s, r = creep_runs["trapezoidal", 0.02]
    t_exact, d_exact = analytic.creep_changes_exact_pct(s.li, 5.19, CREEP_T)
    assert r["thickness_change_pct"] == pytest.approx(t_exact, rel=5e-4)
    assert r["diameter_change_pct"] == pytest.approx(d_exact, rel=1e-3)


def _observed_orders(creep_runs, integ):
    runs = {cap: v for (i, cap), v in creep_runs.items() if i == integ}
    caps = sorted(runs, reverse=True)
    s = runs[caps[0]][0]
    t_exact, _ = analytic.creep_changes_exact_pct(s.li, 5.19, CREEP_T)
    err = [abs(runs[c][1]["thickness_change_pct"] - t_exact) for c in caps]
    return math.log2(err[0] / err[1]), math.log2(err[1] / err[2]), err


def test_time_step_convergence_backward_euler_is_first_order(creep_runs):
    """Requirement: the observed order of backward Euler is ~1 (0.8-1.2), measured on the
    creep-increment cap that sets the step size (halved twice)."""
    p1, p2, err = _observed_orders(creep_runs, "backward_euler")
    assert 0.8 <= p2 <= 1.2, (p1, p2, err)
    assert 0.6 <= p1 <= 1.2, (p1, p2, err)


def test_time_step_convergence_trapezoidal_is_second_order(creep_runs):
    """Requirement: the observed order of the trapezoidal rule (with the exponential-map return)
    is ~2 (1.7-2.3) against the exact solution of the law, steps halved twice."""
    p1, p2, err = _observed_orders(creep_runs, "trapezoidal")
    assert 1.7 <= p2 <= 2.3, (p1, p2, err)
    assert 1.7 <= p1 <= 2.3, (p1, p2, err)


def test_time_tolerance_bounds_the_error(tmp_path):
    """Requirement: with error control (the default trapezoidal rule, creep caps out of the way)
    the relative error of the thickness and diameter change is below time_tolerance, the tighter
    tolerance gives the smaller error, and <= 5 % of the steps (+1) are rejected."""
    errs = {}
    for tol in (1e-2, 1e-3):
        s = _creep_study("trapezoidal", cap=1.0, tol=tol)
        r = run_case(s, tmp_path / f"tol{tol}", progress=False)
        t_exact, d_exact = analytic.creep_changes_exact_pct(s.li, 5.19, CREEP_T)
        errs[tol] = abs(r["thickness_change_pct"] - t_exact) / t_exact
        assert errs[tol] <= tol, (errs, tol)
        assert abs(r["diameter_change_pct"] - d_exact) / d_exact <= tol
        assert r["rejected_steps"] <= 0.05 * r["time_steps"] + 1, r
    assert errs[1e-3] < errs[1e-2], errs


# ---------------------------------------------------------------- 3. relaxation at fixed gap
def test_stress_relaxation_at_fixed_gap_matches_norton(tmp_path):
    """Requirement: at a fixed platen gap the axial stress relaxes as the uniaxial Norton solution
    1/sigma^(n-1) - 1/sigma0^(n-1) = (n-1) E A t, within 1 %."""
    h0 = 0.5
    s = make_study("relax", load=[{"gap_mm": h0 * (1 - 1e-3), "ramp_s": 0.0, "hold_s": 2e-4}],
                   time={"max_creep_increment": 2e-6})
    r = run_case(s, tmp_path / "relax", progress=False)
    rows = _history(tmp_path / "relax" / "history.csv")
    sig = [float(x["force_N"]) / (math.pi * (float(x["diameter_mm"]) / 2) ** 2) for x in rows]
    t = [float(x["time_s"]) for x in rows]
    sigma0 = sig[1]  # after the instantaneous (elastic) step
    assert sigma0 == pytest.approx(7820.0 * 1e-3, rel=0.01)
    checked = 0
    for ti, si in zip(t[2:], sig[2:]):
        ref = analytic.relaxation_stress(s.li, sigma0, ti)
        assert si == pytest.approx(ref, rel=0.01), (ti, si, ref)
        checked += 1
    assert checked > 10
    assert sig[-1] < 0.3 * sigma0  # the check covers real relaxation, not just the start
    assert r["time_steps"] == len(rows) - 1


# ---------------------------------------------------------------- 4. equilibrium
def test_platen_force_equals_target_and_midplane_reaction(tmp_path):
    """Requirement: at every converged step the platen force equals its target to 1e-6 relative,
    and the mid-plane reaction balances it (global equilibrium, independent of the constraint)."""
    from meshes.disc_axisym import BOTTOM, load_mesh
    from fem.models.axisym import AxisymDiscModel
    from dolfinx import fem as dfem

    s = make_study("eq", platen={"friction": "coulomb", "mu": 0.2},
                   load=[{"pressure_MPa": 5.19, "ramp_s": 0.5, "hold_s": 2.0},
                         {"pressure_MPa": 10.0, "ramp_s": 0.0, "hold_s": 1.0}])
    run_case(s, tmp_path / "eq", progress=False)
    rows = _history(tmp_path / "eq" / "history.csv")
    ramp_end, t_end1 = 0.5, 2.5
    for row in rows[1:]:
        t, F = float(row["time_s"]), float(row["force_N"])
        P = 5.19 * min(t / ramp_end, 1.0) if t <= t_end1 + 1e-12 else 10.0
        if row["phase"].endswith("2/2"):
            P = 10.0
        target = nominal_force_N(P, 7.5)
        assert abs(F - target) <= 1e-6 * target, (t, F, target)

    msh, _, ft = load_mesh(s.geometry)
    m = AxisymDiscModel(msh, ft, s.geometry, s.li, s.platen)
    x0 = m.w.x.array.copy()
    F = nominal_force_N(17.79, 7.5)
    m.solve_step(0.0, x0, "force", F, x0, 0.0)
    r = m.assemble_residual()
    mid_z = dfem.locate_dofs_topological(m.W.sub(0).sub(1), 1, ft.find(BOTTOM))
    mid_reaction = 2 * math.pi * r[mid_z].sum()
    assert abs(mid_reaction - F) <= 1e-6 * F


# ---------------------------------------------------------------- 5. friction bounds
def test_coulomb_between_sticking_and_frictionless_and_monotone_in_mu(tmp_path):
    """Requirement: the Coulomb result lies between the sticking and frictionless bounds and the
    deformation decreases monotonically with mu."""
    load = [{"pressure_MPa": 5.19, "ramp_s": 0.0, "hold_s": 2.0}]
    res = {}
    for label, platen in [("free", {"friction": "frictionless"}), ("stick", {"friction": "sticking"}),
                          ("mu0.05", {"friction": "coulomb", "mu": 0.05}),
                          ("mu0.2", {"friction": "coulomb", "mu": 0.2}),
                          ("mu0.5", {"friction": "coulomb", "mu": 0.5})]:
        res[label] = _run(tmp_path, label, platen=platen, load=load)
    for key in ("thickness_change_pct", "diameter_change_pct"):
        seq = [res[k][key] for k in ("free", "mu0.05", "mu0.2", "mu0.5", "stick")]
        assert all(a > b for a, b in zip(seq, seq[1:])), (key, seq)
    # friction decides the answer: frictionless flattens, sticking barely moves
    assert res["free"]["thickness_change_pct"] > 20 * res["stick"]["thickness_change_pct"]


# ---------------------------------------------------------------- 6. mesh convergence with friction
def test_mesh_convergence_coulomb(tmp_path):
    """Requirement: observed mesh convergence on a Coulomb-friction case: successive differences
    shrink with an observed order >= 1 over three meshes (h, h/2, h/4)."""
    vals = []
    for h in (0.125, 0.0625, 0.03125):
        r = _run(tmp_path, f"h{h}", geometry={"mesh_size_mm": h},
                 platen={"friction": "coulomb", "mu": 0.2},
                 load=[{"pressure_MPa": 5.19, "ramp_s": 0.0, "hold_s": 10.0}],
                 time={"max_creep_increment": 0.01})
        vals.append((r["thickness_change_pct"], r["diameter_change_pct"]))
    vals = np.array(vals)
    d1, d2 = np.abs(vals[1] - vals[0]), np.abs(vals[2] - vals[1])
    order = np.log2(d1 / d2)
    assert np.all(order >= 1.0), (vals, order)
    # the finest two meshes agree within 2 % relative
    assert np.all(np.abs(vals[2] - vals[1]) <= 0.02 * np.abs(vals[2])), vals


# ---------------------------------------------------------------- 7. large creep strain: volume and mesh
# The calibrated bare-Li regime of make check (17.79 MPa, Coulomb, ~40 % thinning). Parameters are
# fixed here (the 2026-11-23 fit) so the test does not move when the model is recalibrated.
LARGE = dict(li={"creep_A": 0.955, "threshold_stress_MPa": 0.276},
             platen={"friction": "coulomb", "mu": 0.282},
             load=[{"pressure_MPa": 17.79, "ramp_s": 1.0, "hold_s": 60.0}],
             time={"max_creep_increment": 0.03, "max_local_creep_increment": 0.3})


def test_volume_is_conserved_under_large_creep_strain(tmp_path):
    """Requirement: creep is isochoric, so at ~40 % thinning the discrete volume of the deformed disc
    changes only by the elastic part (-p/K, about -0.1 to -0.2 %): |dV/V0| <= 0.3 %, and the
    pointwise J stays near 1 (volume RMS of J - 1 <= 0.25). Plain Taylor-Hood with Simo's U(J)
    gained +12.8 % volume here (rms |J - 1| 0.67), which inflated the diameter by ~10 pp."""
    r = _run(tmp_path, "large", **LARGE)
    assert r["thickness_change_pct"] > 30.0, r["thickness_change_pct"]
    v = r["volume"]
    assert abs(v["volume_change_pct"]) <= 0.3, v
    assert v["rms_J_minus_1"] <= 0.25, v


def test_mesh_convergence_at_large_creep_strain(tmp_path):
    """Requirement: in the make-check regime the measured changes are mesh-converged on the
    calibration mesh: h = 0.125 mm and h/2 agree within 0.5 pp in thickness and diameter change
    (plain Taylor-Hood with Simo's U(J) differed by 6.1 pp in diameter)."""
    vals = []
    for h in (0.125, 0.0625):
        r = _run(tmp_path, f"h{h}", geometry={"mesh_size_mm": h}, **LARGE)
        vals.append((r["thickness_change_pct"], r["diameter_change_pct"]))
    d = np.abs(np.subtract(*vals))
    assert np.all(d <= 0.5), vals
