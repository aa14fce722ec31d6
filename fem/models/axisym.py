"""Axisymmetric disc model: function spaces, forms, boundary dofs and the Newton solve of one step.

Discretisation: P2 displacement with an enriched Taylor-Hood pressure (continuous P1 plus one
constant per cell, "P1+P0", the default of the axisymmetric path; plain Taylor-Hood "P1" on request
and in 3D). Both are free of volumetric locking under isochoric creep. The cell constants make the
volume balance hold cell by cell (with the volumetric law of fem/physics/laws.py, which is linear in
J): plain Taylor-Hood balances volume only against continuous P1 functions, and under large creep
strain its J scatters pointwise (0.06-7 on the 0.125 mm calibration mesh at 17.79 MPa; rms |J - 1|
0.67, against 0.16 with P1+P0), which distorts the rim and the measured diameter
(tests/test_verification.py). Internal variables (Cc^-1, equivalent creep strain) live at
quadrature points. The platen displacement delta is one global unknown, eliminated with a
bordering algorithm: each Newton iteration solves with one LU factorisation for two right-hand
sides (residual, and unit platen motion) and then enforces the force constraint exactly in its
linearisation. Units: mm, N, MPa, s.
"""
from __future__ import annotations

import math
import time
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass

import dolfinx_solver  # noqa: F401  (must precede dolfinx / petsc4py)
import basix
import basix.ufl
import numpy as np
import scipy.sparse as sp
import ufl
from dolfinx import fem, la

from meshes.disc_axisym import AXIS, BOTTOM, TOP, AxisymDiscGeometry

from fem.physics.laws import LOG_SERIES_LIMIT, CreepLaw, LawConstants, solve_creep_increment
from fem.physics.kinematics import axisym_grad, deformation_gradient
from fem.models.linear_solvers import FreeBlockLU
from fem.physics.materials import LiCreep
from fem.physics.platen import PlatenContact, PlatenFace, PlatenSpec

# FFCx JIT options of every form. A process that finds another one compiling the same form waits
# for it up to `timeout` seconds (default 10 s). The composite Jacobian takes longer than that to
# compile, so two sweep cases started together on a cold cache failed with "JIT compilation timed
# out" (seen 2026-12-02, make sweep of studies/composite_glicfc.toml with JOBS=2).
JIT_OPTIONS = {"timeout": 1800}

TWO_PI = 2.0 * math.pi
PRESSURE_SPACES = ("P1+P0", "P1")   # enriched Taylor-Hood (default, axisymmetric), plain Taylor-Hood


class NewtonFailure(RuntimeError):
    pass


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


class DiscModelBase:
    """What the axisymmetric and the 3D model share: timing of activities and the Newton solve of
    a step with continuation in the friction regularisation. Subclasses implement _newton."""

    @contextmanager
    def _timed(self, key: str):
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.timings[key] += time.perf_counter() - t0

    def solve_step(self, dt: float, x_n: np.ndarray, control: str, target: float, x_guess: np.ndarray,
                   delta_guess: float, max_it: int = 12) -> StepResult:
        """Solve the step ending at the target (force in N, or platen displacement in mm).
        On success self.w holds the solution and self.delta the platen displacement.

        With Coulomb friction a failed solve is retried by continuation in the regularisation
        width (1e4 x eps down to 1 x eps), each stage starting from the previous stage's solution."""
        try:
            return self._newton(dt, x_n, control, target, x_guess, delta_guess, max_it, 1.0)
        except NewtonFailure:
            if self.platen_spec.friction != "coulomb":
                raise
        its = 0
        guess, dguess = x_guess.copy(), delta_guess
        for scale in (1e4, 1e3, 1e2, 10.0, 1.0):
            res = self._newton(dt, x_n, control, target, guess, dguess, max_it, scale)
            its += res.iterations
            guess, dguess = self.w.x.array.copy(), self.delta
        res.iterations = its
        return res

    def _setup_spaces(self, mesh, u_components: int, qd: int, pressure_space: str = "P1",
                      pressure_fields: int = 1) -> None:
        """Mixed u-p space W (P2 displacement with u_components; pressure P1, or P1 + P0 with one
        extra constant per cell), the matching dx, and the quadrature spaces of the state (scalar Qs,
        3x3 tensor Qt) at degree qd. self.pressure_parts: the sub-space indices of the pressure.
        pressure_fields > 1 (P1 only; the 3D composite): that many separate P1 fields, one per u-p
        phase, so the pressure can jump at a phase interface (fem/models/solid3d.py)."""
        if pressure_space not in PRESSURE_SPACES:
            raise ValueError(f"pressure_space = {pressure_space!r}: must be one of {', '.join(PRESSURE_SPACES)}")
        if pressure_fields > 1 and pressure_space != "P1":
            raise ValueError("several pressure fields need pressure_space = 'P1'")
        cell = mesh.basix_cell()
        P2 = basix.ufl.element("Lagrange", cell.name, 2, shape=(u_components,))
        P1 = basix.ufl.element("Lagrange", cell.name, 1)
        elements = [P2] + [P1] * max(pressure_fields, 1)
        elements += [basix.ufl.element("DG", cell.name, 0)] if pressure_space == "P1+P0" else []
        self.pressure_space = pressure_space
        self.pressure_parts = tuple(range(1, len(elements)))
        self.W = fem.functionspace(mesh, basix.ufl.mixed_element(elements))
        self.dx = ufl.Measure("dx", domain=mesh, metadata={"quadrature_degree": qd, "quadrature_scheme": "default"})
        Qs_el = basix.ufl.quadrature_element(cell.name, value_shape=(), scheme="default", degree=qd)
        Qt_el = basix.ufl.quadrature_element(cell.name, value_shape=(3, 3), scheme="default", degree=qd)
        self.Qs = fem.functionspace(mesh, Qs_el)
        self.Qt = fem.functionspace(mesh, Qt_el)
        self.qpoints = self.Qs.element.interpolation_points
        _, self.qweights = basix.make_quadrature(cell, qd)

    def split_up(self):
        """(u, p, v, q): displacement and pressure of the unknown w and the matching test functions;
        with P1 + P0 the pressure is the sum of its continuous and its cell-constant part."""
        parts, tests = ufl.split(self.w), ufl.TestFunctions(self.W)
        p = sum((parts[i] for i in self.pressure_parts[1:]), parts[self.pressure_parts[0]])
        q = sum((tests[i] for i in self.pressure_parts[1:]), tests[self.pressure_parts[0]])
        return parts[0], p, tests[0], q

    def snapshot(self, t: float) -> dict:
        """Field values for output (written as VTK by fem/stepping/outputs.py): the unknowns, and von Mises stress
        and equivalent creep strain as cell averages."""
        vm = self.cell_average(self.vm_expr.eval(self.mesh, self.cells))
        peq = self.cell_average(self.p_eq.x.array)
        return {"t": t, "u": self.w.x.array.copy(), "von_mises": vm, "p_eq": peq}

    def _max(self, v) -> float:
        """Largest value over all processes (the axisymmetric model is serial)."""
        return float(v)

    def _tolerances(self, control: str, target: float, volume: float) -> tuple[float, float, float, float]:
        """(force scale, nodal force tol, pressure-equation tol, platen force tol) of a step.

        Nodal force imbalance <= 1e-7 of the platen force: far below any measurable effect, and
        above the round-off floor reached with strongly distorted shear layers (~2e-8)."""
        F_scale = max(abs(target) if control == "force" else 0.0, math.pi * self.geo.radius_mm ** 2 * 1e-3)
        return F_scale, 1e-7 * F_scale / TWO_PI, 1e-11 * volume, 1e-9 * F_scale

    def _converged(self, nsolve: int, force: float, delta: float, q_tr, mubar, dp) -> StepResult:
        """The result of a converged Newton solve; a step beyond the tensor-log range is refused."""
        if self.trial_distance > LOG_SERIES_LIMIT:
            raise StepTooLarge(f"strain increment too large for the tensor-log series "
                               f"(|be_tr - I| = {self.trial_distance:.3g} > {LOG_SERIES_LIMIT})",
                               max(0.1, 0.7 * LOG_SERIES_LIMIT / self.trial_distance))
        self.delta = delta
        q = q_tr - 3.0 * mubar * dp
        over = np.maximum(q - self.mat.threshold_stress_MPa, 0.0)
        rate = self.mat.creep_A_eff * over ** self.mat.creep_n
        return StepResult(nsolve, force, self._max(dp.max(initial=0.0)), self.rms(dp),
                          self._max(rate.max(initial=0.0)), self.rms(rate), rate, dp.copy(),
                          self.rms(q / (3.0 * mubar)), self.trial_distance)


class AxisymDiscModel(DiscModelBase):
    debug = False

    def __init__(self, mesh, facet_tags, geo: AxisymDiscGeometry, mat: LiCreep, platen: PlatenSpec,
                 quadrature_degree: int = 4, theta: float = 1.0, pressure_space: str = "P1+P0"):
        if mesh.comm.size > 1:
            raise RuntimeError("the axisymmetric path runs serially (it is small); use 3D for MPI")
        self.mesh, self.geo, self.mat, self.platen_spec = mesh, geo, mat, platen
        self._setup_spaces(mesh, 2, quadrature_degree, pressure_space)

        # unknowns and state
        self.w = fem.Function(self.W, name="w")
        self.Cc_inv_n = fem.Function(self.Qt, name="Cc_inv")
        self.Cc_inv_n.x.array[:] = np.tile(np.eye(3).ravel(), self.Cc_inv_n.x.array.size // 9)
        self.p_eq = fem.Function(self.Qs, name="equivalent_creep_strain")   # at t_n
        self.dp = fem.Function(self.Qs, name="dp")                          # increment over the step
        self.dt_A = fem.Constant(mesh, 0.0)                                 # theta * dt * A_eff
        self.dp_explicit = fem.Function(self.Qs, name="dp_explicit")        # (1 - theta) dt pdot_n
        self.rate_n = np.zeros(self.dp.x.array.size)                        # creep rate at t_n (1/s)
        if not 0.5 <= theta <= 1.0:
            raise ValueError(f"theta = {theta}: must be 0.5 <= theta <= 1")
        self.theta = theta
        self.delta = 0.0          # platen displacement (mm), positive closes the gap

        x = ufl.SpatialCoordinate(mesh)
        u, p, v, q = self.split_up()
        F = deformation_gradient(u, x)
        self.law = CreepLaw(LawConstants(mesh, mat), F, self.Cc_inv_n, self.dp, self.dt_A, p, self.dp_explicit)
        r = x[0]
        R = (ufl.inner(self.law.P, axisym_grad(v, x)) * r * self.dx
             + self.law.volumetric_residual(p) * q * r * self.dx)
        dw = ufl.TrialFunction(self.W)
        self.R_form = fem.form(R, jit_options=JIT_OPTIONS)
        self.J_form = fem.form(ufl.derivative(R, self.w, dw), jit_options=JIT_OPTIONS)
        self.qm_expr = fem.Expression(ufl.as_vector([self.law.q_tr, self.law.trial_distance]), self.qpoints)
        self.Cc_new_expr = fem.Expression(self.law.Cc_inv_new, self.qpoints)
        self.vm_expr = fem.Expression(self.law.von_mises, self.qpoints)
        self.J_expr = fem.Expression(self.law.J, self.qpoints)
        self.cells = np.arange(mesh.topology.index_map(mesh.topology.dim).size_local, dtype=np.int32)

        # physical integration weights of the quadrature points (r dA), for volume averages
        jw = fem.Expression(x[0] * abs(ufl.JacobianDeterminant(mesh)), self.qpoints).eval(mesh, self.cells)
        self.qp_volume = (jw.reshape(len(self.cells), -1) * self.qweights).ravel()
        self._setup_dofs(facet_tags)
        self._K = None     # reused Jacobian storage
        self._lu = None    # reused factorisation (fixed pattern)
        self.timings = defaultdict(float)   # wall seconds by activity (for the benchmarks)
        self.linear_solves = 0
        self.volume_per_rad = 0.5 * geo.radius_mm ** 2 * geo.height_mm

    # ------------------------------------------------------------------ dofs
    def _setup_dofs(self, facet_tags):
        fdim = self.mesh.topology.dim - 1
        Wr, Wz = self.W.sub(0).sub(0), self.W.sub(0).sub(1)

        def dofs(sub, tag):
            return np.sort(fem.locate_dofs_topological(sub, fdim, facet_tags.find(tag)).astype(np.int64))

        V0, m0 = Wr.collapse()
        V1, m1 = Wz.collapse()
        self.r_dof_all = np.asarray(m0).ravel().astype(np.int64)
        self.z_dof_all = np.asarray(m1).ravel().astype(np.int64)
        self.r_coords = V0.tabulate_dof_coordinates()[:, :2]
        self.z_coords = V1.tabulate_dof_coordinates()[:, :2]
        key = lambda c: (round(c[0] * 1e8), round(c[1] * 1e8))  # noqa: E731
        r_of_coord = {key(c): d for c, d in zip(self.r_coords, self.r_dof_all)}
        z_pos = {d: i for i, d in enumerate(self.z_dof_all)}

        axis_r = dofs(Wr, AXIS)
        face_specs = [(TOP, +1.0, True)]
        if not self.geo.use_symmetry:
            face_specs.append((BOTTOM, -1.0, False))
        self.faces = []
        constrained = [axis_r]
        for tag, sign, moving in face_specs:
            zd = dofs(Wz, tag)
            rd = np.array([r_of_coord[key(self.z_coords[z_pos[d]])] for d in zd], dtype=np.int64)
            rd = np.where(np.isin(rd, axis_r), -1, rd)
            self.faces.append(PlatenFace(zd, rd, sign, moving))
            constrained.append(zd)
            if self.platen_spec.friction == "sticking":
                constrained.append(rd[rd >= 0])
        if self.geo.use_symmetry:
            constrained.append(dofs(Wz, BOTTOM))  # mid-plane: u_z = 0
        self.top_z = self.faces[0].z_dofs
        p_parts = [np.asarray(self.W.sub(i).collapse()[1]).ravel().astype(np.int64) for i in self.pressure_parts]
        self.p_dofs = np.concatenate(p_parts)
        if len(p_parts) > 1:
            # P1 + P0: a constant pressure is in both parts, so fix the constant of one cell at 0
            constrained.append(p_parts[1][:1])
        self.constrained = np.unique(np.concatenate(constrained))
        n = self.w.x.array.size
        mask = np.ones(n, dtype=bool)
        mask[self.constrained] = False
        self.free = np.flatnonzero(mask)
        is_p = np.zeros(n, dtype=bool)
        is_p[self.p_dofs] = True
        self.free_u = self.free[~is_p[self.free]]
        self.free_p = self.free[is_p[self.free]]
        self.contact = PlatenContact(self.platen_spec, self.faces)

    # ------------------------------------------------------------------ helpers
    def apply_constraints(self, x: np.ndarray, delta: float) -> None:
        x[self.constrained] = 0.0
        x[self.top_z] = -delta

    def _eval_q(self, expr):
        return expr.eval(self.mesh, self.cells)

    def update_creep_increment(self, dt: float):
        """Pointwise return map: solve for dp at the current displacement; return (q_tr, mubar, dp)."""
        qm = self._eval_q(self.qm_expr).reshape(-1, 2)
        q_tr, mubar = qm[:, 0], np.full(qm.shape[0], self.mat.shear_modulus_MPa)
        self.trial_distance = float(qm[:, 1].max(initial=0.0))
        dp = solve_creep_increment(q_tr, mubar, self.theta * dt * self.mat.creep_A_eff, self.mat.creep_n,
                                   self.mat.threshold_stress_MPa, self.dp_explicit.x.array)
        self.dp.x.array[:] = dp
        return q_tr, mubar, dp

    def assemble_residual(self) -> np.ndarray:
        vec = fem.assemble_vector(self.R_form)
        vec.scatter_reverse(la.InsertMode.add)
        return vec.array.copy()

    def assemble_jacobian(self) -> sp.csr_matrix:
        """Jacobian on all dofs (no constraints), assembled into one reused CSR matrix."""
        if self._K is None:
            self._K = fem.create_matrix(self.J_form)
        self._K.set_value(0.0)
        fem.assemble_matrix(self._K, self.J_form)
        self._K.scatter_reverse()
        return self._K.to_scipy()

    def _linear_solver(self, K: sp.csr_matrix) -> FreeBlockLU:
        if self._lu is None:
            extra = None
            if self.platen_spec.friction == "coulomb":
                n = K.shape[0]
                rows = np.concatenate([f.r_dofs[f.r_dofs >= 0] for f in self.faces])
                cols = np.concatenate([f.z_dofs[f.r_dofs >= 0] for f in self.faces])
                T = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
                D = sp.csr_matrix((np.ones(len(rows)), (rows, rows)), shape=(n, n))
                Kp = sp.csr_matrix((np.ones(K.nnz), K.indices, K.indptr), shape=K.shape)
                extra = T @ Kp + D
            self._lu = FreeBlockLU(K, self.free, extra)
        return self._lu

    def force_N(self, r_full: np.ndarray) -> float:
        return TWO_PI * self.contact.force(r_full)

    # ------------------------------------------------------------------ Newton
    def _newton(self, dt, x_n, control, target, x_guess, delta_guess, max_it, eps_scale) -> StepResult:
        x = self.w.x.array
        self.dt_A.value = self.theta * dt * self.mat.creep_A_eff
        self.dp_explicit.x.array[:] = (1.0 - self.theta) * dt * self.rate_n
        delta = target if control == "gap" else delta_guess
        x[:] = x_guess
        self.apply_constraints(x, delta)
        F_scale, tol_u, tol_p, tol_F = self._tolerances(control, target, self.volume_per_rad)
        nsolve, alpha, prev = 0, 1.0, None
        while True:
            with self._timed("constitutive"):
                q_tr, mubar, dp = self.update_creep_increment(dt)
            with self._timed("assembly"):
                r = self.assemble_residual()
            F = self.force_N(r)
            with self._timed("friction"):
                fric = self.contact.friction(r, x, x_n, dt, eps_scale)
            ru = np.abs(r[self.free_u]).max(initial=0.0)
            rp = np.abs(r[self.free_p]).max(initial=0.0)
            f_err = abs(F - target) if control == "force" else 0.0
            if self.debug:
                print(f"    it {nsolve} a={alpha:.3g}: |r_u|={ru:.3e}/{tol_u:.1e} |r_p|={rp:.3e}/{tol_p:.1e} "
                      f"|dF|={f_err:.3e}/{tol_F:.1e}")
            if not (np.isfinite(ru) and np.isfinite(rp)):
                merit = np.inf
            else:
                if ru <= tol_u and rp <= tol_p and f_err <= tol_F:
                    return self._converged(nsolve, F, delta, q_tr, mubar, dp)
                merit = math.sqrt((np.linalg.norm(r[self.free_u]) / tol_u) ** 2
                                  + (np.linalg.norm(r[self.free_p]) / tol_p) ** 2 + (f_err / tol_F) ** 2)
            # backtracking line search on the residual norm (needed with sharp friction regularisation)
            if prev is not None and not merit < prev[2] and alpha > 1.0 / 64:
                alpha *= 0.5
                x[:] = prev[0] + alpha * prev[3]
                delta = prev[1] + alpha * prev[4]
                continue
            if not np.isfinite(merit):
                raise NewtonFailure("residual is not finite")
            if nsolve == max_it:
                break
            with self._timed("assembly"):
                K = self.assemble_jacobian()
            extra = None
            if fric is not None:
                with self._timed("friction"):
                    T, D = fric
                    extra = T @ K + D          # friction linearisation: K_total = K + T K + D
            with self._timed("solve"):
                lu = self._linear_solver(K)
                try:
                    lu.factor(K, extra)
                except RuntimeError as e:
                    raise NewtonFailure(str(e)) from e
                nsolve += 1
                a = np.zeros_like(x)
                a[self.free] = lu.solve(-r[self.free])
                self.linear_solves += 1
            ddelta = 0.0
            if control == "force":
                # response to a unit platen displacement: b_c = -1 on the moving face, K_ff b_f = -K_fc b_c
                e = np.zeros_like(x)
                e[self.top_z] = 1.0
                Ke = K @ e if extra is None else K @ e + extra @ e
                b = -e
                with self._timed("solve"):
                    b[self.free] = lu.solve(Ke[self.free])
                    self.linear_solves += 1
                g = TWO_PI * self.contact.force_gradient(K)
                ddelta = (target - F - g @ a) / (g @ b)
                a += ddelta * b
            if not np.all(np.isfinite(a)):
                raise NewtonFailure("Newton update is not finite")
            prev = (x.copy(), delta, merit, a, ddelta)
            alpha = 1.0
            x += a
            delta += ddelta
        raise NewtonFailure(f"no convergence in {max_it} iterations (|r_u|={ru:.3e}, |r_p|={rp:.3e}, "
                            f"|F-F*|={f_err:.3e} N)")

    def commit_state(self, rate: np.ndarray | None = None) -> None:
        """Accept the step: Cc^-1 <- updated (renormalised to det = 1), p <- p + dp, and the creep
        rate at the new time (the explicit part of the next theta-method step)."""
        t0 = time.perf_counter()
        C = self._eval_q(self.Cc_new_expr).reshape(-1, 3, 3)
        det = np.linalg.det(C)
        C /= np.cbrt(det)[:, None, None]
        self.Cc_inv_n.x.array[:] = C.ravel()
        self.p_eq.x.array[:] += self.dp.x.array
        if rate is not None:
            self.rate_n[:] = rate
        self.timings["constitutive"] += time.perf_counter() - t0

    # ------------------------------------------------------------------ measurements
    def measure(self) -> dict:
        """Thickness = platen gap; diameter = 2 * max deformed radius over the disc (barrelling)."""
        from fem.models.measure import diameter_mm, thickness_mm
        h0, D0 = self.geo.thickness_mm, self.geo.diameter_mm
        h = thickness_mm(h0, self.delta, self.geo.use_symmetry)
        D = diameter_mm(self.r_coords[:, 0], self.w.x.array[self.r_dof_all])
        return {"gap_mm": h, "diameter_mm": D,
                "thickness_change_pct": 100.0 * (h0 - h) / h0,
                "diameter_change_pct": 100.0 * (D - D0) / D0}

    def volume_check(self) -> dict:
        """Discrete volume of the deformed disc against the reference (isochoric creep: only the
        elastic change, about -p/K ~ -0.2 %, is physical) and the volume RMS of J - 1 at the
        quadrature points (a pointwise measure of spurious volumetric modes)."""
        J = self._eval_q(self.J_expr).ravel()
        w = self.qp_volume
        return {"volume_change_pct": 100.0 * (float(np.dot(w, J)) / float(w.sum()) - 1.0),
                "rms_J_minus_1": float(np.sqrt(np.dot(w, (J - 1.0) ** 2) / w.sum())),
                "min_J": float(J.min()), "max_J": float(J.max())}

    def global_median(self, values: np.ndarray) -> float:
        return float(np.median(values))

    def rms(self, values_at_qp: np.ndarray) -> float:
        """Volume-weighted root mean square over the disc."""
        return float(np.sqrt(np.dot(self.qp_volume, values_at_qp ** 2) / self.qp_volume.sum()))

    def cell_average(self, values_at_qp: np.ndarray) -> np.ndarray:
        v = values_at_qp.reshape(len(self.cells), -1)
        return v @ self.qweights / self.qweights.sum()
