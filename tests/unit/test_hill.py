"""The Hill-Norton creep of the G-LiCFC ply's Li branch (issue 18 item 1: an anisotropic viscoplastic
ply law): the small-strain return of the fit (fem/rve/ply_fit.py hill_return) and the finite-strain
return of the disc's creep kernel (fem/physics/creep_point.py LAW_HILL). Checked: the isotropic limit
(both equal their von Mises returns), the flow rule at the converged point, the consistent tangents
against central differences, objectivity, and the two implementations against each other at small
strain (they share no code: Mandel projector matrices against a tensor split about the current
axis). Units: MPa, s."""
import math
from types import SimpleNamespace

import numpy as np
import pytest

from fem.physics.creep_point import MODE_STRESS, MODE_TANGENT, CreepPoints
from fem.physics.materials import LiCreep, PlyViscoplastic
from fem.rve.creep import I_DEV, norton_return
from fem.rve.ply_fit import HILL_PROJECTORS, hill_return, isotropic_hill

from .test_laws import AXI, FULL, _creep_state

MU, K, N_EXP = 3000.0, 5000.0, 6.2


def _hill_mat(h_inplane, h_transverse, r_inplane=1.0, r_transverse=1.0):
    """A material that takes the kernel's Hill path with the given weights and modal moduli ratios
    (unit values included)."""
    li = LiCreep()
    return SimpleNamespace(shear_modulus_MPa=li.shear_modulus_MPa, creep_n=li.creep_n, is_hill=True,
                           is_anand=False, hill_weights=np.array([1.0, h_inplane, h_transverse]),
                           hill_moduli=np.array([1.0, r_inplane, r_transverse]))


def test_point_return_isotropic_limit_flow_rule_and_tangent():
    rng = np.random.default_rng(0)
    eps = 1e-3 * rng.normal(size=6)
    epsc_n = I_DEV @ (2e-4 * rng.normal(size=6))
    A_dt = 1e-8
    s1, C1, e1 = hill_return(eps, epsc_n, MU, K, A_dt, N_EXP, np.ones(4))
    s2, C2, e2, _ = norton_return(eps[None], epsc_n[None], MU, K, A_dt, N_EXP, 0.0)
    assert np.abs(s1 - s2[0]).max() < 1e-12 * np.abs(s2).max()
    assert np.abs(C1 - C2[0]).max() < 1e-12 * np.abs(C2).max()
    assert np.abs(e1 - e2[0]).max() < 1e-15
    h = np.array([1.0, 3.0, 0.4, 2.0])
    s, C, e = hill_return(eps, epsc_n, MU, K, A_dt, N_EXP, h)
    H = np.einsum("k,kij->ij", h, HILL_PROJECTORS)
    sd = I_DEV @ s
    q = math.sqrt(1.5 * sd @ H @ sd)
    de = e - epsc_n
    assert 3.0 * MU * np.linalg.norm(de) > 0.1 * np.linalg.norm(sd)    # the creep step matters
    # backward Euler: the increment is dt A q^(n-1) 3/2 H s at the end-of-step stress, isochoric
    assert np.abs(de - A_dt * q ** (N_EXP - 1.0) * 1.5 * H @ sd).max() < 1e-12 * np.abs(de).max()
    assert abs(de[:3].sum()) < 1e-18
    d = 1e-9
    num = np.column_stack([(hill_return(eps + d * ej, epsc_n, MU, K, A_dt, N_EXP, h)[0]
                            - hill_return(eps - d * ej, epsc_n, MU, K, A_dt, N_EXP, h)[0]) / (2 * d)
                           for ej in np.eye(6)])
    assert np.abs(C - num).max() < 1e-6 * np.abs(C).max()
    assert np.allclose(C, C.T, rtol=0, atol=1e-9 * np.abs(C).max())


def test_isotropic_hill_is_the_rotation_average_of_the_weights():
    """Averaging the Hill tensor H = sum h_k P_k over rotations about z gives the weights of
    isotropic_hill (the in-plane normal and shear modes become their mean)."""
    from fem.rve.backus import mandel_to_voigt, voigt_to_mandel
    from fem.rve.ply import isotropise
    h = np.array([1.0, 3.0, 0.5, 2.0])
    H = np.einsum("k,kij->ij", h, HILL_PROJECTORS)
    # isotropise works on Voigt stiffness; a Mandel matrix maps to it and back exactly
    Hi = voigt_to_mandel(isotropise(mandel_to_voigt(H)))
    hi = isotropic_hill(h)
    assert np.abs(Hi - np.einsum("k,kij->ij", hi, HILL_PROJECTORS)).max() < 1e-12


def _state(active, N=30, seed=5):
    """Random deformation gradients, previous creep stretches and pressures (tests/unit/test_laws.py)."""
    return _creep_state(active, N, seed)


@pytest.mark.parametrize("active", [AXI, FULL], ids=["axisymmetric", "3d"])
def test_kernel_hill_with_unit_weights_is_the_norton_kernel(active):
    F, Cn, p = _state(active)
    N = len(F)
    dt_A = 3e-9
    out = []
    for mat in (LiCreep(), _hill_mat(1.0, 1.0)):
        k = CreepPoints(N, active)
        k.run(mat, F, Cn, np.zeros(N), dt_A, MODE_TANGENT, p)
        out.append([a.copy() for a in (k.P, k.A, k.dp, k.vm, k.q_tr, k.commit())])
    assert np.all(out[0][2] > 0.0)
    for a, b in zip(*out):
        assert np.abs(a - b).max() <= 1e-10 * max(np.abs(a).max(), 1e-30)


@pytest.mark.parametrize("ratios", [(1.0, 1.0), (0.3, 2.5)], ids=["one_modulus", "modal_moduli"])
@pytest.mark.parametrize("active", [AXI, FULL], ids=["axisymmetric", "3d"])
def test_kernel_hill_tangent_matches_central_differences(active, ratios):
    """d(s F^-T + p cof F)/dF of the Hill path against central differences, to 1e-6 relative, the
    turn of the current axis n = F^-T a / |F^-T a| (the layers' normal) with F included."""
    F, Cn, p = _state(active)
    N = len(F)
    axis = (0.0, 1.0, 0.0) if active == AXI else (0.0, 0.0, 1.0)
    mat, dt_A, dp0 = _hill_mat(4.0, 0.3, *ratios), 3e-9, np.zeros(N)
    k = CreepPoints(N, active, axis=axis)
    k.run(mat, F, Cn, dp0, dt_A, MODE_TANGENT, p)
    A = k.A.copy()
    assert np.mean(3.0 * mat.shear_modulus_MPa * k.dp > 0.05 * k.q_tr) > 0.9   # the return matters (nearly) everywhere

    def stress(Fx):
        k.run(mat, Fx, Cn, dp0, dt_A, MODE_STRESS)
        return k.P + p[:, None] * k.C

    h, err = 1e-7, 0.0
    for b, (i, j) in enumerate(active):
        Fp, Fm = F.copy(), F.copy()
        Fp[:, i, j] += h
        Fm[:, i, j] -= h
        err = max(err, np.abs((stress(Fp) - stress(Fm)) / (2 * h) - A[:, :, b]).max() / np.abs(A).max())
    assert err < 1e-6, err


def test_kernel_hill_is_objective():
    """A rigid rotation R after F rotates the Kirchhoff deviator: s(R F) = R s(F) R^T (the axis
    turns with the material)."""
    F, Cn, _ = _state(FULL, N=10)
    N = len(F)
    theta = 0.7
    R = np.array([[1.0, 0, 0], [0, math.cos(theta), -math.sin(theta)], [0, math.sin(theta), math.cos(theta)]])
    mat = _hill_mat(4.0, 0.3)
    k = CreepPoints(N, FULL)
    k.run(mat, F, Cn, np.zeros(N), 3e-9, MODE_STRESS)
    s0, dp0 = k.S.copy(), k.dp.copy()
    k.run(mat, np.einsum("ij,njk->nik", R, F), Cn, np.zeros(N), 3e-9, MODE_STRESS)
    assert np.abs(k.S - np.einsum("ij,njk,lk->nil", R, s0, R)).max() < 1e-10 * np.abs(s0).max()
    assert np.abs(k.dp - dp0).max() < 1e-12 * dp0.max()


def test_kernel_hill_axis_is_the_layers_normal():
    """The branch's axis is the normal of the ply's layers, n = F^-T a / |F^-T a| (as the skeleton's,
    fem/physics/laws.py PlyLaw): a simple shear of the layers, F = I + g e_x e_z (a = e_z), leaves it
    e_z, while the material line F a tilts by g. Without creep and with modal moduli (0.3, 2.5) the
    kernel's deviator is mu sum_k r_k P_k(e_z) dev log(b_bar) to 1e-10; about the tilted line it is
    off by several percent."""
    N, g = 2, 0.05
    F = np.broadcast_to(np.eye(3), (N, 3, 3)).copy()
    F[:, 0, 2] = g
    F[1, 2, 2] = 0.99   # and compressed through the thickness
    Cn = np.broadcast_to(np.eye(3), (N, 3, 3)).copy()
    mat = _hill_mat(4.0, 0.3, 0.3, 2.5)
    mu = mat.shear_modulus_MPa
    k = CreepPoints(N, FULL, axis=(0.0, 0.0, 1.0))
    k.run(mat, F, Cn, np.zeros(N), 0.0, MODE_STRESS)
    s2 = math.sqrt(2.0)
    mu4 = mu * np.array([1.0, 0.3, 0.3, 2.5])
    for i in range(N):
        J = np.linalg.det(F[i])
        w, V = np.linalg.eigh(J ** (-2.0 / 3.0) * F[i] @ F[i].T)
        L = V @ np.diag(np.log(w)) @ V.T
        LM = I_DEV @ np.array([L[0, 0], L[1, 1], L[2, 2], s2 * L[1, 2], s2 * L[0, 2], s2 * L[0, 1]])
        ref = np.einsum("k,kij,j->i", mu4, HILL_PROJECTORS, LM)
        S = k.P[i].reshape(3, 3) @ F[i].T
        SM = np.array([S[0, 0], S[1, 1], S[2, 2], s2 * S[1, 2], s2 * S[0, 2], s2 * S[0, 1]])
        assert np.abs(SM - ref).max() < 1e-10 * np.abs(ref).max()


@pytest.mark.parametrize("ratios", [(1.0, 1.0), (0.3, 2.5)], ids=["one_modulus", "modal_moduli"])
def test_kernel_hill_matches_the_small_strain_point_return(ratios):
    """At strains ~1e-4 (Cn = I) the finite-strain kernel and the fit's small-strain return agree on
    the deviatoric stress to O(strain): 1e-3 relative; the two share no code."""
    rng = np.random.default_rng(2)
    N = 12
    E = 1e-4 * rng.standard_normal((N, 3, 3))
    E = 0.5 * (E + E.transpose(0, 2, 1))
    F = np.eye(3) + E
    Cn = np.broadcast_to(np.eye(3), (N, 3, 3)).copy()
    mat = _hill_mat(4.0, 0.3, *ratios)
    mu, n = mat.shear_modulus_MPa, mat.creep_n
    mu4 = mu * np.array([1.0, ratios[0], ratios[0], ratios[1]])
    dt_A = 3e-2
    k = CreepPoints(N, FULL)
    k.run(mat, F, Cn, np.zeros(N), dt_A, MODE_STRESS)
    assert np.mean(3.0 * mu * k.dp > 0.2 * k.q_tr) > 0.9   # q_out = q + 3 mu dp: creep took > 20 % of it
    h4 = np.array([1.0, 4.0, 4.0, 0.3])
    s2 = math.sqrt(2.0)
    for i in range(N):
        e = E[i]
        eM = np.array([e[0, 0], e[1, 1], e[2, 2], s2 * e[1, 2], s2 * e[0, 2], s2 * e[0, 1]])
        s, _, _ = hill_return(eM, np.zeros(6), mu4, K, dt_A, n, h4)
        sd = I_DEV @ s
        S = k.P[i].reshape(3, 3) @ F[i].T    # the Kirchhoff deviator s = (s F^-T) F^T
        SM = np.array([S[0, 0], S[1, 1], S[2, 2], s2 * S[1, 2], s2 * S[0, 2], s2 * S[0, 1]])
        assert np.abs(SM - sd).max() < 1e-3 * np.abs(sd).max()


def test_ply_material_takes_the_hill_path_only_with_weights():
    base = dict(youngs_modulus_MPa=5000.0, poisson_ratio=0.3)
    assert not PlyViscoplastic(**base).is_hill
    m = PlyViscoplastic(**base, hill_inplane=3.0)
    assert m.is_hill and m.hill_weights.tolist() == [1.0, 3.0, 1.0]


def test_point_return_with_modal_moduli():
    """Branch elasticity with one shear modulus per mode (same eigen-projectors): the converged point
    obeys s_k = 2 mu_k (e_k - epsc_k) and the flow rule, and the tangent matches central differences."""
    rng = np.random.default_rng(4)
    eps = 1e-3 * rng.normal(size=6)
    epsc_n = I_DEV @ (2e-4 * rng.normal(size=6))
    mu_k = np.array([3000.0, 800.0, 5000.0, 1500.0])
    h = np.array([1.0, 3.0, 0.4, 2.0])
    A_dt = 1e-8
    s, C, e = hill_return(eps, epsc_n, mu_k, K, A_dt, N_EXP, h)
    sd = I_DEV @ s
    for k in range(4):
        P = HILL_PROJECTORS[k]
        assert np.abs(P @ sd - 2.0 * mu_k[k] * P @ (eps - e)).max() < 1e-12 * np.abs(sd).max()
    H = np.einsum("k,kij->ij", h, HILL_PROJECTORS)
    q = math.sqrt(1.5 * sd @ H @ sd)
    de = e - epsc_n
    assert np.abs(de - A_dt * q ** (N_EXP - 1.0) * 1.5 * H @ sd).max() < 1e-12 * np.abs(de).max()
    d = 1e-9
    num = np.column_stack([(hill_return(eps + d * ej, epsc_n, mu_k, K, A_dt, N_EXP, h)[0]
                            - hill_return(eps - d * ej, epsc_n, mu_k, K, A_dt, N_EXP, h)[0]) / (2 * d)
                           for ej in np.eye(6)])
    assert np.abs(C - num).max() < 1e-6 * np.abs(C).max()


@pytest.mark.parametrize("ratios", [(1.0, 1.0), (0.3, 2.5)], ids=["one_modulus", "modal_moduli"])
def test_kernel_hill_commit_keeps_the_stress(ratios):
    """The committed state Cc^-1 (from mu dev log be_e, not from s, when the modes' moduli differ) gives
    back the same stress when re-evaluated without creep at the same F."""
    F, Cn, _ = _state(FULL, N=15)
    N = len(F)
    mat = _hill_mat(4.0, 0.3, *ratios)
    k = CreepPoints(N, FULL)
    k.run(mat, F, Cn, np.zeros(N), 3e-9, MODE_STRESS)
    P0 = k.P.copy()
    assert k.dp.max() > 0.0
    Cnew = k.commit().copy()
    k.run(mat, F, Cnew, np.zeros(N), 0.0, MODE_STRESS)
    assert np.abs(k.P - P0).max() < 1e-9 * np.abs(P0).max()
