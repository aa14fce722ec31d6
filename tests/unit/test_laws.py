"""fem/physics/creep_point.py: the pointwise creep return map, the tensor log, the consistent
tangent of the Li creep law (finite differences); fem/physics/laws.py: the laws of the composite phases (tow against its 6x6 stiffness, gel and
pore laws against closed forms). Units: MPa, s."""
import dolfinx_solver  # noqa: F401
import numpy as np
import pytest
import ufl
from dolfinx import fem, mesh as dmesh
from mpi4py import MPI
from scipy.optimize import brentq

from fem.physics.creep_point import MODE_STRESS, MODE_TANGENT, CreepPoints, solve_creep_increment
from fem.physics.laws import GelLaw, PlyLaw, SoftVoidLaw, TowLaw, spencer_stress
from fem.physics.materials import GelNeoHookean, LiCreep, PlyElastic, SoftVoid, TowElastic


# ---------------------------------------------------------------------- Li creep: return map
def test_creep_increment_matches_bracketed_root():
    rng = np.random.default_rng(0)
    q = rng.uniform(0.0, 40.0, 200)
    mub = rng.uniform(2000.0, 3000.0, 200)
    for dtA, n, sy in [(1e-6, 6.56, 0.0), (1e-2, 6.56, 0.0), (10.0, 3.0, 0.8), (0.0, 6.56, 0.0)]:
        dp = solve_creep_increment(q, mub, dtA, n, sy)
        for qi, mi, di in zip(q, mub, dp):
            if qi <= sy or dtA == 0.0:
                assert di == 0.0
                continue
            g = lambda x: x - dtA * max(qi - 3 * mi * x - sy, 0.0) ** n  # noqa: E731
            ref = brentq(g, 0.0, (qi - sy) / (3 * mi), xtol=1e-300, rtol=1e-15)
            assert di == pytest.approx(ref, rel=1e-10, abs=1e-300)
            assert 0.0 <= di <= qi / (3 * mi)


# ---------------------------------------------------------------------- Li creep: consistent tangent
# dp solves g(dp) = dp - dp0 - dt_A <q_tr - 3 mu dp - sigma_y>^n = 0, so by the implicit-function
# theorem d(dp)/d(q_tr) = dt_A n o^(n-1) / (1 + 3 mu dt_A n o^(n-1)) = 1 / (3 mu + 1/(dt_A n o^(n-1))),
# o = q_tr - 3 mu dp - sigma_y: the kernel's tangent uses exactly that.
FD_MAT = LiCreep(threshold_stress_MPa=0.5)
FD_DT_A, FD_DP0 = 3e-9, 1e-5      # theta dt A_eff (MPa^-n) and explicit part: 3 mu dp ~ q_tr / 2


def _ddp_dq(q, mu, dt_A, n, sy, dp):
    o = q - 3.0 * mu * dp - sy
    return 1.0 / (3.0 * mu + 1.0 / (dt_A * n * o ** (n - 1.0)))


def test_creep_increment_derivative_is_the_implicit_function_derivative():
    """Central differences of the NumPy return map in q_tr agree with the implicit-function
    derivative to 1e-5 relative (the rate derivative without the return, dt_A n o^(n-1), is off by
    95 % or more here)."""
    mu, n, sy = FD_MAT.shear_modulus_MPa, FD_MAT.creep_n, FD_MAT.threshold_stress_MPa
    q = np.array([6.0, 10.0, 15.0, 30.0])
    mub = np.full_like(q, mu)
    dp0 = np.full_like(q, FD_DP0)
    dp = solve_creep_increment(q, mub, FD_DT_A, n, sy, dp0)
    assert np.all(3.0 * mu * (dp - dp0) > 0.05 * q)      # the return matters at every point
    h = 1e-4 * q
    fd = (solve_creep_increment(q + h, mub, FD_DT_A, n, sy, dp0)
          - solve_creep_increment(q - h, mub, FD_DT_A, n, sy, dp0)) / (2.0 * h)
    exact = _ddp_dq(q, mu, FD_DT_A, n, sy, dp)
    assert np.max(np.abs(fd - exact) / exact) < 1e-5, (fd, exact)
    o = q - 3.0 * mu * dp - sy
    wrong = FD_DT_A * n * o ** (n - 1.0)          # the rate derivative without the return
    assert np.min(np.abs(fd - wrong) / np.abs(fd)) > 1e-2


AXI = ((0, 0), (0, 1), (1, 0), (1, 1), (2, 2))
FULL = tuple((i, j) for i in range(3) for j in range(3))


def _creep_state(active, N=40, seed=3):
    """Random deformation gradients (strain ~ 2e-3, a different stress at every point) and an
    isochoric previous creep stretch, block-diagonal for the axisymmetric components."""
    rng = np.random.default_rng(seed)
    F = np.eye(3) + 2e-3 * rng.standard_normal((N, 3, 3))
    B = np.eye(3) + 1e-3 * rng.standard_normal((N, 3, 3))
    B = 0.5 * (B + B.transpose(0, 2, 1))
    if active == AXI:
        for A in (F, B):
            A[:, 0, 2] = A[:, 2, 0] = A[:, 1, 2] = A[:, 2, 1] = 0.0
    B /= np.cbrt(np.linalg.det(B))[:, None, None]
    return F, B, rng.uniform(-5.0, 5.0, N)


def _stress(k, F, Cn, dp0, p):
    k.run(FD_MAT, F, Cn, dp0, FD_DT_A, MODE_STRESS)
    return k.P + p[:, None] * k.C        # s F^-T + p cof F at the active components


@pytest.mark.parametrize("active", [AXI, FULL], ids=["axisymmetric", "3d"])
def test_creep_consistent_tangent_matches_central_differences(active):
    """The kernel's tangent d(s F^-T + p cof F)/dF equals central differences of its stress, dp
    re-solved by the return map at F +- h E, to 1e-6 relative; the return matters at every point
    (threshold stress, explicit part, previous creep stretch, pressure)."""
    F, Cn, p = _creep_state(active)
    N = F.shape[0]
    dp0 = np.full(N, FD_DP0)
    k = CreepPoints(N, active)
    k.run(FD_MAT, F, Cn, dp0, FD_DT_A, MODE_TANGENT, p)
    A = k.A.copy()
    assert np.all(3.0 * FD_MAT.shear_modulus_MPa * (k.dp - dp0) > 0.05 * k.q_tr)
    h, err = 1e-7, 0.0
    for b, (i, j) in enumerate(active):
        Fp, Fm = F.copy(), F.copy()
        Fp[:, i, j] += h
        Fm[:, i, j] -= h
        fd = (_stress(k, Fp, Cn, dp0, p) - _stress(k, Fm, Cn, dp0, p)) / (2.0 * h)
        err = max(err, np.abs(fd - A[:, :, b]).max() / np.abs(A).max())
    assert err < 1e-6, err


@pytest.mark.parametrize("active", [AXI, FULL], ids=["axisymmetric", "3d"])
def test_threaded_kernel_equals_serial_kernel(active, monkeypatch):
    """The kernel on 2 numba threads (contiguous chunks of points) gives the serial numbers bit for
    bit, stress, tangent, state and warm start alike, and really runs threaded (2 threads; also
    where the compiled serial kernel would keep these 3001 points serial)."""
    import numba
    from fem.physics import creep_point
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("numba has one thread here")
    monkeypatch.setattr(creep_point, "PARALLEL_AOT_MIN_POINTS", creep_point.PARALLEL_MIN_POINTS)
    F, Cn, p = _creep_state(active, N=3001, seed=11)
    N = F.shape[0]
    dp0 = np.full(N, FD_DP0)
    out = []
    for threads in (1, 2):
        k = CreepPoints(N, active, threads)
        assert k.threads == threads
        for mode in (MODE_TANGENT, MODE_STRESS):
            k.run(FD_MAT, F, Cn, dp0, FD_DT_A, mode, p)
        assert k.ran_threaded == (threads > 1)
        out.append([a.copy() for a in (k.P, k.C, k.A, k.S, k.Fbi, k.dp, k.q_tr, k.vm, k.y_last, k.commit())])
    for a, b in zip(*out):
        assert np.array_equal(a, b)


def test_kernel_threads_from_the_environment(monkeypatch):
    """FEM_KERNEL_THREADS sets the thread count (a sweep sets 1); otherwise the cores are shared
    among the MPI ranks; a bad value is refused in one line."""
    from fem.physics.creep_point import kernel_threads
    monkeypatch.setenv("FEM_KERNEL_THREADS", "1")
    assert kernel_threads(1) == 1
    monkeypatch.setenv("FEM_KERNEL_THREADS", "two")
    with pytest.raises(ValueError, match="FEM_KERNEL_THREADS"):
        kernel_threads(1)
    monkeypatch.delenv("FEM_KERNEL_THREADS")
    import os
    cores = len(os.sched_getaffinity(0))
    assert kernel_threads(1) == cores and kernel_threads(cores) == 1


def test_frozen_creep_increment_tangent_fails_the_check():
    """The check can fail: the tangent with the creep increment frozen (dt_A = 0 in the tangent,
    the return map's d(dp)/dF dropped) is far off the central differences."""
    F, Cn, p = _creep_state(FULL)
    N = F.shape[0]
    dp0 = np.full(N, FD_DP0)
    k = CreepPoints(N, FULL)
    k.run(FD_MAT, F, Cn, dp0, FD_DT_A, MODE_TANGENT, p)
    dp = k.dp.copy()
    # frozen: same stress, but the tangent of s_tr (1 - 3 mu dp / q_tr) at fixed dp
    kf = CreepPoints(N, FULL)
    kf.run(FD_MAT, F, Cn, dp, 0.0, MODE_TANGENT, p)     # dt_A = 0: dp = dp0 = the converged dp, held
    assert np.allclose(kf.P, k.P, rtol=1e-10, atol=1e-12)
    assert np.abs(kf.A - k.A).max() / np.abs(k.A).max() > 1e-2


@pytest.mark.parametrize("active", [AXI, FULL], ids=["closed-form", "series"])
def test_log_and_state_update_match_scipy(active):
    """Trial stress from the kernel's tensor log (closed form for the axisymmetric block, series in
    3D) equals mu dev logm(be_tr) of scipy to 1e-9 relative, at |be_tr - I| up to 0.5; the committed
    state is Fbar^-1 expm(s/mu) Fbar^-T with det 1."""
    from scipy.linalg import expm, logm
    rng = np.random.default_rng(5)
    N = 12
    F = np.eye(3) + 0.15 * rng.standard_normal((N, 3, 3))
    if active == AXI:
        F[:, 0, 2] = F[:, 2, 0] = F[:, 1, 2] = F[:, 2, 1] = 0.0
    F[np.linalg.det(F) < 0.3] = np.eye(3)
    Cn = np.repeat(np.eye(3)[None], N, 0)
    mu = FD_MAT.shear_modulus_MPa
    k = CreepPoints(N, active)
    k.run(FD_MAT, F, Cn, np.zeros(N), 1e-12, MODE_STRESS)
    k.commit()
    for i in range(N):
        Fb = F[i] / np.linalg.det(F[i]) ** (1 / 3)
        be = Fb @ Fb.T
        if np.linalg.norm(be - np.eye(3)) > 0.5:
            continue
        L = logm(be).real
        s_tr = mu * (L - np.trace(L) / 3 * np.eye(3))
        q = np.sqrt(1.5 * np.sum(s_tr ** 2))
        assert k.q_tr[i] == pytest.approx(q, rel=1e-9)
        s = s_tr * (1 - 3 * mu * k.dp[i] / q)
        Fi = np.linalg.inv(Fb)
        Cnew = Fi @ expm(s / mu) @ Fi.T
        Cnew /= np.linalg.det(Cnew) ** (1 / 3)
        assert np.allclose(k.Cnew[i], Cnew, rtol=1e-9, atol=1e-12)
        P = s @ np.linalg.inv(F[i]).T
        got = np.zeros((3, 3))
        for a, (x, y) in enumerate(active):
            got[x, y] = k.P[i, a]
        assert np.allclose(got, P, rtol=1e-9, atol=1e-9 * np.abs(P).max())


# ---------------------------------------------------------------------- composite phases
VOIGT = [(0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1)]


@pytest.fixture(scope="module")
def one_cell():
    return dmesh.create_box(MPI.COMM_SELF, [[0, 0, 0], [1, 1, 1]], [1, 1, 1], dmesh.CellType.tetrahedron)


def _eval(msh, expr):
    pts = np.array([[0.25, 0.25, 0.25]])
    return fem.Expression(expr, pts).eval(msh, np.array([0], dtype=np.int32)).reshape(expr.ufl_shape)


def _rotation(a):
    a = np.asarray(a, float) / np.linalg.norm(a)
    t = np.cross(a, [0.3, 0.9, 0.1])
    t /= np.linalg.norm(t)
    return np.array([a, t, np.cross(a, t)])   # rows: local axes 1 (fibre), 2, 3 in global coordinates


@pytest.mark.parametrize("a", [(1.0, 0.0, 0.0), (0.3, -0.5, 0.8)])
def test_tow_law_matches_6x6_stiffness(one_cell, a):
    """Small strain: sigma = C : eps, with C the 6x6 stiffness rotated to the fibre direction a."""
    mat = TowElastic()
    C6 = mat.stiffness()
    Q = _rotation(a)
    rng = np.random.default_rng(1)
    for _ in range(3):
        e_loc = rng.normal(size=6) * 1e-7       # local strain, engineering shear
        eps_loc = np.zeros((3, 3))
        for k, (i, j) in enumerate(VOIGT):
            eps_loc[i, j] = eps_loc[j, i] = e_loc[k] if i == j else 0.5 * e_loc[k]
        s_loc = C6 @ e_loc
        sig_loc = np.zeros((3, 3))
        for k, (i, j) in enumerate(VOIGT):
            sig_loc[i, j] = sig_loc[j, i] = s_loc[k]
        eps = Q.T @ eps_loc @ Q
        F = ufl.as_matrix((np.eye(3) + eps).tolist())
        law = TowLaw(one_cell, mat, F, ufl.as_vector(list(Q[0])))
        sig = _eval(one_cell, law.sigma)
        ref = Q.T @ sig_loc @ Q
        assert np.abs(sig - ref).max() <= 1e-6 * np.abs(ref).max()
        # fibre stress = a . sigma a
        assert abs(_eval(one_cell, law.fibre_stress) - sig_loc[0, 0]) <= 1e-6 * np.abs(ref).max()


def test_tow_engineering_constants(one_cell):
    """Uniaxial stress along and across the fibre gives E_L and E_T (compliance of the 6x6)."""
    mat = TowElastic()
    S = np.linalg.inv(mat.stiffness())
    assert S[0, 0] == pytest.approx(1 / mat.E_L_MPa, rel=1e-12)
    assert S[1, 1] == pytest.approx(1 / mat.E_T_MPa, rel=1e-12)
    assert S[5, 5] == pytest.approx(1 / mat.G_LT_MPa, rel=1e-12)
    assert -S[0, 1] / S[0, 0] == pytest.approx(mat.nu_LT, rel=1e-12)
    # a pure rotation gives no stress (frame indifference of the St Venant-Kirchhoff form)
    c, s = np.cos(0.7), np.sin(0.7)
    Rm = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1.0]])
    law = TowLaw(one_cell, mat, ufl.as_matrix(Rm.tolist()), ufl.as_vector([1.0, 0.0, 0.0]))
    assert np.abs(_eval(one_cell, law.sigma)).max() < 1e-9


# the skeleton of the session-10 literature-Li ply fit (plyfit_5471526a358855b2.json, a locked-cell table,
# removed in session 11; C12 raised from 0):
# stiff in plane and through the thickness, soft in transverse shear once its Li has crept
PLY = PlyElastic(C11_MPa=29224.0, C12_MPa=1000.0, C13_MPa=4404.0, C33_MPa=4714.0, C44_MPa=4.0)
Z = ufl.as_vector([0.0, 0.0, 1.0])


def test_ply_law_small_strain_and_rotation(one_cell):
    """The ply's layer strain (Green's, its normal component from the normal F^-T a) has the 6x6 stiffness of the
    Green-strain form at small strain (1e-6 relative at strains of 1e-8; the forms differ at second order, by
    about 20 eps relative for this anisotropy), and a rotation gives no stress."""
    rng = np.random.default_rng(3)
    for _ in range(3):
        e = rng.normal(size=(3, 3)) * 1e-8
        F = ufl.as_matrix((np.eye(3) + 0.5 * (e + e.T)).tolist())
        ref = _eval(one_cell, TowLaw(one_cell, PLY, F, Z).sigma)
        assert np.abs(_eval(one_cell, PlyLaw(one_cell, PLY, F, Z).sigma) - ref).max() <= 1e-6 * np.abs(ref).max()
    c, s = np.cos(0.4), np.sin(0.4)
    Rm = np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
    assert np.abs(_eval(one_cell, PlyLaw(one_cell, PLY, ufl.as_matrix(Rm.tolist()), Z).sigma)).max() < 1e-9


def test_ply_layers_do_not_kink_under_through_thickness_compression(one_cell):
    """A ply pressed face-on to sigma_zz ~ -37 MPa, far above its transverse shear modulus C44 = 4 MPa
    (its Li relaxed): the incremental stiffness of a simple shear of its layers, dP_xz/dF_xz, stays
    positive with the axis as the layer normal (PlyLaw), while the Green-strain form about a material
    line (TowLaw, right for a fibre) gives C44 + S_zz < 0: it kinks like a fibre bundle (Rosen), the
    element-row zigzag the 30 MPa homogenised disc showed (docs/verification.md)."""
    lam = 1.0 - 0.008

    def shear_stiffness(law_cls, h=1e-6):
        P = []
        for g in (h, -h):
            F = ufl.as_matrix([[1.0, 0.0, g], [0.0, 1.0, 0.0], [0.0, 0.0, lam]])
            P.append(_eval(one_cell, law_cls(one_cell, PLY, F, Z).P)[0, 2])
        return (P[0] - P[1]) / (2 * h)
    F0 = ufl.as_matrix([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, lam]])
    szz = _eval(one_cell, PlyLaw(one_cell, PLY, F0, Z).sigma)[2, 2]
    assert -40.0 < szz < -30.0
    layer, line = shear_stiffness(PlyLaw), shear_stiffness(TowLaw)
    assert layer > PLY.C44_MPa                          # stable: the prestress does not help the shear
    assert line == pytest.approx(PLY.C44_MPa + szz * lam, rel=0.05) and line < 0.0


def test_ply_layers_do_not_slide_under_in_plane_tension(one_cell):
    """A ply stretched in plane (S_xx = S_yy ~ +40 MPa, the cloth of the spreading disc) and pressed
    face-on, sheared along its layers (u_x = gamma z) and tilted (u_z = beta x). The layer strain keeps
    both incremental shear stiffnesses above C44: a sliding shear changes neither the thickness nor the
    length of an in-plane line. The session-10 form, (I - C^-1)/2 in every component, measured an
    in-plane line as shortened by gamma^2/2 under the sliding shear, so the in-plane tension released
    S_xx gamma^2/2 and the layers slid once S_xx > C44: the sharp interlaminar shear front of the
    30 MPa literature disc (docs/verification.md, session 19). The old form is rebuilt here and must fail."""
    lam, st = 1.0 - 0.008, 1.0 + 0.0025

    def old_layer_P(F):
        Ci = ufl.inv(F.T * F)
        law = TowLaw(one_cell, PLY, ufl.Identity(3), Z)   # only for its Spencer moduli
        c = {k: fem.Constant(one_cell, float(v)) for k, v in law.moduli.items()}
        T = spencer_stress(c, 0.5 * (ufl.Identity(3) - Ci), Z)
        return F * (Ci * T * Ci)

    def stiffness(P_of, i, j, h=1e-6):
        P = []
        for g in (h, -h):
            Fm = np.diag([st, st, lam])
            Fm[i, j] = g
            P.append(_eval(one_cell, P_of(ufl.as_matrix(Fm.tolist())))[i, j])
        return (P[0] - P[1]) / (2 * h)
    new = lambda F: PlyLaw(one_cell, PLY, F, Z).P
    sig = _eval(one_cell, PlyLaw(one_cell, PLY, ufl.as_matrix(np.diag([st, st, lam]).tolist()), Z).sigma)
    assert sig[0, 0] > 30.0 and sig[2, 2] < -10.0
    assert stiffness(new, 0, 2) > PLY.C44_MPa            # sliding u_x = gamma z
    assert stiffness(new, 2, 0) > PLY.C44_MPa            # tilting u_z = beta x
    old = stiffness(old_layer_P, 0, 2)
    assert old < 0.0                                     # the session-10 form softens: C44 - S_xx < 0


def test_gel_and_void_laws(one_cell):
    """Gel: simple shear gives sigma_xy = mu * gamma (neo-Hookean, exact); pressure field passes through.
    Pore: hydrostatic stretch J gives sigma = lambda ln J / J I (compressible neo-Hookean, mu (J^2/3 - 1)/J)."""
    g = GelNeoHookean(shear_modulus_MPa=1.5, bulk_modulus_MPa=100.0)
    gamma = 0.3
    F = ufl.as_matrix([[1.0, gamma, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    p = fem.Constant(one_cell, -2.0)
    law = GelLaw(one_cell, g, F, p)
    sig = _eval(one_cell, law.sigma)
    assert sig[0, 1] == pytest.approx(1.5 * gamma, rel=1e-12)
    assert np.trace(sig) / 3 == pytest.approx(-2.0, rel=1e-12)
    v = SoftVoid(youngs_modulus_MPa=2.0, poisson_ratio=0.3)
    lam = 2.0 * 0.3 / (1.3 * 0.4)
    mu = 2.0 / 2.6
    st = 0.8
    law = SoftVoidLaw(one_cell, v, ufl.as_matrix((st * np.eye(3)).tolist()))
    J = st ** 3
    assert _eval(one_cell, law.sigma)[0, 0] == pytest.approx((mu * (st * st - 1) + lam * np.log(J)) / J, rel=1e-12)


def test_porous_gel_pressure_equation(one_cell):
    """Porous gel (fem/physics/materials.py porous_gel_closure): (1) the default collapse pressure
    makes the initial bulk modulus the Hashin composite-spheres value 4 G (1 - phi) / (3 phi) for an
    incompressible matrix; (2) the closure is C1 at p = 0 and tends to phi in compression; (3) the
    UFL pressure equation of GelLaw vanishes at J = 1 + p/K - c(p) and its volume strain is that."""
    from fem.physics.materials import porous_gel_closure
    G, phi = 1.3, 0.2
    g = GelNeoHookean(shear_modulus_MPa=G, bulk_modulus_MPa=1e12, porosity=phi)
    assert g.initial_bulk_modulus_MPa == pytest.approx(4 * G * (1 - phi) / (3 * phi), rel=1e-9)
    assert GelNeoHookean(porosity=phi, pore_collapse_pressure_MPa=0.7).collapse_pressure_MPa == 0.7
    c = lambda p: porous_gel_closure(np.asarray(p, float), phi, 0.5, np.exp, lambda q, a, b: np.where(q < 0, a, b))
    h = 1e-7
    assert (c(h) - c(-h)) / (2 * h) == pytest.approx(-phi / 0.5, rel=1e-6)   # one slope on both sides
    assert c(-50.0) == pytest.approx(phi, rel=1e-12) and c(0.0) == 0.0 and c(-0.5) > 0.0 > c(0.5)
    g = GelNeoHookean(shear_modulus_MPa=G, bulk_modulus_MPa=200.0, porosity=phi, pore_collapse_pressure_MPa=0.5)
    p_val = -1.7
    J = 1.0 + p_val / 200.0 - float(c(p_val))
    F = ufl.as_matrix((J ** (1 / 3) * np.eye(3)).tolist())
    law = GelLaw(one_cell, g, F, fem.Constant(one_cell, p_val))
    assert abs(float(_eval(one_cell, law.volumetric_residual(law.pressure)))) < 1e-12
    assert float(_eval(one_cell, law.pressure_volume_strain(law.pressure))) == pytest.approx(J - 1.0, rel=1e-12)
    assert float(_eval(one_cell, law.outputs()["pore_closure"])) == pytest.approx(float(c(p_val)) / phi, rel=1e-12)
    # a dense gel keeps the Li law's pressure equation (p/K) and has no pore output
    law = GelLaw(one_cell, GelNeoHookean(bulk_modulus_MPa=200.0), F, fem.Constant(one_cell, p_val))
    assert float(_eval(one_cell, law.pressure_volume_strain(law.pressure))) == pytest.approx(p_val / 200.0, rel=1e-12)
    assert law.outputs() == {}


@pytest.mark.parametrize("active", [AXI, FULL], ids=["axisymmetric", "3d"])
def test_degenerate_deformation_gives_nan_not_an_exception(active):
    """Requirement: an inverted, singular or NaN deformation gradient (a collapsed element during a
    Newton iteration) yields NaN stresses, not an exception, so that the Newton loop sees a
    non-finite residual and cuts the step; the regular point next to them is unaffected."""
    F = np.repeat(np.eye(3)[None], 4, 0)
    F[0, 0, 0] = -0.5           # inverted
    F[1, 2, 2] = 0.0            # singular
    F[2, 0, 1] = np.nan
    F[3] *= 1.001
    k = CreepPoints(4, active)
    k.run(FD_MAT, F, np.repeat(np.eye(3)[None], 4, 0), np.zeros(4), FD_DT_A, MODE_TANGENT, np.zeros(4))
    assert not np.isfinite(k.P[:3]).all(axis=1).any()
    assert np.isfinite(k.P[3]).all() and np.isfinite(k.A[3]).all()


def test_transverse_min_principal_matches_eigenvalues():
    """The tow-crushing measure (TowLaw.transverse_stress_min): the smaller principal value of the
    stress in the plane normal to the (unnormalised) fibre vector n, against numpy's eigenvalues of
    P sigma P restricted to that plane, for random stresses and directions."""
    from fem.physics.laws import transverse_min_principal
    m = dmesh.create_unit_cube(MPI.COMM_SELF, 1, 1, 1, cell_type=dmesh.CellType.tetrahedron)
    rng = np.random.default_rng(5)
    pts = np.array([[0.25, 0.25, 0.25]])
    for _ in range(6):
        S = rng.normal(scale=50.0, size=(3, 3))
        S = 0.5 * (S + S.T)
        n = rng.normal(size=3) * 3.0
        expr = fem.Expression(transverse_min_principal(fem.Constant(m, S), fem.Constant(m, n)), pts)
        got = float(expr.eval(m, np.array([0], dtype=np.int32)).ravel()[0])
        e = n / np.linalg.norm(n)
        basis = np.linalg.svd(np.eye(3) - np.outer(e, e))[0][:, :2]   # two unit vectors normal to n
        want = np.linalg.eigvalsh(basis.T @ S @ basis).min()
        assert abs(got - want) < 1e-10 * max(1.0, abs(want)), (got, want)
