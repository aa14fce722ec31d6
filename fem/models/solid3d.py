"""3D disc model (quarter disc by default): the same law, platens and measurements as the
axisymmetric model (fem/models/axisym.py), on tetrahedra, MPI-parallel through PETSc. Bare Li
(meshes/disc_3d.py) or the multi-material G-LiCFC composite (meshes/composite.py).

Phases (composite; cells by tag, bonded interfaces, laws in fem/physics/laws.py, numbers and
sources in fem/physics/materials.py):
  * Li: the creep law (CreepLaw), u-p mixed form;
  * carbon tows (warp and weft tags): transversely isotropic St Venant-Kirchhoff (TowLaw) about the
    local fibre direction (DG0 field from meshes.composite.tow_tangent), displacement form;
  * GPE skins: nearly incompressible neo-Hookean (GelLaw), u-p mixed form with its own pressure field;
  * pores: soft compressible neo-Hookean (SoftVoidLaw), displacement form.
Each u-p phase has its own P1 pressure field (W = P2^3 x P1 x P1 for Li + gel), so the pressure
can jump at a Li/gel interface and each phase satisfies its own discrete volume balance
int_phase (J - 1) dV0 = int_phase p/K dV0. The unknowns of a pressure field outside its phase
(tows, pores, the other u-p phase) have no equation and are fixed at 0. Without mid-plane
symmetry (the composite's default: a weave is not mirror symmetric) z = 0 is the fixed bottom platen, with the same friction condition as the top one.

Discretisation: Taylor-Hood u-p (P2 displacement, P1 hydrostatic pressure) on the mesh of
meshes/disc_3d.py; internal variables at quadrature points; the same CreepLaw
(fem/physics/laws.py) with F = I + grad u.

Constraints (by node coordinates of the P2 displacement nodes):
  * top platen face z = H: u_z = -delta (delta = platen displacement, one global unknown);
    sticking platens also fix u_x = u_y = 0 there;
  * mid-plane z = 0 (symmetry) or fixed bottom platen face: u_z = 0 (the bottom platen carries
    the same friction condition as the top one);
  * symmetry planes x = 0: u_x = 0, and y = 0: u_y = 0 (quarter disc).
Coulomb friction acts node-wise on the top face as in fem/physics/platen.py: N_k is the (signed) reaction
of the u_z constraint, f_k = -mu N_k s_k / sqrt(|s_k|^2 + eps^2) with the in-plane slip s_k of the
step, eps = max(v_reg dt, slip_floor_mm); the linearisation includes dN/du (rows of K) and is added to the matrix
row by row (PETSc, in parallel: a node's dofs are owned by one process).

Newton: the bordering algorithm of the axisymmetric model (two solves per factorisation: the
residual and a unit platen motion) enforces the platen force exactly. Linear solver: MUMPS
(distributed LU) or linear_solver = "gamg" (FGMRES + Schur field split + p-multigrid with
GAMG on the P1 level, `_make_gamg_ksp`); the default "auto" picks one by size and phases
(`choose_linear_solver`, measured break-even) and falls back to MUMPS if a Krylov solve fails.
Platen force = 4 x the quarter's reaction. Units: mm, N, MPa, s.
"""
from __future__ import annotations

import math
import time
from collections import defaultdict

import dolfinx_solver  # noqa: F401  (must precede dolfinx / petsc4py)
import numpy as np
import ufl
from dolfinx import fem, la
from dolfinx.fem import petsc as fem_petsc
from mpi4py import MPI
from petsc4py import PETSc

from meshes.disc_3d import Disc3DGeometry

from fem.physics.laws import (CreepLaw, GelLaw, LawConstants, SoftVoidLaw, TowLaw, solve_creep_increment,
                           von_mises)
from fem.physics.materials import GelNeoHookean, LiCreep, SoftVoid, TowElastic
from fem.models.axisym import JIT_OPTIONS, DiscModelBase, NewtonFailure
from fem.physics.platen import PlatenSpec

UP_MATERIALS = (LiCreep, GelNeoHookean)   # phases in the u-p mixed form (one pressure field each)

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


def choose_linear_solver(requested: str, n_dofs: int, n_phases: int) -> str:
    """The linear solver a run uses: `requested` unless it is "auto" (see AUTO_ITERATIVE_MIN_DOFS)."""
    if requested not in ("auto", "mumps", "gamg"):
        raise ValueError(f"linear_solver = {requested!r}: must be auto, mumps or gamg")
    if requested != "auto":
        return requested
    return "gamg" if n_phases == 1 and n_dofs >= AUTO_ITERATIVE_MIN_DOFS else "mumps"


class Disc3DModel(DiscModelBase):
    KRYLOV_RTOL = 1e-8        # relative (FGMRES: unpreconditioned residual); Newton checks the residual itself
    KRYLOV_MAX_IT = 1000
    debug = False
    debug_where = False   # with debug: also print where the largest nodal imbalance sits

    def __init__(self, mesh, facet_tags, geo, mat: LiCreep, platen: PlatenSpec,
                 quadrature_degree: int = 4, theta: float = 1.0, cell_tags=None, phases: dict | None = None,
                 fibre_direction: dict | None = None, linear_solver: str = "auto"):
        """geo: Disc3DGeometry or CompositeGeometry (height_mm, thickness_mm, radius_mm, diameter_mm,
        quarter, use_symmetry). Bare Li: cell_tags = phases = None. Composite: phases maps a phase
        name to (cell tags, material) with material LiCreep (one phase, the creeping one),
        TowElastic, GelNeoHookean or SoftVoid; fibre_direction maps a tow cell tag to a callable
        x -> (3, n) unit fibre direction (meshes.composite.tangent_function)."""
        self.mesh, self.geo, self.mat, self.platen_spec = mesh, geo, mat, platen
        self.comm = mesh.comm
        tdim = mesh.topology.dim
        n_owned_cells = mesh.topology.index_map(tdim).size_local
        self.all_cells = np.arange(n_owned_cells, dtype=np.int32)
        if phases is None:
            phases = {"li": (None, mat)}
        self.phases = phases
        # one P1 pressure field per u-p phase (Li, gel), zero outside it: the pressure may jump at a
        # Li/gel interface, and each phase's volume balance  int_phase (J - 1) = int_phase p/K  holds
        # on its own (one field shared by Li and gel let them trade volume through the interface
        # nodes: the 6 mm disc at 30 MPa gained 1.37 % Li volume that way).
        up = [k for k, (_, m) in phases.items() if isinstance(m, UP_MATERIALS)]
        self.phase_pressure = {k: i + 1 for i, k in enumerate(up)}   # phase -> sub-space of W
        self._setup_spaces(mesh, 3, quadrature_degree, pressure_fields=len(up))
        creep = [k for k, (_, m) in phases.items() if isinstance(m, LiCreep)]
        if len(creep) != 1:
            raise ValueError(f"phases: exactly one creeping (LiCreep) phase is needed, got {creep}")
        self.creep_phase = creep[0]
        self.mat = phases[self.creep_phase][1]
        self.cell_tags = cell_tags
        self.phase_cells = {k: self._owned_cells(tags) for k, (tags, _) in phases.items()}
        # the creep state lives in the cells of the creeping phase
        self.cells = self.phase_cells[self.creep_phase]
        nq = len(self.qweights)
        # quadrature dofs of the owned creep cells, in (cell, point) order
        self.qs_dofs = self.Qs.dofmap.list[self.cells].reshape(-1)
        self.qt_dofs = (9 * self.Qt.dofmap.list[self.cells].reshape(-1)[:, None] + np.arange(9)).reshape(-1)
        assert self.qs_dofs.size == len(self.cells) * nq

        self.w = fem.Function(self.W, name="w")
        self.Cc_inv_n = fem.Function(self.Qt, name="Cc_inv")
        self.Cc_inv_n.x.array[:] = np.tile(np.eye(3).ravel(), self.Cc_inv_n.x.array.size // 9)
        self.p_eq = _Values(self.qs_dofs.size)   # equivalent creep strain, owned (cell, point) order
        self.dp_f = fem.Function(self.Qs, name="dp")
        self.dp_explicit = fem.Function(self.Qs, name="dp_explicit")
        self.dt_A = fem.Constant(mesh, 0.0)
        nloc = self.qs_dofs.size
        self.rate_n = np.zeros(nloc)
        self.theta = theta
        self.delta = 0.0

        parts, tests, trials = ufl.split(self.w), ufl.TestFunctions(self.W), ufl.TrialFunctions(self.W)
        u, v = parts[0], tests[0]
        F = ufl.Identity(3) + ufl.grad(u)
        dxm = ufl.Measure("dx", domain=mesh, subdomain_data=cell_tags, metadata=self.dx.metadata())
        self.laws = {}
        R = 0
        self._up_indicator = {}   # sub-space -> form q_k dx over its phase: where that pressure is an unknown
        self._p_over_K = {}       # u-p phase -> p/K (UFL): the elastic volume change its pressure implies
        schur = None
        self.fibre_dir = None
        for name, (tags, m) in phases.items():
            dxp = self.dx if tags is None else sum((dxm(int(t)) for t in tags[1:]), dxm(int(tags[0])))
            k = self.phase_pressure.get(name)
            p, q, p_t = (parts[k], tests[k], trials[k]) if k is not None else (None, None, None)
            if isinstance(m, LiCreep):
                law = CreepLaw(LawConstants(mesh, m), F, self.Cc_inv_n, self.dp_f, self.dt_A, p, self.dp_explicit)
            elif isinstance(m, GelNeoHookean):
                law = GelLaw(mesh, m, F, p)
            elif isinstance(m, SoftVoid):
                law = SoftVoidLaw(mesh, m, F)
            elif isinstance(m, TowElastic):
                law = TowLaw(mesh, m, F, self._fibre_field(fibre_direction or {}, tags))
            else:
                raise TypeError(f"phase {name}: unknown material {type(m).__name__}")
            self.laws[name] = law
            R = R + ufl.inner(law.P, ufl.grad(v)) * dxp
            if k is not None:
                c = getattr(law, "c", law)   # the law's constants K, mu
                self._p_over_K[name] = p / c.K
                R = R + law.volumetric_residual(p) * q * dxp
                self._up_indicator[k] = fem.form(q * dxp, jit_options=JIT_OPTIONS)
                # Schur-complement preconditioner of the iterative solver: -(1/K + 1/G) M_p
                schur_form = -(1.0 / c.K + 1.0 / c.mu) * p_t * q * dxp
                schur = schur_form if schur is None else schur + schur_form
        self.law = self.laws[self.creep_phase]
        self._schur_ufl = schur   # compiled only for linear_solver = "gamg"
        self.R_form = fem.form(R, jit_options=JIT_OPTIONS)
        self.J_form = fem.form(ufl.derivative(R, self.w, ufl.TrialFunction(self.W)),
                               jit_options=JIT_OPTIONS)
        self.qm_expr = fem.Expression(ufl.as_vector([self.law.q_tr, self.law.trial_distance]), self.qpoints)
        self.Cc_new_expr = fem.Expression(self.law.Cc_inv_new, self.qpoints)
        self.vm_expr = fem.Expression(self.law.von_mises, self.qpoints)
        x = ufl.SpatialCoordinate(mesh)
        self._jw_expr = fem.Expression(abs(ufl.JacobianDeterminant(mesh)) + 0.0 * x[0], self.qpoints)
        self.qp_volume = self._qp_volume(self.cells)
        self.total_volume = self.comm.allreduce(float(self.qp_volume.sum()), op=MPI.SUM)
        self.symmetry_factor = 4.0 if geo.quarter else 1.0
        self._setup_dofs()
        n_dofs = self.W.dofmap.index_map.size_global * self.W.dofmap.index_map_bs
        self.linear_solver_requested = linear_solver
        self.linear_solver = choose_linear_solver(linear_solver, n_dofs, len(phases))
        self.linear_solver_fallback = None   # why an "auto" run switched from gamg to MUMPS
        self._setup_phase_outputs()
        self._K = None
        self._Kf = None
        self._ksp = None
        self._pmg = None
        self.timings = defaultdict(float)
        self.linear_solves = 0
        self.krylov_iterations = []   # per iterative (gamg) solve, reported in summary.json

    def _owned_cells(self, tags):
        if tags is None:
            return self.all_cells
        cells = np.concatenate([self.cell_tags.find(int(t)) for t in tags]).astype(np.int32)
        return np.sort(cells[cells < self.all_cells.size])

    def _fibre_field(self, fibre_direction, tags):
        """DG0 unit fibre direction a on the tow cells (reference configuration)."""
        if self.fibre_dir is None:
            self.fibre_dir = fem.Function(fem.functionspace(self.mesh, ("DG", 0, (3,))), name="fibre_direction")
            self.fibre_dir.x.array[:] = np.tile([1.0, 0.0, 0.0], self.fibre_dir.x.array.size // 3)
        for t in tags:
            cells = self.cell_tags.find(int(t))
            if int(t) not in fibre_direction:
                raise ValueError(f"fibre_direction: no direction for tow cell tag {t}")
            self.fibre_dir.interpolate(fibre_direction[int(t)], cells0=cells)
        self.fibre_dir.x.scatter_forward()
        return self.fibre_dir

    def _qp_volume(self, cells):
        jw = self._jw_expr.eval(self.mesh, cells)
        return (jw.reshape(len(cells), -1) * self.qweights).ravel()

    # ------------------------------------------------------------------ dofs
    def _setup_dofs(self):
        V, m = self.W.sub(0).collapse()
        self.V_u = V
        m = np.asarray(m).ravel().astype(np.int64).reshape(-1, 3)
        X = V.tabulate_dof_coordinates()
        self.node_coords, self.node_dofs = X, m
        imap = self.W.dofmap.index_map
        self.n_owned = imap.size_local * self.W.dofmap.index_map_bs
        self.global_offset = imap.local_range[0] * self.W.dofmap.index_map_bs
        H, tol = self.geo.height_mm, 1e-8 * max(self.geo.radius_mm, 1.0)
        top = np.abs(X[:, 2] - H) < tol
        bottom = np.abs(X[:, 2]) < tol
        sym_x = np.abs(X[:, 0]) < tol if self.geo.quarter else np.zeros(len(X), bool)
        sym_y = np.abs(X[:, 1]) < tol if self.geo.quarter else np.zeros(len(X), bool)
        # z = 0 is the mid-plane (symmetry: u_z = 0 only) or the fixed bottom platen, which carries
        # the same friction condition as the moving top platen
        bottom_platen = not self.geo.use_symmetry
        self.top_z = m[top, 2]
        cons = [m[top, 2], m[bottom, 2], m[sym_x, 0], m[sym_y, 1]]
        if self.platen_spec.friction == "sticking":
            cons += [m[top, 0], m[top, 1]]
            if bottom_platen:
                cons += [m[bottom, 0], m[bottom, 1]]
        # the dofs of each phase's pressure field outside that phase (tows, pores, the other u-p
        # phase) have no equation: fixed at 0
        mp_all = []
        for k, form in self._up_indicator.items():
            ind = fem.assemble_vector(form)
            ind.scatter_reverse(la.InsertMode.add)
            ind.scatter_forward()
            _, mp = self.W.sub(k).collapse()
            mp = np.asarray(mp).ravel()
            cons.append(mp[ind.array[mp] == 0.0])
            mp_all.append(mp)
        mp = np.concatenate(mp_all)
        self.constrained = np.unique(np.concatenate(cons))
        self.constrained_owned = self.constrained[self.constrained < self.n_owned]
        n = self.w.x.array.size
        mask = np.ones(n, dtype=bool)
        mask[self.constrained] = False
        is_p = np.zeros(n, dtype=bool)
        is_p[mp] = True
        self.is_pressure_dof = is_p   # local dofs (ghosts included) of the pressure field
        owned = np.arange(n) < self.n_owned
        self.free_u_owned = np.flatnonzero(mask & ~is_p & owned)
        self.free_p_owned = np.flatnonzero(mask & is_p & owned)
        # friction: owned platen nodes, their in-plane dofs (-1 where a symmetry plane fixes one);
        # the normal force is N = -sign * r_z with sign +1 on the top face, -1 on the bottom platen
        faces = [(top, 1.0)] + ([(bottom, -1.0)] if bottom_platen else [])
        fz, fx, fy, sg = [], [], [], []
        for sel, sign in faces:
            own = sel & (m[:, 2] < self.n_owned)
            fz.append(m[own, 2])
            fx.append(np.where(sym_x[own], -1, m[own, 0]))
            fy.append(np.where(sym_y[own], -1, m[own, 1]))
            sg.append(np.full(int(own.sum()), sign))
        self.fr_z, self.fr_x, self.fr_y, self.fr_sign = (np.concatenate(a) for a in (fz, fx, fy, sg))
        self.fr_z, self.fr_x, self.fr_y = (a.astype(np.int64) for a in (self.fr_z, self.fr_x, self.fr_y))
        self.n_top_global = self.comm.allreduce(int((top & (m[:, 2] < self.n_owned)).sum()), op=MPI.SUM)
        self.force_scale_N = 1.0
        # P2 nodes for the diameter (owned)
        own_nodes = m[:, 0] < self.n_owned
        self.meas_nodes = np.flatnonzero(own_nodes)

    # ------------------------------------------------------------------ per-phase results
    def _setup_phase_outputs(self):
        """Expressions and index sets for the per-phase results (phase_results) and fields."""
        self.phase_nodes, self.phase_qp_volume, self.phase_exprs = {}, {}, {}
        self.material_id = np.zeros(self.all_cells.size, dtype=np.int32)
        for name, (tags, _) in self.phases.items():
            cells = self.phase_cells[name]
            self.phase_nodes[name] = self._owned_nodes_of(self.V_u.dofmap.list[cells])
            self.phase_qp_volume[name] = self._qp_volume(cells) if cells.size else np.zeros(0)
            law = self.laws[name]
            ex = {"J": law.J, "von_mises": von_mises(law.sigma)}
            if hasattr(law, "fibre_stress"):
                ex["fibre_stress"] = law.fibre_stress
            if name in self._p_over_K:
                ex["p_over_K"] = self._p_over_K[name]
            self.phase_exprs[name] = {k: fem.Expression(v, self.qpoints) for k, v in ex.items()}
        if self.cell_tags is None:
            self.material_id[:] = 1
        else:
            idx, val = self.cell_tags.indices, self.cell_tags.values
            own = idx < self.all_cells.size
            self.material_id[idx[own]] = val[own]
        self.phase_volume0 = {k: self._sum(v.sum()) for k, v in self.phase_qp_volume.items()}
        # P2 nodes at the mesh vertices (basix orders a tet's 4 vertex dofs first), for the
        # vertex-only outline, a distortion check
        self.vertex_nodes = self._owned_nodes_of(self.V_u.dofmap.list[self.all_cells, :4])

    def _owned_nodes_of(self, cell_nodes):
        """The owned P2 nodes (V_u node indices) that belong to the given local cells' node lists,
        on every process: a node owned here may sit only in cells owned by another process (no
        ghost cells), so the marks are summed across processes (scatter_reverse) first."""
        imap = self.V_u.dofmap.index_map
        mark = la.vector(imap, 1)
        mark.array[:] = 0.0
        mark.array[np.asarray(cell_nodes).ravel()] = 1.0
        mark.scatter_reverse(la.InsertMode.add)
        return np.flatnonzero(mark.array[:imap.size_local] > 0.0)

    def _eval_phase(self, name, key):
        cells = self.phase_cells[name]
        if cells.size == 0:
            return np.zeros(0)
        return self.phase_exprs[name][key].eval(self.mesh, cells).ravel()

    def phase_results(self) -> dict:
        """Per-phase results at the current state (MPa, mm, %): volume change, largest deformed radius,
        largest von Mises Cauchy stress; tows: fibre-direction stress vs the cloth strength; Li:
        equivalent creep strain; pores: closure = loss of pore volume."""
        out = {}
        for name, (_, m) in self.phases.items():
            V0 = self.phase_volume0[name]
            if V0 <= 0.0:
                continue
            J = self._eval_phase(name, "J")
            V = self._sum(np.dot(self.phase_qp_volume[name], J))
            r = self._max_radius(self.phase_nodes[name])
            vm = self._eval_phase(name, "von_mises")
            d = {"volume0_mm3": V0 * self.symmetry_factor, "volume_change_pct": 100.0 * (V / V0 - 1.0),
                 "max_radius_mm": r, "max_radius_change_pct": 100.0 * (r / self.geo.radius_mm - 1.0),
                 "max_von_mises_MPa": self._max(vm.max(initial=0.0)),
                 "mean_von_mises_MPa": self._sum(np.dot(self.phase_qp_volume[name], vm)) / V0}
            if "p_over_K" in self.phase_exprs[name]:
                # u-p phase: the volume change its pressure implies, int p/K dV0 / V0; the discrete
                # volume balance makes volume_change_pct equal to it (to the Newton tolerance)
                pk = self._eval_phase(name, "p_over_K")
                d["pressure_volume_change_pct"] = 100.0 * self._sum(np.dot(self.phase_qp_volume[name], pk)) / V0
            if isinstance(m, TowElastic):
                fs = self._eval_phase(name, "fibre_stress")
                d["max_fibre_tension_MPa"] = self._max(fs.max(initial=-np.inf))
                d["max_fibre_compression_MPa"] = -self._max((-fs).max(initial=-np.inf))
                d["strength_MPa"] = m.strength_MPa
                d["max_von_mises_over_strength"] = d["max_von_mises_MPa"] / m.strength_MPa
            if isinstance(m, LiCreep):
                pe = self.p_eq.x.array
                d["max_equivalent_creep_strain"] = self._max(pe.max(initial=0.0))
                d["mean_equivalent_creep_strain"] = self._sum(np.dot(self.qp_volume, pe)) / self.total_volume
            if isinstance(m, SoftVoid):
                d["void_closure_pct"] = -d["volume_change_pct"]
            out[name] = d
        # the outline from the element vertices only: the measured diameter uses all P2 nodes, and
        # a large difference flags a mid-edge node dragged out by a collapsed element
        rv = self._max_radius(self.vertex_nodes)
        out["outline"] = {"max_radius_vertices_mm": rv,
                          "diameter_change_vertices_pct": 100.0 * (rv / self.geo.radius_mm - 1.0)}
        return out

    def _max_radius(self, nodes) -> float:
        """Largest deformed distance from the disc axis over the given (owned) P2 nodes, all processes (mm)."""
        X, x = self.node_coords[nodes], self.w.x.array
        r = np.hypot(X[:, 0] + x[self.node_dofs[nodes, 0]], X[:, 1] + x[self.node_dofs[nodes, 1]])
        return self._max(r.max(initial=0.0))

    def snapshot(self, t: float) -> dict:
        """Field values for output (fem/stepping/outputs.py): cell averages over all owned cells."""
        vm = np.zeros(self.all_cells.size)
        for name in self.phases:
            cells = self.phase_cells[name]
            if cells.size:
                v = self._eval_phase(name, "von_mises").reshape(cells.size, -1)
                vm[cells] = v @ self.qweights / self.qweights.sum()
        peq = np.zeros(self.all_cells.size)
        peq[self.cells] = self.cell_average(self.p_eq.x.array)
        return {"t": t, "u": self.w.x.array.copy(), "von_mises": vm, "p_eq": peq}

    # ------------------------------------------------------------------ helpers
    def apply_constraints(self, x, delta):
        x[self.constrained] = 0.0
        x[self.top_z] = -delta

    def _sum(self, v):
        return self.comm.allreduce(float(v), op=MPI.SUM)

    def _max(self, v):
        return self.comm.allreduce(float(v), op=MPI.MAX)

    def rms(self, values_at_qp):
        return math.sqrt(self._sum(np.dot(self.qp_volume, np.asarray(values_at_qp) ** 2)) / self.total_volume)

    def global_median(self, values):
        allv = self.comm.allgather(np.asarray(values))
        return float(np.median(np.concatenate(allv)))

    def cell_average(self, values_at_qp):
        v = np.asarray(values_at_qp).reshape(len(self.cells), -1)
        return v @ self.qweights / self.qweights.sum()

    def update_creep_increment(self, dt):
        qm = self.qm_expr.eval(self.mesh, self.cells).reshape(-1, 2)
        q_tr, mubar = qm[:, 0], np.full(qm.shape[0], self.mat.shear_modulus_MPa)
        self.trial_distance = self._max(qm[:, 1].max(initial=0.0))
        dp0 = self.dp_explicit.x.array[self.qs_dofs]
        dp = solve_creep_increment(q_tr, mubar, self.theta * dt * self.mat.creep_A_eff, self.mat.creep_n,
                                   self.mat.threshold_stress_MPa, dp0)
        self.dp_f.x.array[self.qs_dofs] = dp
        return q_tr, mubar, dp

    def assemble_residual(self):
        vec = fem.assemble_vector(self.R_form)
        vec.scatter_reverse(la.InsertMode.add)
        return vec.array.copy()   # owned entries are complete; ghost entries are partial

    def force_N(self, r):
        return self.symmetry_factor * self._sum(-r[self.top_z[self.top_z < self.n_owned]].sum())

    def _friction_residual(self, r, x, x_n, dt, eps_scale):
        """Add the Coulomb friction forces to the residual; return the data for the Jacobian."""
        if self.platen_spec.friction != "coulomb" or self.fr_z.size == 0:
            return None
        # eps = v_reg dt as in the axisymmetric model, but not below slip_floor_mm (1e-6 mm by
        # default): with eps ~ 1e-12 mm in the nanosecond first steps of a 30 MPa composite load the
        # node-wise friction switched sharply and Newton stalled. The floor changes the friction
        # force only for slips below ~1 nm (in the axisymmetric model it moved a 2 s Coulomb case by 0.19 %).
        eps = eps_scale * max(self.platen_spec.slip_regularization_mm_per_s * dt, self.platen_spec.slip_floor_mm)
        mu = self.platen_spec.mu
        # With quadratic faces the consistent nodal reactions of a uniform pressure are ~0 at the
        # vertices (all of it sits at the edge midpoints), so N_k hovers around 0 there. Clipping
        # at 0 switched friction on and off between Newton iterations; a signed N gave negative
        # tangential stiffness. A smooth positive part N+ = (N + sqrt(N^2 + d^2))/2 with
        # d = 1e-4 x the mean nodal force avoids both (it changes the friction force by < d/2 per node).
        Nr = -self.fr_sign * r[self.fr_z]
        d = 1e-4 * self.force_scale_N / max(self.n_top_global, 1) / self.symmetry_factor
        root_n = np.sqrt(Nr * Nr + d * d)
        N = 0.5 * (Nr + root_n)
        dN = 0.5 * (1.0 + Nr / root_n)       # dN+/dN
        sx = np.where(self.fr_x >= 0, x[self.fr_x] - x_n[self.fr_x], 0.0)
        sy = np.where(self.fr_y >= 0, x[self.fr_y] - x_n[self.fr_y], 0.0)
        root = np.sqrt(sx * sx + sy * sy + eps * eps)
        phx, phy = sx / root, sy / root
        hx, hy = self.fr_x >= 0, self.fr_y >= 0
        r[self.fr_x[hx]] += mu * N[hx] * phx[hx]
        r[self.fr_y[hy]] += mu * N[hy] * phy[hy]
        # d phi / d s = I/root - s s^T / root^3
        r3 = root ** 3
        return dict(N=N, dN=self.fr_sign * dN, phx=phx, phy=phy, dxx=1.0 / root - sx * sx / r3, dyy=1.0 / root - sy * sy / r3,
                    dxy=-sx * sy / r3, mu=mu)

    def _assemble_jacobian(self):
        if self._K is None:
            self._K = fem_petsc.create_matrix(self.J_form)
        self._K.zeroEntries()
        fem_petsc.assemble_matrix(self._K, self.J_form)
        self._K.assemble()
        if self._Kf is None:
            self._Kf = self._K.duplicate(copy=True)
            self._Kf.setOption(PETSc.Mat.Option.KEEP_NONZERO_PATTERN, True)
        return self._K

    def _system_matrix(self, K, fr):
        """Kf = K + friction linearisation, with the constrained rows/columns replaced by identity."""
        Kf = self._Kf
        K.copy(Kf, structure=PETSc.Mat.Structure.SAME_NONZERO_PATTERN)
        if fr is not None:
            off = self.global_offset
            mu = fr["mu"]
            for k in range(self.fr_z.size):
                gx, gy = self.fr_x[k], self.fr_y[k]
                cols, vals = K.getRow(int(self.fr_z[k] + off))
                # d(mu N phi)/du = mu phi dN/du + mu N dphi/ds ds/du,  dN/du = -K[z, :]
                if gx >= 0:
                    Kf.setValues([int(gx + off)], cols, -mu * fr["dN"][k] * fr["phx"][k] * vals, addv=PETSc.InsertMode.ADD_VALUES)
                if gy >= 0:
                    Kf.setValues([int(gy + off)], cols, -mu * fr["dN"][k] * fr["phy"][k] * vals, addv=PETSc.InsertMode.ADD_VALUES)
                muN = mu * fr["N"][k]
                if gx >= 0:
                    Kf.setValue(int(gx + off), int(gx + off), muN * fr["dxx"][k], addv=PETSc.InsertMode.ADD_VALUES)
                    if gy >= 0:
                        Kf.setValue(int(gx + off), int(gy + off), muN * fr["dxy"][k], addv=PETSc.InsertMode.ADD_VALUES)
                if gy >= 0:
                    Kf.setValue(int(gy + off), int(gy + off), muN * fr["dyy"][k], addv=PETSc.InsertMode.ADD_VALUES)
                    if gx >= 0:
                        Kf.setValue(int(gy + off), int(gx + off), muN * fr["dxy"][k], addv=PETSc.InsertMode.ADD_VALUES)
        Kf.assemble()
        return Kf

    def _solver(self, A):
        if self._ksp is None:
            self._ksp = self._make_gamg_ksp() if self.linear_solver == "gamg" else self._make_mumps_ksp()
        self._ksp.setOperators(A)
        if self.linear_solver == "gamg" and self._pmg is not None:
            self._update_pmg()
        return self._ksp

    def _make_mumps_ksp(self):
        ksp = PETSc.KSP().create(self.comm)
        ksp.setType("preonly")
        pc = ksp.getPC()
        pc.setType("lu")
        pc.setFactorSolverType("mumps")
        return ksp

    def _make_gamg_ksp(self):
        """Iterative solver of the u-p saddle point system: FGMRES on a Schur-complement field split
        (upper block-triangular factorisation). u block (P2 displacement): one cycle of a two-level
        p-multigrid (`_make_p1_coarse_space`, `_update_pmg`): 3 Chebyshev/Jacobi sweeps on P2, and on
        the P1 coarse level (Galerkin operator) one V-cycle of smoothed-aggregation AMG (GAMG) with the
        six rigid-body modes as near-nullspace. "-li3d_pmg 0" (PETSC_OPTIONS) puts GAMG directly on the
        P2 block instead. Schur block: one Jacobi sweep on the 'selfp' approximation
        A_pp - A_pu diag(A_uu)^-1 A_up (default) or on the scaled pressure mass matrix -(1/K + 1/G) M_p
        (Sp, elastic moduli of each u-p phase). Tolerance: KRYLOV_RTOL. Options prefix "li3d_".
        NOT THE DEFAULT: correct (same results as MUMPS), but measured 2026-12-02: 53 iterations per
        solve on the creeping bare-Li quarter disc, ~265 on the composite (tow/GPE stiffness contrast
        ~1e5), slower than MUMPS at these sizes; see README."""
        n_own = self.n_owned
        is_p = self.is_pressure_dof[:n_own]
        own = np.arange(n_own)
        u_loc, p_loc = own[~is_p], own[is_p]
        off = self.global_offset
        is_u = PETSc.IS().createGeneral((u_loc + off).astype(PETSc.IntType), comm=self.comm)
        is_pp = PETSc.IS().createGeneral((p_loc + off).astype(PETSc.IntType), comm=self.comm)
        # P2 node and displacement component of each local dof of W (-1: pressure dof)
        comp = np.full(self.w.x.array.size, -1, dtype=np.int64)
        node = np.full(self.w.x.array.size, -1, dtype=np.int64)
        for c in range(3):
            comp[self.node_dofs[:, c]] = c
            node[self.node_dofs[:, c]] = np.arange(len(self.node_dofs))
        # rigid-body modes on the owned u dofs, in the order of is_u
        modes = _rigid_body_modes(self.node_coords[node[u_loc]], comp[u_loc], self.comm)
        is_u.compose("nearnullspace", PETSc.NullSpace().create(vectors=modes, comm=self.comm))
        ksp = PETSc.KSP().create(self.comm)
        prefix = "li3d_"   # PETSC_OPTIONS="-li3d_ksp_monitor ..." overrides or adds settings
        ksp.setOptionsPrefix(prefix)
        ksp.setType("fgmres")
        ksp.setGMRESRestart(200)
        ksp.setTolerances(rtol=self.KRYLOV_RTOL, atol=0.0, max_it=self.KRYLOV_MAX_IT)
        pc = ksp.getPC()
        pc.setType("fieldsplit")
        pc.setFieldSplitIS(("u", is_u), ("p", is_pp))
        pc.setFieldSplitType(PETSc.PC.CompositeType.SCHUR)
        pc.setFieldSplitSchurFactType(PETSc.PC.SchurFactType.UPPER)
        M = fem_petsc.assemble_matrix(fem.form(self._schur_ufl, jit_options=JIT_OPTIONS))
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
        self._gamg_is = (is_u, is_pp, modes, Sp)   # keep them alive
        self._pmg = self._make_p1_coarse_space(3 * node[u_loc] + comp[u_loc], u_loc) if pmg else None
        return ksp

    def _make_p1_coarse_space(self, rows, u_loc):
        """p-multigrid for the P2 displacement block: the P1 vector space on the same mesh as the
        coarse level. P (rows: the owned u dofs of W in the order of the u split, u_loc; `rows`: their
        dofs 3 node + component in the collapsed P2 space V_u; columns: P1 dofs) is the P1 -> P2
        interpolation with the rows of constrained dofs removed, and the coarse near-nullspace holds
        the six rigid-body modes of the P1 nodes."""
        V1 = fem.functionspace(self.mesh, ("Lagrange", 1, (3,)))
        Iv = fem_petsc.interpolation_matrix(V1, self.V_u)
        Iv.assemble()
        ai, aj, av = Iv.getValuesCSR()
        n_v_owned = Iv.getLocalSize()[0]
        assert rows.min(initial=0) >= 0 and rows.max(initial=-1) < n_v_owned, "P2 u dof not owned by its W owner"
        cons = np.zeros(self.w.x.array.size, dtype=bool)
        cons[self.constrained] = True
        length = np.where(cons[u_loc], 0, ai[rows + 1] - ai[rows])
        ptr = np.concatenate([[0], np.cumsum(length)]).astype(PETSc.IntType)
        take = np.repeat(ai[rows], length) + (np.arange(ptr[-1]) - np.repeat(ptr[:-1], length))
        n1 = Iv.getLocalSize()[1]
        P = PETSc.Mat().createAIJ(size=((len(u_loc), PETSc.DECIDE), (n1, PETSc.DECIDE)),
                                  bsize=(1, 3), csr=(ptr, aj[take].astype(PETSc.IntType), av[take]), comm=self.comm)
        P.assemble()
        X1 = V1.tabulate_dof_coordinates()[: n1 // 3]
        modes = _rigid_body_modes(np.repeat(X1, 3, axis=0), np.tile(np.arange(3), n1 // 3), self.comm, bsize=3)
        return {"P": P, "modes": modes, "nns": PETSc.NullSpace().create(vectors=modes, comm=self.comm),
                "Ac": None, "V1": V1}

    def _update_pmg(self):
        """After each new system matrix: let the field split extract the u block A_uu, form the coarse
        operator A_c = P^T A_uu P (the Galerkin product, with the rigid-body near-nullspace for GAMG),
        and (first call) make the u split a two-level PCMG: Chebyshev/Jacobi smoothing on P2, one
        GAMG V-cycle on P1 as the coarse solve."""
        pmg, ksp = self._pmg, self._ksp
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

    # ------------------------------------------------------------------ Newton
    def _newton(self, dt, x_n, control, target, x_guess, delta_guess, max_it, eps_scale):
        x = self.w.x.array
        self.dt_A.value = self.theta * dt * self.mat.creep_A_eff
        self.dp_explicit.x.array[self.qs_dofs] = (1.0 - self.theta) * dt * self.rate_n
        delta = target if control == "gap" else delta_guess
        x[:] = x_guess
        self.apply_constraints(x, delta)
        F_scale, tol_u, tol_p, tol_F = self._tolerances(control, target, self.total_volume)
        self.force_scale_N = F_scale
        nsolve, alpha, prev = 0, 1.0, None
        n_own = self.n_owned
        top_own = self.top_z[self.top_z < n_own]
        while True:
            with self._timed("constitutive"):
                q_tr, mubar, dp = self.update_creep_increment(dt)
            with self._timed("assembly"):
                r = self.assemble_residual()
            Fz = self.force_N(r)
            with self._timed("friction"):
                fr = self._friction_residual(r, x, x_n, dt, eps_scale)
            ru = self._max(np.abs(r[self.free_u_owned]).max(initial=0.0))
            rp = self._max(np.abs(r[self.free_p_owned]).max(initial=0.0))
            f_err = abs(Fz - target) if control == "force" else 0.0
            if self.debug and self.comm.rank == 0:
                print(f"    it {nsolve} a={alpha:.3g}: |r_u|={ru:.3e}/{tol_u:.1e} |r_p|={rp:.3e}/{tol_p:.1e} "
                      f"|dF|={f_err:.3e}/{tol_F:.1e}")
                if self.debug_where and np.isfinite(ru):
                    k = self.free_u_owned[np.argmax(np.abs(r[self.free_u_owned]))]
                    node = np.flatnonzero((self.node_dofs == k).any(axis=1))[0]
                    ph = [n for n, nodes in self.phase_nodes.items() if node in nodes]
                    print(f"      max r_u at {self.node_coords[node]} phases {ph}")
            if not (math.isfinite(ru) and math.isfinite(rp)):
                merit = math.inf
            else:
                if ru <= tol_u and rp <= tol_p and f_err <= tol_F:
                    return self._converged(nsolve, Fz, delta, q_tr, mubar, dp)
                nu2 = self._sum(np.dot(r[self.free_u_owned], r[self.free_u_owned]))
                np2 = self._sum(np.dot(r[self.free_p_owned], r[self.free_p_owned]))
                merit = math.sqrt(nu2 / tol_u ** 2 + np2 / tol_p ** 2 + (f_err / tol_F) ** 2)
            if prev is not None and not merit < prev[2] and alpha > 1.0 / 64:
                alpha *= 0.5
                x[:n_own] = prev[0] + alpha * prev[3]
                self.w.x.scatter_forward()
                delta = prev[1] + alpha * prev[4]
                x[self.top_z] = -delta
                continue
            if not math.isfinite(merit):
                raise NewtonFailure("residual is not finite")
            if nsolve == max_it:
                break
            with self._timed("assembly"):
                K = self._assemble_jacobian()
            with self._timed("friction"):
                A = self._system_matrix(K, fr)
            with self._timed("solve"):
                # bordering: b = response to a unit platen motion (b_c = -1 on the top face)
                bc_vals = A.createVecRight()
                bc_vals.array[:] = 0.0
                bc_vals.array[top_own] = -1.0
                rhs_b = A.createVecLeft()
                rhs_b.set(0.0)
                rows = (self.constrained_owned + self.global_offset).astype(PETSc.IntType)
                A.zeroRowsColumns(rows, diag=1.0, x=bc_vals, b=rhs_b)
                ksp = self._solver(A)
                try:
                    ksp.setUp()
                except PETSc.Error as e:
                    raise NewtonFailure(f"LU factorisation failed ({e})") from e
                nsolve += 1
                rhs_a = A.createVecLeft()
                rhs_a.array[:] = -r[:n_own]
                rhs_a.array[self.constrained_owned] = 0.0
                sol_a = A.createVecRight()
                ksp.solve(rhs_a, sol_a)
                self.linear_solves += 1
                self._record_krylov(ksp)
                if (ksp.getConvergedReason() < 0 and self.linear_solver == "gamg"
                        and self.linear_solver_requested == "auto"):
                    # the automatic choice failed: MUMPS from here on (this solve included)
                    self.linear_solver_fallback = (f"Krylov solve failed (reason {ksp.getConvergedReason()}, "
                                                   f"{ksp.getIterationNumber()} its): switched to MUMPS")
                    if self.comm.rank == 0:
                        print(f"linear solver: {self.linear_solver_fallback}", flush=True)
                    self._ksp, self._pmg, self.linear_solver = None, None, "mumps"
                    ksp = self._solver(A)
                    ksp.setUp()
                    ksp.solve(rhs_a, sol_a)
                    self.linear_solves += 1
                if ksp.getConvergedReason() < 0:
                    raise NewtonFailure(f"linear solve failed (reason {ksp.getConvergedReason()})")
                a = sol_a.array.copy()
                ddelta = 0.0
                if control == "force":
                    sol_b = A.createVecRight()
                    ksp.solve(rhs_b, sol_b)
                    self.linear_solves += 1
                    self._record_krylov(ksp)
                    b = sol_b.array.copy()
                    # dF/du . v = -factor * sum over the top z rows of (K v)
                    va, vb = K.createVecRight(), K.createVecRight()
                    Ka, Kb = K.createVecLeft(), K.createVecLeft()
                    va.array[:] = a
                    vb.array[:] = b
                    K.mult(va, Ka)
                    K.mult(vb, Kb)
                    ga = -self.symmetry_factor * self._sum(Ka.array[top_own].sum())
                    gb = -self.symmetry_factor * self._sum(Kb.array[top_own].sum())
                    ddelta = (target - Fz - ga) / gb
                    a += ddelta * b
            if not np.all(np.isfinite(a)):
                raise NewtonFailure("Newton update is not finite")
            prev = (x[:n_own].copy(), delta, merit, a, ddelta)
            alpha = 1.0
            x[:n_own] += a
            self.w.x.scatter_forward()
            delta += ddelta
            x[self.top_z] = -delta
        raise NewtonFailure(f"no convergence in {max_it} iterations (|r_u|={ru:.3e}, |r_p|={rp:.3e}, "
                            f"|F-F*|={f_err:.3e} N)")

    def _record_krylov(self, ksp):
        """Keep the iteration count of an iterative solve (summary.json; also after an auto fallback)."""
        if self.linear_solver == "gamg":
            self.krylov_iterations.append(ksp.getIterationNumber())

    def commit_state(self, rate=None):
        t0 = time.perf_counter()
        C = self.Cc_new_expr.eval(self.mesh, self.cells).reshape(-1, 3, 3)
        C /= np.cbrt(np.linalg.det(C))[:, None, None]
        self.Cc_inv_n.x.array[self.qt_dofs] = C.ravel()
        self.p_eq.x.array[:] += self.dp_f.x.array[self.qs_dofs]
        if rate is not None:
            self.rate_n[:] = rate
        self.timings["constitutive"] += time.perf_counter() - t0

    # ------------------------------------------------------------------ measurements
    def measure(self):
        h0, D0 = self.geo.thickness_mm, self.geo.diameter_mm
        h = h0 - (2.0 if self.geo.use_symmetry else 1.0) * self.delta
        D = 2.0 * self._max_radius(self.meas_nodes)
        return {"gap_mm": h, "diameter_mm": D, "thickness_change_pct": 100.0 * (h0 - h) / h0,
                "diameter_change_pct": 100.0 * (D - D0) / D0}


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


class _Values:
    """A plain array with the `.x.array` access of a dolfinx Function (state used only in NumPy)."""

    def __init__(self, n):
        self.x = self
        self.array = np.zeros(n)
