"""Creep of a periodic RVE cell under mixed strain / stress control (issue 18 item 1: the responses
an effective ply law is fitted to). Units: mm, MPa, s. Serial.

Kinematics and boundary conditions: small strain, u = E x + w with the periodic fluctuation w of
fem/rve/periodic.py ("periodic": w periodic in x, y and zero on the z faces), the same cell and the
same P2 displacement as the elastic RVE (fem/rve/solve.py). Each of the six mean strain components
E_j (Voigt order xx yy zz yz xz xy, engineering shear) is either PRESCRIBED (a constant rate) or
FREE with a prescribed mean stress Sigma_j (a constant; 0 for a free surface). The unknowns are the
independent fluctuation dofs y and the free E_f:  u = P y + X_f E_f + X_p E_p(t),  X_j = the dofs of
e_j x. Newton on
    P^T f_int(u) = 0,    X_f^T f_int(u) - V Sigma_f = 0,      f_int = int sigma : eps(v) dV,
where X_j^T f_int = V <sigma>_j (the mean stress), with the Jacobian [P X_f]^T K [P X_f] factorised
by MUMPS (fem/models/linear_solvers.py ProlongedSystem on the bordered prolongation). The stress
target enters as the load vector of a uniform stress (fem/rve/solve.py f_j), which P^T annihilates.

Phases (per quadrature point, the same constants as the elastic RVE and the resolved disc):
* Li (cell tag LI): isotropic elasticity (E, nu) + isochoric Norton creep with threshold,
  pdot = A_eff <q - sigma_y>^n, backward Euler radial return (Simo & Hughes 1998, Box 3.2, with the
  rate form of the flow stress): q solves q - q_tr + 3 mu dt A_eff (q - sigma_y)^n = 0 by Newton from
  the upper bound min(q_tr - sigma_y, ((q_tr - sigma_y) / (3 mu dt A))^(1/n)) (monotone for this
  convex increasing function), s = (q / q_tr) s_tr, and the consistent tangent
  C = K m m + 2 mu (q/q_tr) I_dev + 2 mu (gamma - q/q_tr) N N,  gamma = 1 / (1 + 3 mu dt A n (q - sigma_y)^(n-1)).
* tows: transversely isotropic along the local (crimped) fibre direction (Spencer form of
  fem/physics/laws.py TowLaw at small strain); gel, pores: isotropic (small-strain moduli).
Stress and tangent are quadrature functions (Mandel vectors) filled pointwise in numpy; the weak
form only contracts them: int sigma . eps_M(v), int (C eps_M(du)) . eps_M(v).

Checked in tests/unit/test_rve_creep.py: without creep the mean stress of each unit strain is the
elastic RVE stiffness (fem/rve/solve.py, the UFL path) to 1e-9; a homogeneous Li cell under a
constant uniaxial stress creeps at A sigma^n (exact for backward Euler) after sigma/E.
"""
from __future__ import annotations

import math
import time

import dolfinx_solver  # noqa: F401  (must precede dolfinx / petsc4py)
import basix
import basix.ufl
import numpy as np
import scipy.sparse as sp
import ufl
from dolfinx import fem, la
from dolfinx.fem import petsc as fem_petsc
from petsc4py import PETSc

from fem.models import JIT_OPTIONS
from fem.models.linear_solvers import ProlongedSystem
from fem.rve.backus import isotropic_stiffness, lame, tensor_to_voigt, voigt_to_mandel
from fem.rve.periodic import affine_dofs, prolongation, unit_strain, unit_stress
from fem.rve.solve import _petsc_aij, _vec, tow_moduli
from meshes.common import LI, VOID

SQ2 = math.sqrt(2.0)
M = np.array([1.0, 1.0, 1.0, 0.0, 0.0, 0.0])          # Mandel identity
I_DEV = np.eye(6) - np.outer(M, M) / 3.0


def mandel_of_tensor4(T: np.ndarray) -> np.ndarray:
    """(..., 3, 3, 3, 3) minor-symmetric tensors -> (..., 6, 6) Mandel matrices."""
    return voigt_to_mandel(tensor_to_voigt(T))


def isotropic_mandel(lam: float, mu: float) -> np.ndarray:
    return voigt_to_mandel(isotropic_stiffness(lam, mu))


def tow_mandel(moduli: dict, a: np.ndarray) -> np.ndarray:
    """Mandel stiffness (n, 6, 6) of a transversely isotropic material along unit vectors a (n, 3):
    C = lam d d + mu_T (d d + d d) + alpha (a a d + d a a) + (mu_L - mu_T)(a_i a_k d_jl + a_i a_l d_jk
    + a_j a_l d_ik + a_j a_k d_il) + beta a a a a (the derivative of TowLaw's S with respect to E)."""
    d = np.eye(3)
    A = np.einsum("ni,nj->nij", a, a)
    n = a.shape[0]
    T = np.zeros((n, 3, 3, 3, 3))
    T += moduli["lambda"] * np.einsum("ij,kl->ijkl", d, d)
    T += moduli["mu_T"] * (np.einsum("ik,jl->ijkl", d, d) + np.einsum("il,jk->ijkl", d, d))
    T += moduli["alpha"] * (np.einsum("ij,nkl->nijkl", d, A) + np.einsum("nij,kl->nijkl", A, d))
    T += (moduli["mu_L"] - moduli["mu_T"]) * (np.einsum("nik,jl->nijkl", A, d) + np.einsum("nil,jk->nijkl", A, d)
                                              + np.einsum("njl,ik->nijkl", A, d) + np.einsum("njk,il->nijkl", A, d))
    T += moduli["beta"] * np.einsum("nij,nkl->nijkl", A, A)
    return mandel_of_tensor4(T)


VOID_J_MIN = 0.05   # below this volume ratio the pore's pressure is extended linearly (Newton iterates only:
# it is reached at about -400 MPa with the default pore, far beyond any load here)


def void_pressure(tr, mu, lam):
    """Mean stress of a pore (the resolved disc's neo-Hookean SoftVoidLaw, P = mu (F - F^-T) + lam ln J
    F^-T, under hydrostatic deformation: p = (mu (J^2/3 - 1) + lam ln J) / J) at the volume ratio
    J = 1 + tr of the small-strain cell, and dp/dtr. Small tr: p = (lam + 2 mu / 3) tr, the linear
    pore; J -> 0: p -> -inf, so a pore cannot lose more than its volume. (A linear pore at small strain
    can: K = 8.3 MPa under 30 MPa is tr = -3.6, and the cells' pores then 'closed' 3.6 times their
    volume: docs/verification.md.) Below VOID_J_MIN linear in J (C1)."""
    J = 1.0 + np.asarray(tr, float)
    Jc = np.maximum(J, VOID_J_MIN)
    p = (mu * (Jc ** (2.0 / 3.0) - 1.0) + lam * np.log(Jc)) / Jc
    dp = ((2.0 / 3.0) * mu * Jc ** (-1.0 / 3.0) + lam / Jc) / Jc - p / Jc
    p = np.where(J < VOID_J_MIN, p + dp * (J - VOID_J_MIN), p)
    return p, dp


def norton_return(eps, epsc_n, mu, K, A_dt, n, sy):
    """Backward-Euler Norton return at points: eps, epsc_n (N, 6) Mandel. Returns sigma (N, 6),
    tangent (N, 6, 6), creep strain (N, 6), equivalent creep increment dp (N,)."""
    tr = eps[:, :3].sum(axis=1)
    ee = eps - epsc_n
    e_dev = ee - np.outer(ee[:, :3].sum(axis=1) / 3.0, M)
    s_tr = 2.0 * mu * e_dev
    norm = np.linalg.norm(s_tr, axis=1)
    q_tr = math.sqrt(1.5) * norm
    N_pts = len(eps)
    C = np.broadcast_to(K * np.outer(M, M) + 2.0 * mu * I_DEV, (N_pts, 6, 6)).copy()
    sig = K * np.outer(tr, M) + s_tr
    epsc, dp = epsc_n.copy(), np.zeros(N_pts)
    act = (q_tr > sy * (1.0 + 1e-12) + 1e-14) & (A_dt > 0.0)
    if act.any():
        b = q_tr[act] - sy
        x = np.minimum(b, (b / (3.0 * mu * A_dt)) ** (1.0 / n))   # upper bound of the root x = q - sigma_y
        for _ in range(100):
            g = x + 3.0 * mu * A_dt * x ** n - b
            dg = 1.0 + 3.0 * mu * A_dt * n * x ** (n - 1.0)
            step = g / dg
            x = np.maximum(x - step, 0.0)
            if np.all(np.abs(step) <= 1e-13 * np.maximum(b, 1e-12)):
                break
        q = sy + x
        r = q / q_tr[act]
        gam = 1.0 / (1.0 + 3.0 * mu * A_dt * n * x ** (n - 1.0))
        Nv = s_tr[act] / norm[act][:, None]
        sig[act] = K * np.outer(tr[act], M) + s_tr[act] * r[:, None]
        C[act] = (K * np.outer(M, M) + 2.0 * mu * r[:, None, None] * I_DEV
                  + 2.0 * mu * (gam - r)[:, None, None] * np.einsum("ni,nj->nij", Nv, Nv))
        dp[act] = (q_tr[act] - q) / (3.0 * mu)
        epsc[act] = epsc_n[act] + math.sqrt(1.5) * dp[act][:, None] * Nv
    return sig, C, epsc, dp


GRADED_FIRST = 1e-5   # the graded plan's first creep sub-step, as a fraction of the step


def substep_plans(dt: float):
    """The sub-step lengths (s) tried in turn for one step of length dt until Newton converges in each:
    dt cut into 1, 2, 4, ..., 64 equal sub-steps (the plans of every table up to session 19, whose curves
    they reproduce bitwise), then the graded plan: a sub-step of zero length (the elastic response to a
    jump of the held stress: no time for creep) followed by sub-steps doubling from dt * GRADED_FIRST,
    the last one the remainder, each started from the last state (no predictor). The graded plan
    resolves the creep burst after a stress jump: under 30 MPa the literature Li next to the closing
    pores creeps at about 300 /s (q about 5 MPa, session 20), a strain of 5 in dt / 64 = 16 ms; Newton
    on the power law diverged at a 1 ms sub-step of the 0.2 mm cell at 30 MPa. (Until session 20 an
    attempt that reached a non-finite tangent also left the LU solver failed, so no later plan could
    converge: `run` now resets it after each failed plan.)"""
    for level in range(7):
        yield [dt / 2 ** level] * 2 ** level
    plan, h = [0.0], dt * GRADED_FIRST
    while sum(plan) + 2.0 * h < dt:
        plan.append(h)
        h *= 2.0
    plan.append(dt - sum(plan))
    yield plan


class RveCreep:
    """The cell, its phases and the solver; `run(test)` integrates one loading history."""

    def __init__(self, mesh, cell_tags, box, materials: dict, fibre: dict | None = None, degree: int = 2,
                 quadrature_degree: int = 2, bbar: bool = True, void_law: str = "neo-hookean"):
        if mesh.comm.size > 1:
            raise RuntimeError("the RVE creep solver is serial: run it without mpiexec")
        self.mesh, self.box, self.cell_tags = mesh, box, cell_tags
        V = fem.functionspace(mesh, ("Lagrange", degree, (3,)))
        self.V = V
        cell = mesh.basix_cell().name
        qd = quadrature_degree
        Qv = fem.functionspace(mesh, basix.ufl.quadrature_element(cell, value_shape=(6,), scheme="default", degree=qd))
        Qm = fem.functionspace(mesh, basix.ufl.quadrature_element(cell, value_shape=(6, 6), scheme="default", degree=qd))
        self.sig_q, self.C_q = fem.Function(Qv), fem.Function(Qm)
        pts = Qv.element.interpolation_points
        self.u = fem.Function(V)
        v, du = ufl.TestFunction(V), ufl.TrialFunction(V)

        def eps_m(w):
            e = ufl.sym(ufl.grad(w))
            return ufl.as_vector([e[0, 0], e[1, 1], e[2, 2], SQ2 * e[1, 2], SQ2 * e[0, 2], SQ2 * e[0, 1]])

        dx = ufl.Measure("dx", domain=mesh, metadata={"quadrature_degree": qd, "quadrature_scheme": "default"})
        self.R_form = fem.form(ufl.inner(self.sig_q, eps_m(v)) * dx, jit_options=JIT_OPTIONS)
        # B-bar of the Li (P2-P0): its volumetric strain is the cell mean, so its volumetric tangent is
        # K (mean div du)(mean div v) V_cell, which the one-point (centroid) rule integrates exactly
        # (div of a P2 field is linear). K_li: K on the Li cells, 0 elsewhere (or everywhere without B-bar).
        self.bbar = bool(bbar)
        self.K_li = fem.Function(fem.functionspace(mesh, ("DG", 0)))
        dx1 = ufl.Measure("dx", domain=mesh, metadata={"quadrature_degree": 1, "quadrature_scheme": "default"})
        self.J_form = fem.form(ufl.inner(ufl.dot(self.C_q, eps_m(du)), eps_m(v)) * dx
                               + self.K_li * ufl.div(du) * ufl.div(v) * dx1, jit_options=JIT_OPTIONS)
        self.eps_expr = fem.Expression(eps_m(self.u), pts)
        n_cells = mesh.topology.index_map(3).size_local
        self.cells = np.arange(n_cells, dtype=np.int32)
        nq = len(basix.make_quadrature(mesh.basix_cell(), qd)[1])
        qdofs = Qv.dofmap.list[self.cells].reshape(-1)          # (cell, point) order
        self.ix_v = (6 * qdofs[:, None] + np.arange(6)).reshape(-1)
        self.ix_m = (36 * qdofs[:, None] + np.arange(36)).reshape(-1)
        # per-point elastic stiffness and the Li points
        tag_of_cell = np.zeros(n_cells, dtype=np.int32)
        tag_of_cell[cell_tags.indices] = cell_tags.values
        tag_pt = np.repeat(tag_of_cell, nq)
        self.C_el = np.zeros((n_cells * nq, 6, 6))
        for t in np.unique(tag_of_cell):
            mat = materials[int(t)]
            sel = tag_pt == t
            lm = lame(mat)
            if lm is not None:
                self.C_el[sel] = isotropic_mandel(*lm)
            else:
                if fibre is None or int(t) not in fibre:
                    raise RuntimeError(f"no fibre direction for tow cell tag {t}")
                a_fun = fem.Function(fem.functionspace(mesh, ("DG", 0, (3,))))
                cells_t = cell_tags.find(int(t))
                a_fun.interpolate(fibre[int(t)], cells0=cells_t)
                a = a_fun.x.array.reshape(-1, 3)[cells_t]
                a /= np.linalg.norm(a, axis=1)[:, None]
                self.C_el[np.repeat(np.isin(np.arange(n_cells), cells_t), nq)] = tow_mandel(tow_moduli(mat), np.repeat(a, nq, axis=0))
        self.li_pts = tag_pt == LI
        self.li = materials.get(LI)
        # the pores' volumetric response (`void_pressure`), or "linear" (the small-strain pore of TABLE_VERSION <= 3)
        if void_law not in ("neo-hookean", "linear"):
            raise ValueError(f"void_law = {void_law!r}: must be 'neo-hookean' or 'linear'")
        self.void_pts = (tag_pt == VOID) if (void_law == "neo-hookean" and VOID in materials) else np.zeros(0, bool)
        self.void_lame = lame(materials[VOID]) if self.void_pts.any() else None
        self.nq = nq
        if self.bbar and self.li is not None:
            self.K_li.x.array[np.flatnonzero(tag_of_cell == LI)] = self.li.bulk_modulus_MPa
        jw = fem.Expression(abs(ufl.JacobianDeterminant(mesh)) + 0.0 * ufl.SpatialCoordinate(mesh)[0], pts)
        w = basix.make_quadrature(mesh.basix_cell(), qd)[1]
        self.qvol = (jw.eval(mesh, self.cells).reshape(n_cells, -1) * w).ravel()
        qv = self.qvol.reshape(n_cells, nq)
        self.w_cell = qv / qv.sum(axis=1, keepdims=True)   # each point's share of its cell (the B-bar mean)
        # constraints, affine modes and uniform-stress load vectors
        bs = V.dofmap.index_map_bs
        n_nodes = V.dofmap.index_map.size_local
        self.N = bs * n_nodes
        self.X = V.tabulate_dof_coordinates()[:n_nodes]
        x0, y0, z0, x1, y1, z1 = box
        self.vol = (x1 - x0) * (y1 - y0) * (z1 - z0)
        L = max(x1 - x0, y1 - y0, z1 - z0)
        self.P, self.p_info = prolongation(self.X, box, 1e-6 * L, "periodic", bs=bs)
        self.Xm = np.stack([affine_dofs(self.X, unit_strain(j)) for j in range(6)])   # (6, N)
        Sig = fem.Constant(mesh, np.zeros((3, 3)))
        f_form = fem.form(ufl.inner(Sig, ufl.sym(ufl.grad(v))) * ufl.dx(domain=mesh, metadata={"quadrature_degree": max(degree - 1, 1)}),
                          jit_options=JIT_OPTIONS)
        self.f = np.zeros((6, self.N))
        for j in range(6):
            Sig.value[:] = unit_stress(j)
            b = fem.assemble_vector(f_form)
            b.scatter_reverse(la.InsertMode.add)
            self.f[j] = b.array[:self.N]
        self.dofs = int(self.N)

    # ------------------------------------------------------------------ pointwise constitutive update
    def _update(self, eps, dt, epsc_n):
        sig = np.einsum("nij,nj->ni", self.C_el, eps)
        C = self.C_el.copy()
        epsc, dp = epsc_n.copy(), np.zeros(len(eps))
        if self.void_lame is not None:   # the pores' volumetric part: p(J) instead of K tr
            lam, mu = self.void_lame
            vp = self.void_pts
            tr = eps[vp, :3].sum(axis=1)
            p, dpdtr = void_pressure(tr, mu, lam)
            K = lam + 2.0 * mu / 3.0
            sig[vp] += np.outer(p - K * tr, M)
            C[vp] += (dpdtr - K)[:, None, None] * np.outer(M, M)
        li = self.li_pts
        if li.any() and self.li is not None:
            m = self.li
            A_dt = dt * m.creep_A_eff if dt > 0 else 0.0
            e_li = eps[li]
            if self.bbar:
                # the volumetric strain of each Li point -> its cell's mean (equal-weight points of one cell)
                tr = eps[:, :3].sum(axis=1).reshape(-1, self.nq)
                tr_bar = np.repeat((tr * self.w_cell).sum(axis=1), self.nq)[li]
                e_li = e_li + np.outer((tr_bar - e_li[:, :3].sum(axis=1)) / 3.0, M)
            s, c, e, d = norton_return(e_li, epsc_n[li], m.shear_modulus_MPa, m.bulk_modulus_MPa, A_dt,
                                       m.creep_n, m.threshold_stress_MPa)
            if self.bbar:
                c = c - m.bulk_modulus_MPa * np.outer(M, M)    # the volumetric tangent is in J_form's K_li term
            sig[li], C[li], epsc[li], dp[li] = s, c, e, d
        return sig, C, epsc, dp

    def _eval(self, u_arr, dt, epsc_n):
        self.u.x.array[:self.N] = u_arr
        self.u.x.scatter_forward()
        eps = self.eps_expr.eval(self.mesh, self.cells).reshape(-1, 6)
        sig, C, epsc, dp = self._update(eps, dt, epsc_n)
        self.sig_q.x.array[self.ix_v] = sig.ravel()
        self.C_q.x.array[self.ix_m] = C.ravel()
        r = fem.assemble_vector(self.R_form)
        r.scatter_reverse(la.InsertMode.add)
        return r.array[:self.N].copy(), eps, sig, epsc, dp

    # ------------------------------------------------------------------ one loading history
    def run(self, control, rate, stress, t_end: float, steps: int, progress=None, max_newton: int = 15,
            rtol: float = 1e-10) -> dict:
        """control: six 'strain' | 'stress' (Voigt xx yy zz yz xz xy); rate: prescribed strain rates
        (1/s; engineering shear); stress: the mean stresses of the free components (MPa), constant.
        Uniform steps dt = t_end / steps from the undeformed, stress-free cell. Returns the history:
        t, mean strain E (6), mean stress Sigma (6), Li mean equivalent creep strain, Newton iterations."""
        say = progress or (lambda s: None)
        free = [j for j in range(6) if control[j] == "stress"]
        pres = [j for j in range(6) if control[j] == "strain"]
        if len(free) + len(pres) != 6:
            raise ValueError(f"control = {control}: six entries of 'strain' or 'stress'")
        T = sp.hstack([self.P, sp.csr_matrix(self.Xm[free].T)]).tocsr() if free else self.P
        ps = ProlongedSystem(_petsc_aij(T), self.mesh.comm)
        rate, stress = np.asarray(rate, float), np.asarray(stress, float)
        n_pts = len(self.qvol)
        epsc = np.zeros((n_pts, 6))
        p_eq = np.zeros(n_pts)
        u = np.zeros(self.N)
        dt = t_end / steps
        load = sum((stress[j] * self.f[j] for j in free), np.zeros(self.N))
        hist = {"t_s": [0.0], "E": [[0.0] * 6], "Sigma_MPa": [[0.0] * 6], "li_creep_strain_mean": [0.0], "newton": [0]}
        li_vol = self.qvol[self.li_pts].sum() if self.li_pts.any() else 1.0
        t0 = time.perf_counter()
        def newton(u, epsc, h, dE_free_guess):
            """One increment of length h (s); (u, f_int, epsc, dp, iterations) or None when Newton fails."""
            dE = np.zeros(6)
            dE[pres] = rate[pres] * h
            u = u + self.Xm.T @ dE + (self.Xm[free].T @ dE_free_guess if free else 0.0)
            for it in range(1, max_newton + 1):
                with np.errstate(over="ignore", invalid="ignore"):   # a diverging iterate: caught below
                    f_int, eps, sig, epsc_new, dp = self._eval(u, h, epsc)
                    b = load - f_int
                    nr = np.linalg.norm(T.T @ b)
                # the scale: V times the mean stress (the reduced residual is a force, N)
                scale = max(np.abs(self.Xm @ f_int).max(), np.abs(self.Xm @ load).max(), 1e-6 * self.vol)
                if nr <= rtol * scale:
                    return u, f_int, epsc_new, dp, it
                if not np.isfinite(nr):
                    return None
                K = fem_petsc.assemble_matrix(self.J_form)
                K.assemble()
                ps.factor(K)
                u = u + ps.solve(_vec(b)).array
            return None

        dEf = np.zeros(len(free))      # the free strains' last increment (predictor)
        for k in range(1, steps + 1):
            t = k * dt
            # the increment, cut into sub-steps while Newton fails (substep_plans: halving, then graded)
            for plan in substep_plans(dt):
                uu, ec, dp_sum, its, ok = u, epsc, np.zeros(n_pts), 0, True
                graded = plan[0] == 0.0   # no predictor then: the last increment may hold a stress jump
                for h in plan:
                    res = newton(uu, ec, h, dEf * (0.0 if graded else h / dt))
                    if res is None:
                        ok = False
                        break
                    uu, f_int, ec, dp, it = res
                    dp_sum += dp
                    its += it
                if ok:
                    break
                ps.reset()   # a diverged iterate may have left inf or NaN in the factorisation
            else:
                raise RuntimeError(f"RVE creep: Newton did not converge at t = {t:g} s even with dt / 64 "
                                   f"or graded sub-steps from dt * {GRADED_FIRST:g}")
            n_sub = len(plan)
            if graded:
                hist.setdefault("graded_at_s", []).append(t)
                say(f"    t = {t:.4g} s: graded sub-steps ({n_sub}) after the halved ones failed")
            E_old = self.f @ u / self.vol
            u, epsc = uu, ec
            p_eq = p_eq + dp_sum
            Sig = self.Xm @ f_int / self.vol
            E = self.f @ u / self.vol
            dEf = (E - E_old)[free]
            hist["t_s"].append(t)
            hist["E"].append(E.tolist())
            hist["Sigma_MPa"].append(Sig.tolist())
            hist["li_creep_strain_mean"].append(float(np.dot(self.qvol[self.li_pts], p_eq[self.li_pts]) / li_vol))
            hist["newton"].append(its)
            hist.setdefault("substeps", [1]).append(n_sub)
            if k % max(1, steps // 5) == 0:
                say(f"    t = {t:.4g} s: E = {np.round(E, 6).tolist()}, Sigma = {np.round(Sig, 4).tolist()} MPa "
                    f"({time.perf_counter() - t0:.1f} s)")
        hist["wall_s"] = time.perf_counter() - t0
        return hist
