"""fem/physics/laws.py: the pointwise creep return map, the consistent tangent of the Li creep law
(finite differences), and the laws of the composite phases (tow against its 6x6 stiffness, gel and
pore laws against closed forms). Units: MPa, s."""
import dolfinx_solver  # noqa: F401
import numpy as np
import pytest
import ufl
from dolfinx import fem, mesh as dmesh
from mpi4py import MPI
from scipy.optimize import brentq

from fem.physics.laws import CreepLaw, GelLaw, LawConstants, SoftVoidLaw, TowLaw, solve_creep_increment
from fem.physics.materials import GelNeoHookean, LiCreep, SoftVoid, TowElastic


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
# o = q_tr - 3 mu dp - sigma_y. The UFL law differentiates dp_ufl = dp* - g(dp*)/g'(dp*) to exactly that.
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


@pytest.fixture(scope="module")
def creep_tangent_problem():
    """The Li creep law on a one-cube mesh (6 linear tets, constant F per cell), with a previous
    creep stretch, a threshold stress, an explicit part of the increment and a fixed pressure:
    the residual R(u) = int P(F(u)) : grad v dx with dp* re-solved pointwise for every u, its
    consistent Jacobian, and the Jacobian of the same stress with dp frozen at dp* (wrong)."""
    msh = dmesh.create_box(MPI.COMM_SELF, [[0, 0, 0], [1, 1, 1]], [1, 1, 1], dmesh.CellType.tetrahedron)
    V = fem.functionspace(msh, ("Lagrange", 1, (3,)))
    Q = fem.functionspace(msh, ("DG", 0))
    T = fem.functionspace(msh, ("DG", 0, (3, 3)))
    rng = np.random.default_rng(3)
    u = fem.Function(V)
    G = np.array([[-2e-3, 1e-3, 0.0], [0.5e-3, 1e-3, 0.0], [0.0, 0.3e-3, 0.8e-3]])   # strain ~ 2e-3
    u.interpolate(lambda x: G @ x)
    u.x.array[:] += 3e-4 * rng.standard_normal(u.x.array.size)   # a different stress in every cell
    Cc_inv_n = fem.Function(T)            # an isochoric previous creep stretch (symmetric, det 1)
    B = np.eye(3) + np.array([[1e-3, 2e-4, 0.0], [2e-4, -4e-4, 1e-4], [0.0, 1e-4, -6e-4]])
    Cc_inv_n.x.array[:] = np.tile((B / np.linalg.det(B) ** (1 / 3)).ravel(), Q.dofmap.index_map.size_local)
    dp, dp0 = fem.Function(Q), fem.Function(Q)
    dp0.x.array[:] = FD_DP0
    c = LawConstants(msh, FD_MAT)
    F = ufl.Identity(3) + ufl.grad(u)
    p = fem.Constant(msh, -3.0)
    law = CreepLaw(c, F, Cc_inv_n, dp, fem.Constant(msh, FD_DT_A), p, dp0)
    v = ufl.TestFunction(V)
    dx = ufl.dx(metadata={"quadrature_degree": 1})
    R = ufl.inner(law.P, ufl.grad(v)) * dx
    s_frozen = law.s_tr * (1.0 - 3.0 * law.mubar * dp / law.q_tr)
    P_frozen = (s_frozen + law.J * p * ufl.Identity(3)) * ufl.inv(F).T
    forms = {"R": fem.form(R), "J": fem.form(ufl.derivative(R, u)),
             "J_frozen": fem.form(ufl.derivative(ufl.inner(P_frozen, ufl.grad(v)) * dx, u))}
    q_expr = fem.Expression(law.q_tr, np.array([[0.25, 0.25, 0.25]]))
    cells = np.arange(msh.topology.index_map(3).size_local, dtype=np.int32)

    def return_map():
        q = q_expr.eval(msh, cells).ravel()
        dp.x.array[:] = solve_creep_increment(q, np.full_like(q, FD_MAT.shear_modulus_MPa), FD_DT_A,
                                              FD_MAT.creep_n, FD_MAT.threshold_stress_MPa, dp0.x.array)
        return q

    def residual(x):
        u.x.array[:] = x
        return_map()
        return fem.assemble_vector(forms["R"]).array.copy()

    x0 = u.x.array.copy()
    q = return_map()
    assert np.ptp(q) > 0.01 * q.min() and np.all(3.0 * FD_MAT.shear_modulus_MPa * dp.x.array > 0.1 * q)
    K = {k: fem.assemble_matrix(forms[k]).to_scipy() for k in ("J", "J_frozen")}
    w = 1e-3 * rng.standard_normal(x0.size)
    h = 1e-4
    fd = (residual(x0 + h * w) - residual(x0 - h * w)) / (2.0 * h)
    residual(x0)
    return fd, {k: A @ w for k, A in K.items()}


def test_creep_consistent_tangent_matches_central_differences(creep_tangent_problem):
    """J v of the assembled consistent Jacobian equals the central difference (R(u + h v) -
    R(u - h v)) / 2h of the residual, dp* re-solved by the return map at u +- h v: < 1e-5 relative."""
    fd, Jv = creep_tangent_problem
    err = np.linalg.norm(Jv["J"] - fd) / np.linalg.norm(fd)
    assert err < 1e-5, err


def test_frozen_creep_increment_tangent_fails_the_check(creep_tangent_problem):
    """The check can fail: the tangent of the stress with dp frozen at dp* (the dp correction
    dropped) misses d(dp)/dF and is far off the central difference."""
    fd, Jv = creep_tangent_problem
    err = np.linalg.norm(Jv["J_frozen"] - fd) / np.linalg.norm(fd)
    assert err > 1e-2, err


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
