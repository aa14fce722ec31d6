"""Linear solvers of the Newton systems (both dimensions): MUMPS (distributed sparse LU) or an
iterative solver for the u-p saddle-point system (FGMRES + Schur field split + p-multigrid with GAMG
on the P1 level), and the measured rule that picks one (`choose_linear_solver`).

A `LinearSolver` serves one model: `operator(A)` hands it the system matrix of a Newton iteration
(Dirichlet rows/columns already replaced by identity), `factor()` factorises (MUMPS: numerical
factorisation only after the first, because the matrix keeps its nonzero pattern, so MUMPS keeps
its symbolic analysis and ordering) or sets up the preconditioner, and `solve(b, x)` solves. An
"auto" run whose Krylov solve fails switches to MUMPS for the rest of the run.

General linear constraints (a periodic RVE: u(x + L) = u(x) + E L) are a prolongation P from the
independent to all dofs; `ProlongedSystem` solves P^T A P y = P^T b and returns x = P y, the same
Galerkin product the p-multigrid coarse level uses.
Units: none (algebra).
"""
from __future__ import annotations

import dolfinx_solver  # noqa: F401  (must precede dolfinx / petsc4py)
import numpy as np
from dolfinx import fem
from dolfinx.fem import petsc as fem_petsc
from petsc4py import PETSc

from fem.models import JIT_OPTIONS

LINEAR_SOLVERS = ("auto", "mumps", "gamg")

# linear_solver = "auto" (the default): the iterative solver from this many unknowns on, for a
# single-phase (bare-Li) disc; MUMPS below it and for the composite. Measured 2026-12-02 (bench/
# bench_linear.py, one Newton system = one factorisation or setup + two solves, serial):
#   bare Li 14 580 dofs: MUMPS 0.42 s, p-multigrid 0.14 + 2 x 0.28 s (53 its)    -> MUMPS 1.7x faster
#   bare Li 99 494 dofs: MUMPS 9.2 + 2 x 0.08 s, p-multigrid 1.4 + 2 x 3.5 s (64 its) -> iterative 1.1x faster
# (MUMPS time grows ~ N^1.6, the p-multigrid ~ N^1.2, and its memory linearly). The composite stays
# direct at any size: 3 mm disc 267 Krylov iterations per solve (still 92 with an exact (LU)
# displacement block: the Schur-complement approximation fails at the 1:1e5 stiffness contrast of
# its phases); 15 mm disc, 163k dofs: MUMPS 20.0 + 0.35 s, p-multigrid 759 its, 2.6 + 81.9 s.
AUTO_ITERATIVE_MIN_DOFS = 100_000


# linear_solver = "auto" on the axisymmetric model (serial, 2D) below PETSC_LU_MAX_DOFS: PETSc's own
# sparse LU with reverse Cuthill-McKee ordering ("petsc_lu"). Measured 2026-12-03 on the axisymmetric
# Jacobian (factorisation + two solves, idle core): 1 666 dofs 0.32 ms against 1.54 ms for MUMPS,
# 7 509 dofs 6.6 against 10.0 ms, 13 995 dofs 18.9 against 23.6 ms, 26 411 dofs 57.0 against 53.1 ms
# (the band ordering fills in faster than MUMPS's nested dissection), with the same residual. It does
# not pivot, so every solve is checked: a relative residual above LU_CHECK_RTOL (MUMPS reaches ~1e-8
# on these saddle-point systems) switches the run to MUMPS.
LU_CHECK_RTOL = 1e-6
PETSC_LU_MAX_DOFS = 20_000


def choose_linear_solver(requested: str, n_dofs: int, n_phases: int, dim: int = 3) -> str:
    """The linear solver a run uses: `requested` unless it is "auto" (see AUTO_ITERATIVE_MIN_DOFS
    and LU_CHECK_RTOL)."""
    if requested not in LINEAR_SOLVERS:
        raise ValueError(f"linear_solver = {requested!r}: must be auto, mumps or gamg")
    if requested == "gamg" and dim != 3:
        raise ValueError("linear_solver = 'gamg': the iterative solver is for 3D models; use auto or mumps")
    if requested != "auto":
        return requested
    if dim == 2:
        return "petsc_lu" if n_dofs < PETSC_LU_MAX_DOFS else "mumps"
    return "gamg" if dim == 3 and n_phases == 1 and n_dofs >= AUTO_ITERATIVE_MIN_DOFS else "mumps"


# reuse_factorisation unset (the default): chord iterations (fem/models/newton.py) for a 3D bare-Li
# disc from this many unknowns on, and for every 3D composite. Measured (docs/benchmarks.md): 3D
# Coulomb creep, 14 580 unknowns: 50 s instead of 59 s for the whole run; literature law at 99 494
# unknowns, first 6 steps: 98 s instead of 393 s; composite (several phases, one pressure field
# each; 2026-12-03 session 4): 3 mm disc, 7 841 unknowns, 29.7 s instead of 59.1 s (93 instead of 227
# factorisations, the same changes to 4e-4 pp), 15 mm disc, 163 002 unknowns, 2 processes: 462 s
# (42 factorisations). Off for the axisymmetric model, whose factorisations are cheap.
REUSE_MIN_DOFS = 10_000


def choose_reuse(requested: bool | None, n_dofs: int, n_phases: int, dim: int) -> bool:
    """Whether Newton may reuse factorisations: `requested` unless it is None (then the rule above)."""
    if requested is not None:
        return bool(requested)
    return dim == 3 and (n_phases > 1 or n_dofs >= REUSE_MIN_DOFS)


class LinearSolverFailure(RuntimeError):
    pass


class LinearSolver:
    KRYLOV_RTOL = 1e-8        # relative (FGMRES: unpreconditioned residual); Newton checks the residual itself
    KRYLOV_MAX_IT = 1000

    def __init__(self, model, requested: str, n_dofs: int, n_phases: int, dim: int):
        self.model = model
        self.requested = requested
        self.kind = choose_linear_solver(requested, n_dofs, n_phases, dim)
        self.fallback = None           # why an "auto" run switched from gamg to MUMPS
        self.krylov_iterations = []    # per iterative solve (summary.json)
        self._ksp = None
        self._pmg = None
        self._A = None

    def operator(self, A: PETSc.Mat) -> None:
        if self._ksp is None:
            if self.kind == "gamg":
                self._ksp = _make_gamg_ksp(self)
            elif self.kind == "petsc_lu":
                self._ksp = _make_lu_ksp(self.model.comm, "petsc")
            else:
                self._ksp = _make_mumps_ksp(self.model.comm)
        self._A = A
        self._ksp.setOperators(A)
        if self.kind == "gamg" and self._pmg is not None:
            _update_pmg(self)

    def constraints_changed(self) -> None:
        """The constrained dofs changed (rim contact): the p-multigrid, which removes them from its
        interpolation, is rebuilt at the next operator; a direct solver needs nothing."""
        if self.kind == "gamg":
            self._ksp = self._pmg = None

    def reset(self) -> None:
        """Forget the solver (rebuilt at the next operator). After a factorisation of a matrix with inf
        or NaN (a diverged Newton iterate) MUMPS stays failed: every later factorisation and solve of
        the same solver failed too (INFOG(1) = -3), so a step cut after such an iterate could never
        recover (found in the RVE creep solver, session 20; the same here, session 21)."""
        if self._ksp is not None:
            self._ksp.destroy()
        self._ksp = self._pmg = None

    def factor(self) -> None:
        try:
            self._ksp.setUp()
        except PETSc.Error as e:
            if self.kind == "petsc_lu":   # a zero pivot of the non-pivoting LU: MUMPS from here on
                self._switch_to_mumps(f"PETSc LU factorisation failed ({str(e).splitlines()[0]})")
                return
            self.reset()
            raise LinearSolverFailure(f"LU factorisation failed ({str(e).splitlines()[0]})") from e

    def _switch_to_mumps(self, why: str) -> None:
        self.fallback = f"{why}: switched to MUMPS"
        if self.model.comm.rank == 0:
            print(f"linear solver: {self.fallback}", flush=True)
        self._ksp, self._pmg, self.kind = None, None, "mumps"
        self.operator(self._A)
        self.factor()

    def solve(self, b: PETSc.Vec, x: PETSc.Vec) -> None:
        try:
            self._solve(b, x)
        except PETSc.Error as e:
            self.reset()
            raise LinearSolverFailure(f"linear solve failed ({str(e).splitlines()[0]})") from e
        except LinearSolverFailure:
            self.reset()
            raise

    def _solve(self, b: PETSc.Vec, x: PETSc.Vec) -> None:
        ksp = self._ksp
        ksp.solve(b, x)
        self._record(ksp)
        if self.kind == "petsc_lu":
            r = b.duplicate()
            self._A.mult(x, r)
            r.aypx(-1.0, b)
            rel = r.norm() / max(b.norm(), 1e-300)
            if not rel <= LU_CHECK_RTOL:
                self._switch_to_mumps(f"PETSc LU residual {rel:.1e} > {LU_CHECK_RTOL:g}")
                ksp = self._ksp
                ksp.solve(b, x)
        if ksp.getConvergedReason() < 0 and self.kind == "gamg" and self.requested == "auto":
            # the automatic choice failed: MUMPS from here on (this solve included)
            self.fallback = (f"Krylov solve failed (reason {ksp.getConvergedReason()}, "
                             f"{ksp.getIterationNumber()} its): switched to MUMPS")
            if self.model.comm.rank == 0:
                print(f"linear solver: {self.fallback}", flush=True)
            self._ksp, self._pmg, self.kind = None, None, "mumps"
            self.operator(self._A)
            self.factor()
            ksp = self._ksp
            ksp.solve(b, x)
            self.model.linear_solves += 1
        if ksp.getConvergedReason() < 0:
            raise LinearSolverFailure(f"linear solve failed (reason {ksp.getConvergedReason()})")

    def _record(self, ksp):
        """Keep the iteration count of an iterative solve (summary.json; also after an auto fallback)."""
        if self.kind == "gamg":
            self.krylov_iterations.append(ksp.getIterationNumber())


class ProlongedSystem:
    """Linear constraints x = P y (+ the affine part the caller adds): solve P^T A P y = P^T b, return
    P y. P: PETSc matrix (all dofs x independent dofs)."""

    def __init__(self, P: PETSc.Mat, comm):
        self.P, self.comm = P, comm
        self._Ar = None
        self._ksp = _make_mumps_ksp(comm)

    def factor(self, A: PETSc.Mat) -> None:
        if self._Ar is None:
            self._Ar = A.ptap(self.P)
        else:
            A.ptap(self.P, result=self._Ar)
        self._ksp.setOperators(self._Ar)
        self._ksp.setUp()

    def reset(self) -> None:
        """A new reduced matrix and LU solver: after a factorisation of a matrix with inf or NaN (a
        diverged Newton iterate) every later solve of the old solver returned NaN (session 20)."""
        self._ksp.destroy()
        self._ksp = _make_mumps_ksp(self.comm)
        if self._Ar is not None:
            self._Ar.destroy()
        self._Ar = None

    def solve(self, b: PETSc.Vec) -> PETSc.Vec:
        br = self.P.createVecRight()
        self.P.multTranspose(b, br)
        yr = self.P.createVecRight()
        self._ksp.solve(br, yr)
        x = self.P.createVecLeft()
        self.P.mult(yr, x)
        return x


def _make_mumps_ksp(comm):
    return _make_lu_ksp(comm, "mumps")


def _make_lu_ksp(comm, package: str):
    ksp = PETSc.KSP().create(comm)
    ksp.setType("preonly")
    pc = ksp.getPC()
    pc.setType("lu")
    pc.setFactorSolverType(package)
    if package == "petsc":
        pc.setFactorOrdering("rcm")
    return ksp


def _make_gamg_ksp(solver):
    """Iterative solver of the u-p saddle point system: FGMRES on a Schur-complement field split
    (upper block-triangular factorisation). u block (P2 displacement): one cycle of a two-level
    p-multigrid (`_make_p1_coarse_space`, `_update_pmg`): 3 Chebyshev/Jacobi sweeps on P2, and on
    the P1 coarse level (Galerkin operator) one V-cycle of smoothed-aggregation AMG (GAMG) with the
    six rigid-body modes as near-nullspace. "-li3d_pmg 0" (PETSC_OPTIONS) puts GAMG directly on the
    P2 block instead. Schur block: one Jacobi sweep on the 'selfp' approximation
    A_pp - A_pu diag(A_uu)^-1 A_up (default) or on the scaled pressure mass matrix -(1/K + 1/G) M_p
    (Sp, elastic moduli of each u-p phase). Tolerance: KRYLOV_RTOL. Options prefix "li3d_".
    Chosen by `choose_linear_solver` for large single-phase 3D discs; docs/benchmarks.md has the numbers."""
    m = solver.model
    n_own = m.n_owned
    is_p = m.is_pressure_dof[:n_own]
    own = np.arange(n_own)
    u_loc, p_loc = own[~is_p], own[is_p]
    off = m.global_offset
    is_u = PETSc.IS().createGeneral((u_loc + off).astype(PETSc.IntType), comm=m.comm)
    is_pp = PETSc.IS().createGeneral((p_loc + off).astype(PETSc.IntType), comm=m.comm)
    # P2 node and displacement component of each local dof of W (-1: pressure dof)
    comp = np.full(m.w.x.array.size, -1, dtype=np.int64)
    node = np.full(m.w.x.array.size, -1, dtype=np.int64)
    for c in range(3):
        comp[m.node_dofs[:, c]] = c
        node[m.node_dofs[:, c]] = np.arange(len(m.node_dofs))
    # rigid-body modes on the owned u dofs, in the order of is_u
    modes = _rigid_body_modes(m.node_coords[node[u_loc]], comp[u_loc], m.comm)
    is_u.compose("nearnullspace", PETSc.NullSpace().create(vectors=modes, comm=m.comm))
    ksp = PETSc.KSP().create(m.comm)
    prefix = "li3d_"   # PETSC_OPTIONS="-li3d_ksp_monitor ..." overrides or adds settings
    ksp.setOptionsPrefix(prefix)
    ksp.setType("fgmres")
    ksp.setGMRESRestart(200)
    ksp.setTolerances(rtol=solver.KRYLOV_RTOL, atol=0.0, max_it=solver.KRYLOV_MAX_IT)
    pc = ksp.getPC()
    pc.setType("fieldsplit")
    pc.setFieldSplitIS(("u", is_u), ("p", is_pp))
    pc.setFieldSplitType(PETSc.PC.CompositeType.SCHUR)
    pc.setFieldSplitSchurFactType(PETSc.PC.SchurFactType.UPPER)
    M = fem_petsc.assemble_matrix(fem.form(m._schur_ufl, jit_options=JIT_OPTIONS))
    M.assemble()
    Sp = M.createSubMatrix(is_pp, is_pp)
    dd = Sp.getDiagonal()
    dd.array[:] = np.where(dd.array == 0.0, 1.0, 0.0)
    Sp.setOption(PETSc.Mat.Option.NEW_NONZERO_ALLOCATION_ERR, False)   # composite: tow/pore p rows are empty
    Sp.setDiagonal(dd, addv=PETSc.InsertMode.ADD_VALUES)
    pc.setFieldSplitSchurPreType(PETSc.PC.SchurPreType.USER, Sp)
    opts = PETSc.Options()
    pmg = opts.getBool(prefix + "pmg", True)
    defaults = {"fieldsplit_u_ksp_type": "preonly",
                "fieldsplit_p_ksp_type": "preonly", "fieldsplit_p_pc_type": "jacobi",
                "pc_fieldsplit_schur_fact_type": "upper",
                # "-li3d_pc_fieldsplit_schur_precondition user" selects Sp above
                "pc_fieldsplit_schur_precondition": "selfp"}
    if pmg:   # the u split starts without a preconditioner; _update_pmg makes it the two-level cycle
        defaults["fieldsplit_u_pc_type"] = "none"
    else:     # plain GAMG on the P2 u block (the solver measured before 2026-12-02 evening)
        defaults.update({"fieldsplit_u_pc_type": "gamg", "fieldsplit_u_pc_gamg_threshold": 0.01,
                         "fieldsplit_u_pc_gamg_agg_nsmooths": 1, "fieldsplit_u_mg_levels_ksp_type": "chebyshev",
                         "fieldsplit_u_mg_levels_pc_type": "jacobi", "fieldsplit_u_mg_levels_ksp_max_it": 3})
    for k, v in defaults.items():
        if not opts.hasName(prefix + k):
            opts[prefix + k] = v
    ksp.setFromOptions()
    solver._gamg_is = (is_u, is_pp, modes, Sp)   # keep them alive
    solver._pmg = _make_p1_coarse_space(m, 3 * node[u_loc] + comp[u_loc], u_loc) if pmg else None
    return ksp

def _make_p1_coarse_space(m, rows, u_loc):
    """p-multigrid for the P2 displacement block: the P1 vector space on the same mesh as the
    coarse level. P (rows: the owned u dofs of W in the order of the u split, u_loc; `rows`: their
    dofs 3 node + component in the collapsed P2 space V_u; columns: P1 dofs) is the P1 -> P2
    interpolation with the rows of constrained dofs removed, and the coarse near-nullspace holds
    the six rigid-body modes of the P1 nodes."""
    V1 = fem.functionspace(m.mesh, ("Lagrange", 1, (3,)))
    Iv = fem_petsc.interpolation_matrix(V1, m.V_u)
    Iv.assemble()
    ai, aj, av = Iv.getValuesCSR()
    n_v_owned = Iv.getLocalSize()[0]
    assert rows.min(initial=0) >= 0 and rows.max(initial=-1) < n_v_owned, "P2 u dof not owned by its W owner"
    cons = np.zeros(m.w.x.array.size, dtype=bool)
    cons[m.constrained] = True
    length = np.where(cons[u_loc], 0, ai[rows + 1] - ai[rows])
    ptr = np.concatenate([[0], np.cumsum(length)]).astype(PETSc.IntType)
    take = np.repeat(ai[rows], length) + (np.arange(ptr[-1]) - np.repeat(ptr[:-1], length))
    n1 = Iv.getLocalSize()[1]
    P = PETSc.Mat().createAIJ(size=((len(u_loc), PETSc.DECIDE), (n1, PETSc.DECIDE)),
                              bsize=(1, 3), csr=(ptr, aj[take].astype(PETSc.IntType), av[take]), comm=m.comm)
    P.assemble()
    X1 = V1.tabulate_dof_coordinates()[: n1 // 3]
    modes = _rigid_body_modes(np.repeat(X1, 3, axis=0), np.tile(np.arange(3), n1 // 3), m.comm, bsize=3)
    return {"P": P, "modes": modes, "nns": PETSc.NullSpace().create(vectors=modes, comm=m.comm),
            "Ac": None, "V1": V1}

def _update_pmg(solver):
    """After each new system matrix: let the field split extract the u block A_uu, form the coarse
    operator A_c = P^T A_uu P (the Galerkin product, with the rigid-body near-nullspace for GAMG),
    and (first call) make the u split a two-level PCMG: Chebyshev/Jacobi smoothing on P2, one
    GAMG V-cycle on P1 as the coarse solve."""
    pmg, ksp = solver._pmg, solver._ksp
    pc = ksp.getPC()
    pc.setUp()
    ksp_u = pc.getFieldSplitSchurGetSubKSP()[0]   # the A00 solve of the factorisation
    Auu = ksp_u.getOperators()[0]
    if pmg["Ac"] is None:
        Ac = Auu.ptap(pmg["P"])
        Ac.setNearNullSpace(pmg["nns"])
        pmg["Ac"] = Ac
        pc_u = ksp_u.getPC()
        pc_u.setType("mg")
        pc_u.setMGLevels(2)
        pc_u.setMGType(PETSc.PC.MGType.MULTIPLICATIVE)
        pc_u.setMGInterpolation(1, pmg["P"])
        coarse = pc_u.getMGCoarseSolve()
        coarse.setOperators(Ac)
        opts = PETSc.Options()
        pre = ksp_u.getOptionsPrefix()
        for k, v in {"mg_levels_ksp_type": "chebyshev", "mg_levels_pc_type": "jacobi",
                     "mg_levels_ksp_max_it": 3,
                     "mg_coarse_ksp_type": "preonly", "mg_coarse_pc_type": "gamg",
                     "mg_coarse_pc_gamg_threshold": 0.01, "mg_coarse_pc_gamg_agg_nsmooths": 1,
                     "mg_coarse_mg_levels_ksp_type": "chebyshev", "mg_coarse_mg_levels_pc_type": "jacobi",
                     "mg_coarse_mg_levels_ksp_max_it": 3}.items():
            if not opts.hasName(pre + k):
                opts[pre + k] = v
        # the field split re-reads the u split's options at every setup: make them say PCMG
        opts[pre + "pc_type"] = "mg"
        pc_u.setFromOptions()
        coarse.setFromOptions()
        pmg["coarse"] = coarse
    else:
        Auu.ptap(pmg["P"], result=pmg["Ac"])
        pmg["coarse"].setOperators(pmg["Ac"])



def _rigid_body_modes(xyz, comp, comm, bsize=None) -> list:
    """The six rigid-body displacement modes (translations e_k, rotations e_k x x), orthonormalised by
    modified Gram-Schmidt, as PETSc vectors over the owned displacement dofs whose node coordinates
    are xyz (n, 3) and components comp (n,) (the near-nullspace of GAMG)."""
    modes = []
    for k in range(6):
        a = np.zeros(len(comp))
        if k < 3:
            a[comp == k] = 1.0
        else:   # rotation about axis k-3: (e_k x x)
            i, j = [(1, 2), (2, 0), (0, 1)][k - 3]
            a[comp == i] = -xyz[comp == i, j]
            a[comp == j] = xyz[comp == j, i]
        v = PETSc.Vec().createMPI((len(comp), PETSc.DECIDE), bsize=bsize, comm=comm)
        v.array[:] = a
        modes.append(v)
    for i, v in enumerate(modes):
        for w in modes[:i]:
            v.axpy(-v.dot(w), w)
        v.scale(1.0 / v.norm())
    return modes
