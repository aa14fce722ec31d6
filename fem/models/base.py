"""The disc-model core shared by the axisymmetric (fem/models/axisym.py) and the 3D model
(fem/models/solid3d.py): the declared model interface, function spaces, the weak form of every
phase, the quadrature-point creep state and its return map, constraints, platen contact,
measurement, per-phase results and field snapshots. The Newton loop that drives it is
fem/models/newton.py; the friction law is fem/physics/friction.py; the laws are chosen from the
materials through the registry of fem/physics/laws.py.

What a dimension adds (small subclasses): its kinematics (fem/physics/kinematics.py), which
boundary dofs are constrained and which nodes touch a platen (`_boundary`), the force factor
(2 pi per radian, 4 for a quarter disc) and its summary extras.

Discretisation: P2 displacement with Taylor-Hood pressure: continuous P1 per u-p phase (Li, gel;
each phase its own field, zero outside it, so the pressure can jump at a phase interface and
each phase keeps its own discrete volume balance int_phase (J - 1) dV0 = int_phase p/K dV0), or,
for a single u-p phase, the enriched "P1+P0" (one more constant per cell, the axisymmetric
default: it makes the volume balance hold cell by cell, see docs/physics.md). Internal variables
(Cc^-1, equivalent creep strain) live at quadrature points. The platen displacement delta is one
global unknown (bordering, fem/models/newton.py). Units: mm, N, MPa, s.
"""
from __future__ import annotations

import math
import time
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import dolfinx_solver  # noqa: F401  (must precede dolfinx / petsc4py)
import basix
import basix.ufl
import numpy as np
import ufl
from dolfinx import fem, la
from dolfinx.fem import petsc as fem_petsc
from mpi4py import MPI
from petsc4py import PETSc

from fem.models import JIT_OPTIONS, assembly
from fem.models import rim_contact
from fem.models.contact import ContactNodes, PlatenContact
from fem.models.linear_solvers import LinearSolver, choose_reuse
from fem.models.measure import changes, max_radius_mm, thickness_mm
from fem.physics.friction import FrictionSpec
from fem.physics.anand_point import explicit_parts as anand_explicit_parts, flow_rates as anand_flow_rates
from fem.physics.creep_point import LOG_SERIES_LIMIT, MODE_STRESS, MODE_TANGENT, CreepPoints, kernel_threads
from fem.physics.laws import CreepState, LawInputs, law_class, make_law
from fem.physics.pore_closure import closure_at_pressure

PRESSURE_SPACES = ("P1+P0", "P1")   # enriched Taylor-Hood (default, axisymmetric), plain Taylor-Hood


DRAINAGE_DT_FRACTION = 0.25   # largest step / drainage time of a draining gel (dt_cap_s)


class NewtonFailure(RuntimeError):
    iterations = 0       # the work of the failed solve (fem/models/newton.py counts it into the step's)
    factorisations = 0


class StepTooLarge(NewtonFailure):
    """The converged step's strain increment is beyond the range of the tensor-log series;
    `factor` is the suggested step-size reduction."""

    def __init__(self, msg: str, factor: float):
        super().__init__(msg)
        self.factor = factor


@dataclass
class StepResult:
    iterations: int
    force_N: float
    max_dp: float     # largest pointwise equivalent creep increment over the step
    rms_dp: float     # volume-weighted RMS of the creep increment over the disc
    max_rate: float   # largest pointwise equivalent creep rate at the end of the step (1/s)
    rms_rate: float   # volume-weighted RMS creep rate at the end of the step (1/s)
    rate: np.ndarray | None = None   # pointwise creep rate at the end of the step (1/s)
    dp: np.ndarray | None = None     # pointwise creep increment over the step
    rms_elastic_strain: float = 0.0  # volume RMS of q / (3 mu) at the end of the step
    trial_distance: float = 0.0      # max |be_tr - I| of the step (must stay <= LOG_SERIES_LIMIT)
    factorisations: int = 0          # new Jacobian factorisations (< iterations with reuse_factorisation)
    min_J: float = 1.0               # smallest det F at a quadrature point of the creeping phase (mesh quality)


@runtime_checkable
class DiscModelInterface(Protocol):
    """What the runner (fem/stepping/run.py), the Newton loop and the outputs use of a model."""
    mesh: object
    geo: object
    W: object                 # mixed function space (u, p...)
    w: object                 # its unknown (fem.Function)
    Cc_inv_n: object          # creep state at t_n (quadrature Function)
    p_eq: object              # equivalent creep strain (.x.array, owned creep quadrature points)
    rate_n: np.ndarray        # creep rate at t_n (1/s)
    delta: float              # platen displacement (mm)
    theta: float              # creep integrator weight (1 backward Euler, 1/2 trapezoidal)
    timings: dict             # wall seconds by activity
    linear_solves: int
    factorisations: int
    linear_solver: LinearSolver
    phase_pressure: dict      # u-p phase -> sub-spaces of W whose sum is its pressure
    material_id: np.ndarray   # cell tag of each owned cell (field output)
    is_pressure_dof: np.ndarray
    constrained: np.ndarray

    def commit_state(self, rate=None) -> None: ...
    def measure(self) -> dict: ...
    def platen_force_N(self) -> float: ...
    def snapshot(self, t: float) -> dict: ...
    def rms(self, values_at_qp) -> float: ...
    def global_median(self, values) -> float: ...
    def extra_results(self) -> dict: ...


class DiscModel:
    """The shared core; subclasses set `kinematics`, `inplane_components`, `force_factor` and
    implement `_boundary()` and `extra_results()`."""
    kinematics = None           # u_components; F(u, x), grad(v, x), weight(x) (None: 1)
    inplane_components = 2      # slip components of a platen node (1: radial)
    dim = 3

    def __init__(self, mesh, geo, phases: dict, platen: FrictionSpec, quadrature_degree: int = 4,
                 theta: float = 1.0, cell_tags=None, fibre_direction: dict | None = None,
                 pressure_space: str = "P1", linear_solver: str = "auto",
                 reuse_factorisation: bool | None = None):
        """phases: name -> (cell tags or None for all cells, material); exactly one creeping
        material (fem/physics/materials.py LiCreep). fibre_direction: tow cell tag -> callable
        x -> (3, n) unit fibre direction (meshes.composite.tangent_function)."""
        if not 0.5 <= theta <= 1.0:
            raise ValueError(f"theta = {theta}: must be 0.5 <= theta <= 1")
        self.mesh, self.geo, self.platen_spec, self.theta = mesh, geo, platen, theta
        self.comm = mesh.comm
        self.phases = phases
        self.cell_tags = cell_tags
        self.timings = defaultdict(float)   # wall seconds by activity (for the benchmarks)
        self.linear_solves = 0
        self.factorisations = 0             # Jacobian factorisations (or preconditioner set-ups)
        self.delta = 0.0                    # platen displacement (mm), positive closes the gap
        self.all_cells = np.arange(mesh.topology.index_map(mesh.topology.dim).size_local, dtype=np.int32)
        classes = {k: law_class(m) for k, (_, m) in phases.items()}
        up = [k for k, c in classes.items() if c.mixed_up]
        creep = [k for k, c in classes.items() if c.creeping]
        if len(creep) != 1:
            raise ValueError(f"phases: exactly one creeping (LiCreep) phase is needed, got {creep}")
        self.creep_phase = creep[0]
        self.mat = phases[self.creep_phase][1]
        self._setup_spaces(quadrature_degree, pressure_space, len(up))
        # phase -> the sub-spaces of W whose sum is its pressure (P1, plus the cell constants of P1+P0)
        if pressure_space == "P1+P0":
            self.phase_pressure = {up[0]: (1, 2)}
        else:
            self.phase_pressure = {k: (i + 1,) for i, k in enumerate(up)}
        self.phase_cells = {k: self._owned_cells(tags) for k, (tags, _) in phases.items()}
        self.cells = self.phase_cells[self.creep_phase]   # the creep state lives in these cells
        nq = len(self.qweights)
        # quadrature dofs of the owned creep cells, in (cell, point) order
        self.qs_dofs = self.Qs.dofmap.list[self.cells].reshape(-1)
        self.qt_dofs = (9 * self.Qt.dofmap.list[self.cells].reshape(-1)[:, None] + np.arange(9)).reshape(-1)
        assert self.qs_dofs.size == len(self.cells) * nq

        self.w = fem.Function(self.W, name="w")
        self.Cc_inv_n = fem.Function(self.Qt, name="Cc_inv")
        self.Cc_inv_n.x.array[:] = np.tile(np.eye(3).ravel(), self.Cc_inv_n.x.array.size // 9)
        self.p_eq = _Values(self.qs_dofs.size)   # equivalent creep strain, owned (cell, point) order
        self.dt_A = 0.0                          # theta * dt * A_eff of the step (MPa^-n)
        self.dp_explicit = np.zeros(self.qs_dofs.size)   # (1 - theta) dt pdot_n
        self.rate_n = np.zeros(self.qs_dofs.size)
        # the Anand law (LiAnand) carries a second state per point, the flow resistance s (MPa); q_n,
        # the von Mises Kirchhoff stress at t_n, gives its explicit rates (fem/physics/anand_point.py)
        self.anand = bool(getattr(self.mat, "is_anand", False))
        self.s_n = np.full(self.qs_dofs.size, self.mat.initial_resistance_MPa if self.anand else 0.0)
        self.s_b = self.s_n.copy()
        self.q_n = np.zeros(self.qs_dofs.size)
        # the pointwise creep kernel (fem/physics/creep_point.py) and the quadrature functions the
        # weak form reads: deviatoric stress and tangent at the active components of F, von Mises
        act = self.kinematics.active
        self.creep_points = CreepPoints(self.qs_dofs.size, act, kernel_threads(self.mesh.comm.size),
                                        self.kinematics.thickness_axis)
        # a ply with a second Li branch (PlyViscoplastic.branch2): its own kernel work arrays and state
        # Cc^-1 (Cc2_inv_n); the weak form reads the sum of the two branches' stresses and tangents
        self.mat2 = self.mat.branch2() if getattr(self.mat, "has_branch2", False) else None
        self.dt_A2 = 0.0
        if self.mat2 is not None:
            self.creep_points2 = CreepPoints(self.qs_dofs.size, act, kernel_threads(self.mesh.comm.size),
                                             self.kinematics.thickness_axis)
            self.Cc2_inv_n = fem.Function(self.Qt, name="Cc2_inv")
            self.Cc2_inv_n.x.array[:] = self.Cc_inv_n.x.array
        else:
            self.creep_points2 = self.Cc2_inv_n = None
        if getattr(self.mat, "is_hill", False) and theta != 1.0:
            raise ValueError(f"theta = {theta}: the Hill-Norton ply is integrated by backward Euler only (theta = 1)")
        na = len(act)
        self.P_q = fem.Function(self._quadrature_space((na,)), name="P_dev")
        self.A_q = fem.Function(self._quadrature_space((na, na)), name="dP_dev_dF")
        self.vm_q = fem.Function(self.Qs, name="von_mises")
        # index arrays of the creep points in the quadrature functions (a slice where they are in
        # order, as for a single-phase disc: no gather/scatter copies then)
        self._qs_ix, self._qt_ix = _as_slice(self.qs_dofs), _as_slice(self.qt_dofs)
        self._pq_ix = _as_slice((na * self.qs_dofs[:, None] + np.arange(na)).reshape(-1))
        self._aq_ix = _as_slice((na * na * self.qs_dofs[:, None] + np.arange(na * na)).reshape(-1))
        self._state_valid = False     # creep_points holds the stress of the current state
        self._tangent_valid = False   # ... and its tangent
        self.fibre_dir = None
        self._build_forms(fibre_direction or {})
        self.qp_volume = self._qp_volume(self.cells)
        self.total_volume = self._sum(self.qp_volume.sum())
        self._setup_dofs()
        # the serial element assembler of the Jacobian where it applies (fem/models/assembly.py)
        self.assembler = assembly.CreepAssembler(self, self.J_form) if assembly.applies(self) else None
        n_dofs = self.W.dofmap.index_map.size_global * self.W.dofmap.index_map_bs
        self.linear_solver = LinearSolver(self, linear_solver, n_dofs, len(phases), self.dim)
        self._setup_phase_outputs()
        self._K = None
        self._A = None
        self._area_form = None   # platen contact areas of the Tresca cap (built on first use)
        self._rim_area_form = None   # ... of the side facets, for rim nodes on a platen
        # chord iterations (fem/models/newton.py): as requested, or by the measured rule
        self.reuse_factorisation = choose_reuse(reuse_factorisation, n_dofs, len(phases), self.dim)
        self.factorisation = None                        # (A, K, b, dF.b) of the last factorisation

    # ------------------------------------------------------------------ spaces and forms
    def _setup_spaces(self, qd: int, pressure_space: str, pressure_fields: int) -> None:
        if pressure_space not in PRESSURE_SPACES:
            raise ValueError(f"pressure_space = {pressure_space!r}: must be one of {', '.join(PRESSURE_SPACES)}")
        if pressure_fields > 1 and pressure_space != "P1":
            raise ValueError("several pressure fields need pressure_space = 'P1'")
        mesh = self.mesh
        cell = mesh.basix_cell()
        P2 = basix.ufl.element("Lagrange", cell.name, 2, shape=(self.kinematics.u_components,))
        P1 = basix.ufl.element("Lagrange", cell.name, 1)
        elements = [P2] + [P1] * max(pressure_fields, 1)
        elements += [basix.ufl.element("DG", cell.name, 0)] if pressure_space == "P1+P0" else []
        self.pressure_space = pressure_space
        self.W = fem.functionspace(mesh, basix.ufl.mixed_element(elements))
        self.dx = ufl.Measure("dx", domain=mesh, metadata={"quadrature_degree": qd, "quadrature_scheme": "default"})
        Qs_el = basix.ufl.quadrature_element(cell.name, value_shape=(), scheme="default", degree=qd)
        Qt_el = basix.ufl.quadrature_element(cell.name, value_shape=(3, 3), scheme="default", degree=qd)
        self.Qs = fem.functionspace(mesh, Qs_el)
        self.Qt = fem.functionspace(mesh, Qt_el)
        self.qpoints = self.Qs.element.interpolation_points
        _, self.qweights = basix.make_quadrature(cell, qd)
        self._qd = qd

    def _quadrature_space(self, shape):
        el = basix.ufl.quadrature_element(self.mesh.basix_cell().name, value_shape=shape, scheme="default",
                                          degree=self._qd)
        return fem.functionspace(self.mesh, el)

    def _build_forms(self, fibre_direction: dict) -> None:
        """Residual R = sum over phases of int P : grad v (+ the pressure equation of a u-p phase),
        its Jacobian, and the expressions of the creep return map."""
        mesh, kin = self.mesh, self.kinematics
        parts, tests, trials = ufl.split(self.w), ufl.TestFunctions(self.W), ufl.TrialFunctions(self.W)
        u, v = parts[0], tests[0]
        x = ufl.SpatialCoordinate(mesh)
        F = kin.deformation_gradient(u, x)
        grad_v = kin.grad(v, x)
        wgt = kin.weight(x)
        dxm = ufl.Measure("dx", domain=mesh, subdomain_data=self.cell_tags, metadata=self.dx.metadata())
        # a ply whose pores close (PlyViscoplastic.drains): c and dc/dp at the quadrature points, filled
        # with the branch's stress at every iterate (_run_creep_points; fem/physics/pore_closure.py)
        self.closure_q = fem.Function(self.Qs, name="ply_closure") if getattr(self.mat, "drains", False) else None
        self.closure_dp_q = fem.Function(self.Qs, name="ply_closure_dp") if self.closure_q is not None else None
        state = CreepState(self.kinematics.active, self.P_q, self.A_q, self.vm_q, self.closure_q, self.closure_dp_q)
        du = ufl.TrialFunction(self.W)
        grad_du = kin.grad(ufl.split(du)[0], x)
        tangent = 0

        def weighted(e):   # the integration weight of the kinematics (R per radian; none in 3D)
            return e if wgt is None else e * wgt

        self.laws, self._up_indicator, self._p_over_K = {}, {}, {}
        # a draining gel (fem/physics/laws.py GelLaw.closure): the step length and its closure state
        self.dt_const = fem.Constant(mesh, 0.0)
        draining = [k for k, (_, m) in self.phases.items() if getattr(m, "drains", False)]
        # gel_closure_n: c at the start of the step, read by the weak form (set in prepare_step);
        # gel_closure: c at the last accepted time (set in commit_state; checkpointed)
        self.gel_closure_n = fem.Function(self.Qs, name="gel_closure") if draining else None
        self.gel_closure = np.zeros(self.gel_closure_n.x.array.size) if draining else None
        # step-size cap (s): a draining gel's closure is integrated by backward Euler, whose lag per
        # step is 2.7 % of the remaining closure at dt = tau / 4 (0.8 against exp(-1/4) = 0.779)
        self.dt_cap_s = min((DRAINAGE_DT_FRACTION * self.phases[k][1].drainage_time_s for k in draining),
                            default=math.inf)
        R, schur = 0, None
        for name, (tags, m) in self.phases.items():
            dxp = self.dx if tags is None else sum((dxm(int(t)) for t in tags[1:]), dxm(int(tags[0])))
            ks = self.phase_pressure.get(name, ())
            p = sum((parts[i] for i in ks[1:]), parts[ks[0]]) if ks else None
            q = sum((tests[i] for i in ks[1:]), tests[ks[0]]) if ks else None
            fibre = self._fibre_field(fibre_direction, tags) if law_class(m).needs_fibre_direction else None
            law = make_law(m, LawInputs(mesh, F, p, state, fibre, self.dt_const, self.gel_closure_n))
            self.laws[name] = law
            R = R + weighted(ufl.inner(law.P, grad_v)) * dxp
            dP = law.tangent(grad_du)
            if dP is not None:   # the quadrature-function part of the stress (creep kernel)
                tangent = tangent + weighted(ufl.inner(dP, grad_v)) * dxp
            if ks:
                self._p_over_K[name] = law.pressure_volume_strain(p)
                R = R + weighted(law.volumetric_residual(p) * q) * dxp
                dV = law.volumetric_tangent(sum((ufl.split(du)[i] for i in ks[1:]), ufl.split(du)[ks[0]]))
                if dV is not None:   # the quadrature-function part of the pressure equation (pore closure)
                    tangent = tangent + weighted(dV * q) * dxp
                self._up_indicator[ks[0]] = fem.form(tests[ks[0]] * dxp, jit_options=JIT_OPTIONS)
                # Schur-complement preconditioner of the iterative solver: -(1/K + 1/G) M_p
                p_t = trials[ks[0]]
                schur_form = -(1.0 / getattr(law, "K0", law.K) + 1.0 / law.mu) * p_t * tests[ks[0]] * dxp
                schur = schur_form if schur is None else schur + schur_form
        self.law = self.laws[self.creep_phase]
        self._schur_ufl = schur   # compiled only for the iterative solver
        self.R_form = fem.form(R, jit_options=JIT_OPTIONS)
        # UFL differentiates everything but the quadrature functions; the kernel's tangent adds the rest
        self.J_form = fem.form(ufl.derivative(R, self.w, du) + tangent, jit_options=JIT_OPTIONS)
        # F (9 components) and the creep phase's pressure at the quadrature points: the kernel's input
        ks = self.phase_pressure[self.creep_phase]
        p_creep = sum((parts[i] for i in ks[1:]), parts[ks[0]])
        self.Fp_expr = fem.Expression(ufl.as_vector([F[i, j] for i in range(3) for j in range(3)] + [p_creep]),
                                      self.qpoints)
        jw = abs(ufl.JacobianDeterminant(mesh))
        self._jw_expr = fem.Expression(jw * wgt if wgt is not None else jw + 0.0 * x[0], self.qpoints)

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
        """Physical integration weight of each quadrature point of the cells (dV0; r dA per radian)."""
        jw = self._jw_expr.eval(self.mesh, cells)
        return (jw.reshape(len(cells), -1) * self.qweights).ravel()

    # ------------------------------------------------------------------ dofs
    def _boundary(self):
        """(constrained local dofs: list of arrays, ContactNodes of the owned platen nodes,
        moving-platen normal dofs (local, ghosts included))."""
        raise NotImplementedError

    def _setup_dofs(self) -> None:
        V, m = self.W.sub(0).collapse()
        self.V_u = V
        self.node_dofs = np.asarray(m).ravel().astype(np.int64).reshape(-1, self.kinematics.u_components)
        self.node_coords = V.tabulate_dof_coordinates()
        imap = self.W.dofmap.index_map
        self.n_owned = imap.size_local * self.W.dofmap.index_map_bs
        self.global_offset = imap.local_range[0] * self.W.dofmap.index_map_bs
        cons, nodes, moving_z = self._boundary()
        # the dofs of each phase's pressure field outside that phase (tows, pores, the other u-p
        # phase) have no equation: fixed at 0
        mp_all = []
        for k, form in self._up_indicator.items():
            ind = fem.assemble_vector(form)
            ind.scatter_reverse(la.InsertMode.add)
            ind.scatter_forward()
            _, mp = self.W.sub(k).collapse()
            mp = np.asarray(mp).ravel().astype(np.int64)
            cons.append(mp[ind.array[mp] == 0.0])
            mp_all.append(mp)
        for ks in self.phase_pressure.values():
            for k in ks[1:]:
                # P1 + P0: a constant pressure is in both parts, so fix the constant of one cell at 0
                p0 = np.asarray(self.W.sub(k).collapse()[1]).ravel().astype(np.int64)
                cons.append(p0[:1])
                mp_all.append(p0)
        mp = np.concatenate(mp_all)
        n = self.w.x.array.size
        is_p = np.zeros(n, dtype=bool)
        is_p[mp] = True
        self.is_pressure_dof = is_p   # local dofs (ghosts included) of the pressure fields
        self._base_constrained = np.unique(np.concatenate(cons))
        self._base_nodes, self._base_moving_z = nodes, np.asarray(moving_z, dtype=np.int64)
        # contact of the free surface (the rim) with the platens: candidates and the active set
        self.rim_nodes, self.rim_t = self._free_surface_nodes()
        self.rim_owned = self.node_dofs[self.rim_nodes, 0] < self.n_owned   # (for counting)
        self.rim_active = np.zeros(len(self.rim_nodes), dtype=bool)   # this step's set
        self.rim_committed = self.rim_active.copy()                   # the set of the last accepted step
        self._set_contact()
        self.meas_nodes = np.flatnonzero(self.node_dofs[:, 0] < self.n_owned)   # owned P2 nodes

    def _set_contact(self) -> None:
        """Constrained dofs, free dofs and platen contact nodes: the platen faces plus the free-surface
        nodes of the active set (fem/models/rim_contact.py), whose axial position is held on the platen
        plane: u_z = H - Z - delta on the loaded platen, u_z = -Z on the fixed bottom platen."""
        act = rim_contact.active_set(self)
        self.constrained = np.unique(np.concatenate([self._base_constrained, act.constrained]))
        self.constrained_owned = self.constrained[self.constrained < self.n_owned]
        n = self.w.x.array.size
        mask = np.ones(n, dtype=bool)
        mask[self.constrained] = False
        owned = np.arange(n) < self.n_owned
        is_p = self.is_pressure_dof
        self.free_u_owned = np.flatnonzero(mask & ~is_p & owned)
        self.free_p_owned = np.flatnonzero(mask & is_p & owned)
        b = self._base_nodes
        nodes = ContactNodes(*(np.concatenate([getattr(b, k), getattr(act.nodes, k)]) for k in ("z", "t", "sign", "moving")))
        self.contact = PlatenContact(self.platen_spec, nodes, self.force_factor, self.comm, self.global_offset)
        self.moving_z = np.concatenate([self._base_moving_z, act.moving_z])
        self._moving_offset = np.concatenate([np.zeros(len(self._base_moving_z)), act.moving_offset])
        self._fixed_z, self._fixed_value = act.fixed_z, act.fixed_value
        self.factorisation = None   # the constrained rows changed: a stored factorisation is stale
        if getattr(self, "linear_solver", None) is not None:
            self.linear_solver.constraints_changed()

    # rim_marker(x): which points x (3, n) of the reference configuration lie on the free side surface,
    # the candidates for rim contact (a method of the model); None: no rim contact
    rim_marker = None

    def _free_surface_nodes(self):
        """(node indices, in-plane dofs (n, k), -1 where fixed) of the free-surface nodes (ghosts
        included) that may roll onto a platen (fem/models/rim_contact.py)."""
        if self.rim_marker is None:
            return np.zeros(0, dtype=np.int64), np.zeros((0, self.inplane_components), dtype=np.int64)
        return rim_contact.candidates(self, self.rim_marker)

    def apply_constraints(self, x: np.ndarray, delta: float) -> None:
        x[self.constrained] = 0.0
        self.set_platen(x, delta)

    def set_platen(self, x: np.ndarray, delta: float) -> None:
        """The platen-held normal dofs at platen displacement delta (mm)."""
        x[self.moving_z] = self._moving_offset - delta
        x[self._fixed_z] = self._fixed_value

    # ------------------------------------------------------------------ rim contact (active set)
    def begin_step_contact(self) -> None:
        """A step (or its retry) starts from the active set of the last accepted step (a collective
        decision: _set_contact is collective, and one process's set may change while another's does not)."""
        if self._max(float(not np.array_equal(self.rim_active, self.rim_committed))):
            self.rim_active = self.rim_committed.copy()
            self._set_contact()

    def update_rim_contact(self) -> bool:
        """After a converged solve: add the free-surface nodes that passed a platen, release held ones
        that pull on it; True (on every process) when the set changed and the step must be re-solved."""
        new = rim_contact.updated_set(self)
        if not self._max(float(np.any(new != self.rim_active))):
            return False
        self.rim_active = new
        self._set_contact()
        return True


    # ------------------------------------------------------------------ pieces of a Newton iteration
    @contextmanager
    def timed(self, key: str):
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.timings[key] += time.perf_counter() - t0

    def prepare_step(self, dt: float) -> None:
        """Set the step's creep constants: theta dt A_eff (Norton) or theta dt (Anand) and the explicit
        parts of the increment (and of the flow resistance); the step length of a draining gel."""
        self.dt_const.value = dt
        if self.gel_closure_n is not None:
            self.gel_closure_n.x.array[:] = self.gel_closure
        if self.anand:
            self.dt_A = self.theta * dt
            anand_explicit_parts(self.q_n, self.s_n, self.mat.kernel_array, float(dt), float(self.theta),
                                 self.dp_explicit, self.s_b)
        else:
            self.dt_A = self.theta * dt * self.mat.creep_A_eff
            self.dp_explicit[:] = (1.0 - self.theta) * dt * self.rate_n
            if self.mat2 is not None:   # Hill-Norton: backward Euler (theta = 1)
                self.dt_A2 = dt * self.mat2.creep_A_eff

    def _run_creep_points(self, mode: int, new_state: bool = True) -> None:
        """The pointwise creep law (fem/physics/creep_point.py) at the current displacement and pressure;
        new_state = False: the tangent at the state of the last call (the ply's closure is already set)."""
        Fp = self.Fp_expr.eval(self.mesh, self.cells).reshape(-1, 10)
        F = np.ascontiguousarray(Fp[:, :9]).reshape(-1, 3, 3)
        Cn = self.Cc_inv_n.x.array[self._qt_ix].reshape(-1, 3, 3)
        # the serial assembler takes the whole tangent, p d(cof F)/dF included; the UFL form adds that
        p = np.ascontiguousarray(Fp[:, 9]) if self.assembler is not None else None
        self.creep_points.run(self.mat, F, Cn, self.dp_explicit, self.dt_A, mode, p, self.s_b)
        if self.closure_q is not None and new_state:   # the ply's pore closure at the current pressure
            m = self.mat
            c, dc = closure_at_pressure(Fp[:, 9], self.gel_closure_n.x.array[self._qs_ix], float(self.dt_const.value),
                                        m.porosity, m.closure_B, m.closure_m, m.closure_pc_MPa)
            self.closure_q.x.array[self._qs_ix] = c
            self.closure_dp_q.x.array[self._qs_ix] = dc
        if self.mat2 is not None:   # the second branch (no pressure term: the first carries p cof F)
            cp, cp2 = self.creep_points, self.creep_points2
            cp2.run(self.mat2, F, self.Cc2_inv_n.x.array[self._qt_ix].reshape(-1, 3, 3), self.dp_explicit,
                    self.dt_A2, mode, None, self.s_b)
            cp.P += cp2.P
            if mode == MODE_TANGENT:
                cp.A += cp2.A
            np.maximum(cp.dist, cp2.dist, out=cp.dist)

    def update_creep_increment(self, dt: float):
        """Pointwise return map and stress at the current displacement, with the consistent tangent
        unless factorisations are reused (then most iterates need no Jacobian, and
        `assemble_jacobian` computes the tangent when one is needed); returns (q_tr, mubar, dp)."""
        mode = MODE_STRESS if self.reuse_factorisation else MODE_TANGENT
        self._run_creep_points(mode)
        cp = self.creep_points
        self._state_valid = True
        self._tangent_valid = mode == MODE_TANGENT
        self.P_q.x.array[self._pq_ix] = cp.P.ravel()
        self.vm_q.x.array[self._qs_ix] = cp.vm
        self.trial_distance = self._max(cp.dist.max(initial=0.0))
        return cp.q_tr.copy(), np.full(cp.q_tr.size, self.mat.shear_modulus_MPa), cp.dp.copy()

    def assemble_residual(self) -> np.ndarray:
        vec = fem.assemble_vector(self.R_form)
        vec.scatter_reverse(la.InsertMode.add)
        return vec.array.copy()   # owned entries are complete; ghost entries are partial

    def assemble_jacobian(self) -> PETSc.Mat:
        """Jacobian on all dofs (no constraints), in one reused PETSc matrix, at the state of the
        last `update_creep_increment`: by the serial element assembler (fem/models/assembly.py) or
        by dolfinx from the UFL form."""
        assert self._state_valid, "assemble_jacobian needs update_creep_increment at the same state"
        if not self._tangent_valid:
            self._run_creep_points(MODE_TANGENT, new_state=False)
            self._tangent_valid = True
        cp = self.creep_points
        if self.assembler is not None:
            self._K = self.assembler.assemble(cp.A, cp.C, 1.0 / self.mat.bulk_modulus_MPa)
        else:
            if self._K is None:
                self._K = fem_petsc.create_matrix(self.J_form)
            self.A_q.x.array[self._aq_ix] = cp.A.ravel()
            self._K.zeroEntries()
            fem_petsc.assemble_matrix(self._K, self.J_form)
            self._K.assemble()
        if self._A is None:
            self._A = self._K.duplicate(copy=True)
            self._A.setOption(PETSc.Mat.Option.KEEP_NONZERO_PATTERN, True)
        return self._K

    def system_matrix(self, K: PETSc.Mat, friction) -> PETSc.Mat:
        """K plus the friction linearisation, in the reused matrix A (same pattern as K)."""
        return self.contact.system_matrix(K, self._A, friction)

    def friction_cap(self, x_n: np.ndarray):
        """Tresca cap m k a_k (N) of the friction force of every platen node (fem/physics/friction.py),
        a_k the node's share of the current contact area at the state x_n (mm^2; per radian in the
        axisymmetric model): the consistent nodal area int phi_k da of the platen faces, with
        da = J |F^-T N| dA (Nanson). None without a cap."""
        spec = self.platen_spec
        if not spec.capped:
            return None
        if self._area_form is None:
            self._w_area = fem.Function(self.W)
            gdim = self.mesh.geometry.dim
            H = self.geo.height_mm
            tol = 1e-8 * max(self.geo.radius_mm, 1.0)
            faces = [(1, lambda x: np.abs(x[gdim - 1] - H) < tol)]
            if not self.geo.use_symmetry:   # the fixed bottom platen
                faces.append((2, lambda x: np.abs(x[gdim - 1]) < tol))
            self._area_form = self._build_area_form(faces)
        self._w_area.x.array[:] = x_n

        def nodal_area(form):
            vec = fem.assemble_vector(form)
            vec.scatter_reverse(la.InsertMode.add)
            return np.maximum(vec.array[self.contact.nodes.z], 0.0)

        a = nodal_area(self._area_form)
        n_face = len(self._base_nodes.z)
        if len(a) > n_face:   # free-surface nodes on the platen: their share of the side facets' area
            if self._rim_area_form is None:
                self._rim_area_form = self._build_area_form([(3, self.rim_marker)])
            a[n_face:] = nodal_area(self._rim_area_form)[n_face:]
        return spec.tresca_m * spec.shear_flow_stress_MPa * a

    def _build_area_form(self, faces):
        """The nodal shares int phi_k da of the current area of the facets that the markers of
        `faces` [(tag, marker)] select, at the state in self._w_area."""
        mesh, kin = self.mesh, self.kinematics
        gdim = mesh.geometry.dim
        fdim = mesh.topology.dim - 1
        from dolfinx import mesh as dmesh
        idx, val = [], []
        for tag, marker in faces:
            f = dmesh.locate_entities_boundary(mesh, fdim, marker)
            idx.append(f)
            val.append(np.full(f.size, tag, dtype=np.int32))
        idx, val = np.concatenate(idx), np.concatenate(val)
        order = np.argsort(idx)
        tags = dmesh.meshtags(mesh, fdim, idx[order], val[order])
        ds = ufl.Measure("ds", domain=mesh, subdomain_data=tags,
                         metadata={"quadrature_degree": self._qd})
        u = ufl.split(self._w_area)[0]
        v = ufl.TestFunctions(self.W)[0]
        x = ufl.SpatialCoordinate(mesh)
        F = kin.deformation_gradient(u, x)
        n = ufl.FacetNormal(mesh)
        N3 = ufl.as_vector([n[i] for i in range(gdim)] + [0.0] * (3 - gdim))
        da = ufl.det(F) * ufl.sqrt(ufl.inner(ufl.inv(F).T * N3, ufl.inv(F).T * N3))
        wgt = kin.weight(x)
        e = v[gdim - 1] * da * (wgt if wgt is not None else 1.0)
        form = sum((e * ds(tag) for tag, _ in faces[1:]), e * ds(faces[0][0]))
        return fem.form(form, jit_options=JIT_OPTIONS)

    def platen_force_N(self, r: np.ndarray | None = None) -> float:
        return self.contact.force(self.assemble_residual() if r is None else r)

    def tolerances(self, force_target_N: float) -> tuple[float, float, float, float]:
        """(force scale, nodal force tol, pressure-equation tol, platen force tol) of a step.

        Nodal force imbalance <= 1e-7 of the platen force: far below any measurable effect, and
        above the round-off floor reached with strongly distorted shear layers (~2e-8)."""
        F_scale = max(force_target_N, math.pi * self.geo.radius_mm ** 2 * 1e-3)
        return F_scale, 1e-7 * F_scale / (2.0 * math.pi), 1e-11 * self.total_volume, 1e-9 * F_scale

    def converged(self, nsolve: int, force: float, delta: float, q_tr, mubar, dp) -> StepResult:
        """The result of a converged Newton solve; a step beyond the tensor-log range is refused."""
        if self.trial_distance > LOG_SERIES_LIMIT:
            raise StepTooLarge(f"strain increment too large for the tensor-log series "
                               f"(|be_tr - I| = {self.trial_distance:.3g} > {LOG_SERIES_LIMIT})",
                               max(0.1, 0.7 * LOG_SERIES_LIMIT / self.trial_distance))
        self.delta = delta
        q = q_tr - 3.0 * mubar * dp
        if self.anand:   # the end-of-step rate at the end-of-step resistance
            rate = np.empty_like(q)
            anand_flow_rates(q, self.creep_points.s_out, self.mat.kernel_array, rate)
        else:
            over = np.maximum(q - self.mat.threshold_stress_MPa, 0.0)
            rate = self.mat.creep_A_eff * over ** self.mat.creep_n
        if self.mat2 is not None:   # the step control sees the faster of the two branches at each point
            cp2 = self.creep_points2
            q2 = np.maximum(cp2.q_tr - 3.0 * cp2.mu * cp2.dp, 0.0)
            rate = np.maximum(rate, self.mat2.creep_A_eff * q2 ** self.mat2.creep_n)
            dp = np.maximum(dp, cp2.dp)
        return StepResult(nsolve, force, self._max(dp.max(initial=0.0)), self.rms(dp),
                          self._max(rate.max(initial=0.0)), self.rms(rate), rate, dp.copy(),
                          self.rms(q / (3.0 * mubar)), self.trial_distance,
                          min_J=-self._max(-self.creep_points.J.min(initial=math.inf)))

    def commit_state(self, rate: np.ndarray | None = None) -> None:
        """Accept the step: Cc^-1 <- updated (renormalised to det = 1), p <- p + dp, and the creep
        rate at the new time (the explicit part of the next theta-method step)."""
        with self.timed("constitutive"):
            # Cc^-1 at t_n+1 (det 1) from the last iterate, the converged one (fem/models/newton.py
            # evaluates the creep law at every iterate before testing convergence)
            assert self._state_valid, "commit_state needs update_creep_increment at the converged state"
            cp = self.creep_points
            self.Cc_inv_n.x.array[self._qt_ix] = cp.commit().ravel()
            if self.mat2 is not None:
                self.Cc2_inv_n.x.array[self._qt_ix] = self.creep_points2.commit().ravel()
            self.p_eq.x.array[:] += cp.dp
            if self.anand:   # the state of its explicit rates (Norton's come from rate_n)
                self.q_n[:] = cp.q_tr - 3.0 * cp.mu * cp.dp
                self.s_n[:] = cp.s_out
            self._state_valid = self._tangent_valid = False
            self.rim_committed = self.rim_active.copy()
            if self.gel_closure_n is not None:
                # a draining gel's pore closure at the new time, from the step's c_n and dt (both kept
                # until the next prepare_step, so outputs of this state evaluate the same c)
                for name, (_, m) in self.phases.items():
                    if getattr(m, "drains", False) and self.phase_cells[name].size:
                        cells = self.phase_cells[name]
                        c = m.porosity * self.eval_phase(name, "pore_closure")
                        self.gel_closure[self.Qs.dofmap.list[cells].reshape(-1)] = c
            if rate is not None:
                self.rate_n[:] = rate

    # ------------------------------------------------------------------ measurement
    def max_radius(self, nodes) -> float:
        """Largest deformed distance from the disc axis over the given owned P2 nodes (mm)."""
        k = self.inplane_components
        x = self.w.x.array
        return max_radius_mm(self.node_coords[nodes, :k], x[self.node_dofs[nodes, :k]], self.comm)

    def measure(self) -> dict:
        """Thickness = platen gap; diameter = 2 x the largest deformed radius (barrelling counts)."""
        h = thickness_mm(self.geo.thickness_mm, self.delta, self.geo.use_symmetry)
        return changes(self.geo.thickness_mm, self.geo.diameter_mm, h, 2.0 * self.max_radius(self.meas_nodes))

    # ------------------------------------------------------------------ reductions
    def _sum(self, v) -> float:
        return self.comm.allreduce(float(v), op=MPI.SUM)

    def _max(self, v) -> float:
        return self.comm.allreduce(float(v), op=MPI.MAX)

    def rms(self, values_at_qp) -> float:
        """Volume-weighted root mean square over the creeping phase."""
        return math.sqrt(self._sum(np.dot(self.qp_volume, np.asarray(values_at_qp) ** 2)) / self.total_volume)

    def global_median(self, values) -> float:
        allv = self.comm.allgather(np.asarray(values))
        return float(np.median(np.concatenate(allv)))

    def cell_average(self, values_at_qp):
        v = np.asarray(values_at_qp).reshape(len(self.cells), -1)
        return v @ self.qweights / self.qweights.sum()

    # ------------------------------------------------------------------ per-phase results, fields
    def _setup_phase_outputs(self) -> None:
        self.phase_nodes, self.phase_qp_volume, self.phase_exprs = {}, {}, {}
        self.material_id = np.zeros(self.all_cells.size, dtype=np.int32)
        for name in self.phases:
            cells = self.phase_cells[name]
            self.phase_nodes[name] = self._owned_nodes_of(self.V_u.dofmap.list[cells])
            self.phase_qp_volume[name] = self._qp_volume(cells) if cells.size else np.zeros(0)
            law = self.laws[name]
            ex = {"J": law.J, "von_mises": law.von_mises, **law.outputs()}
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
        # P2 nodes at the mesh vertices (basix orders a cell's vertex dofs first), for the
        # vertex-only outline, a distortion check
        nv = basix.geometry(self.mesh.basix_cell()).shape[0]
        self.vertex_nodes = self._owned_nodes_of(self.V_u.dofmap.list[self.all_cells, :nv])

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

    def eval_phase(self, name, key):
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
            law = self.laws[name]
            J = self.eval_phase(name, "J")
            V = self._sum(np.dot(self.phase_qp_volume[name], J))
            r = self.max_radius(self.phase_nodes[name])
            vm = self.eval_phase(name, "von_mises")
            d = {"volume0_mm3": V0 * self.force_factor, "volume_change_pct": 100.0 * (V / V0 - 1.0),
                 "max_radius_mm": r, "max_radius_change_pct": 100.0 * (r / self.geo.radius_mm - 1.0),
                 "max_von_mises_MPa": self._max(vm.max(initial=0.0)),
                 "mean_von_mises_MPa": self._sum(np.dot(self.phase_qp_volume[name], vm)) / V0}
            if "p_over_K" in self.phase_exprs[name]:
                # u-p phase: the volume change its pressure implies, int p/K dV0 / V0 (less the closed
                # pores of a porous gel: int (p/K - c(p)) dV0 / V0); the discrete
                # volume balance makes volume_change_pct equal to it (to the Newton tolerance)
                pk = self.eval_phase(name, "p_over_K")
                d["pressure_volume_change_pct"] = 100.0 * self._sum(np.dot(self.phase_qp_volume[name], pk)) / V0
            if law.kind == "tow":
                fs = self.eval_phase(name, "fibre_stress")
                d["max_fibre_tension_MPa"] = self._max(fs.max(initial=-np.inf))
                d["max_fibre_compression_MPa"] = -self._max((-fs).max(initial=-np.inf))
                d["strength_MPa"] = m.strength_MPa
                d["max_von_mises_over_strength"] = d["max_von_mises_MPa"] / m.strength_MPa
                # compressive failure index across the fibres (crushing; sourced strength, no failure law)
                ts = self.eval_phase(name, "transverse_stress_min")
                d["max_transverse_compression_MPa"] = max(0.0, self._max((-ts).max(initial=-np.inf)))
                d["transverse_compressive_strength_MPa"] = m.transverse_compressive_strength_MPa
                d["transverse_compression_index"] = d["max_transverse_compression_MPa"] / m.transverse_compressive_strength_MPa
            if law.kind == "creep":
                pe = self.p_eq.x.array
                d["max_equivalent_creep_strain"] = self._max(pe.max(initial=0.0))
                d["mean_equivalent_creep_strain"] = self._sum(np.dot(self.qp_volume, pe)) / self.total_volume
            if law.kind == "ply":   # homogenised cloth: the mean Cauchy stress through its thickness
                tz = self.eval_phase(name, "through_thickness_stress")
                d["mean_through_thickness_stress_MPa"] = self._sum(np.dot(self.phase_qp_volume[name], tz)) / V0
            if law.kind == "void":
                d["void_closure_pct"] = -d["volume_change_pct"]
            if "pore_closure" in self.phase_exprs[name]:   # porous gel: share of its pores closed
                pc = self.eval_phase(name, "pore_closure")
                d["porosity"] = m.porosity
                d["pore_closure_pct"] = 100.0 * self._sum(np.dot(self.phase_qp_volume[name], pc)) / V0
            out[name] = d
        # the outline from the element vertices only: the measured diameter uses all P2 nodes, and
        # a large difference flags a mid-edge node dragged out by a collapsed element
        rv = self.max_radius(self.vertex_nodes)
        out["outline"] = {"max_radius_vertices_mm": rv,
                          "diameter_change_vertices_pct": 100.0 * (rv / self.geo.radius_mm - 1.0)}
        return out

    def volume_check(self) -> dict:
        """Discrete volume of the deformed creeping phase against the reference (isochoric creep:
        only the elastic change, about -p/K ~ -0.2 %, is physical) and the volume RMS of J - 1 at
        the quadrature points (a pointwise measure of spurious volumetric modes)."""
        J = self.eval_phase(self.creep_phase, "J")
        w = self.qp_volume
        return {"volume_change_pct": 100.0 * (self._sum(np.dot(w, J)) / self.total_volume - 1.0),
                "rms_J_minus_1": math.sqrt(self._sum(np.dot(w, (J - 1.0) ** 2)) / self.total_volume),
                "min_J": -self._max(-J.min(initial=np.inf)), "max_J": self._max(J.max(initial=-np.inf))}

    def extra_results(self) -> dict:
        """Dimension-specific entries of summary.json."""
        raise NotImplementedError

    def snapshot(self, t: float) -> dict:
        """Field values for output (fem/stepping/outputs.py): the unknowns, and von Mises stress and
        equivalent creep strain as cell averages over all owned cells."""
        vm = np.zeros(self.all_cells.size)
        for name in self.phases:
            cells = self.phase_cells[name]
            if cells.size:
                v = self.eval_phase(name, "von_mises").reshape(cells.size, -1)
                vm[cells] = v @ self.qweights / self.qweights.sum()
        peq = np.zeros(self.all_cells.size)
        peq[self.cells] = self.cell_average(self.p_eq.x.array)
        return {"t": t, "u": self.w.x.array.copy(), "von_mises": vm, "p_eq": peq}


def _as_slice(ix: np.ndarray):
    """A slice equal to the index array where it is a contiguous ascending range, else the array."""
    ix = np.asarray(ix)
    if ix.size and ix[-1] - ix[0] == ix.size - 1 and np.all(np.diff(ix) == 1):
        return slice(int(ix[0]), int(ix[-1]) + 1)
    return ix


class _Values:
    """A plain array with the `.x.array` access of a dolfinx Function (state used only in NumPy)."""

    def __init__(self, n):
        self.x = self
        self.array = np.zeros(n)
