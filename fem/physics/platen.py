"""Rigid platens: friction at the platen faces and the loading (force or gap) history.

Units: mm, N, MPa, s. The nominal pressure is defined as in the paper: P = F / (pi R0^2) with the
*initial* disc radius R0, so a constant-pressure step is a constant-force step.

Friction acts node-wise on the platen faces (axisymmetric: per radian). The platen pushes node k
with a normal force N_k >= 0, which is the reaction of the Dirichlet constraint u_z = platen motion
(read from the unconstrained residual), and with a tangential force
    f_k = -mu N_k s_k / sqrt(s_k^2 + eps^2),       eps = v_reg dt  (dt > 0),  eps = s_floor  (dt = 0),
where s_k is the radial slip of node k over the time step. With eps = v_reg dt the law is a
function of the slip *rate* s_k/dt alone (full Coulomb above v_reg, viscous below), so results
do not depend on the step size; a fixed width, or a floor added to v_reg dt, does (with a floor,
friction fades as dt -> 0, which also defeats time-step error control). Instantaneous (purely
elastic) load steps have no rate, so they use the fixed width s_floor. The Jacobian includes dN/du.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

FRICTION_MODES = ("frictionless", "sticking", "coulomb")


@dataclass(frozen=True, slots=True)
class PlatenSpec:
    friction: str = "coulomb"
    mu: float = 0.2
    slip_regularization_mm_per_s: float = 1e-4  # v_reg: below this slip speed friction is viscous
    slip_floor_mm: float = 1e-6                 # eps of instantaneous (dt = 0) load steps


@dataclass(frozen=True, slots=True)
class LoadStep:
    """One step of the load history: ramp linearly from the previous value, then hold.
    Exactly one of pressure_MPa (force control) and gap_mm (platen gap = thickness control)."""
    ramp_s: float
    hold_s: float
    pressure_MPa: float | None = None
    gap_mm: float | None = None

    @property
    def control(self) -> str:
        return "force" if self.pressure_MPa is not None else "gap"


@dataclass(frozen=True, slots=True)
class Phase:
    """A ramp or a hold of one load step, with the loading as a linear function of time."""
    step_index: int
    kind: str            # "ramp" | "hold"
    control: str         # "force" | "gap"
    t_start: float
    t_end: float
    value_start: float   # force (N) or platen displacement delta (mm)
    value_end: float

    def value(self, t: float) -> float:
        if self.t_end <= self.t_start:
            return self.value_end
        a = min(max((t - self.t_start) / (self.t_end - self.t_start), 0.0), 1.0)
        return self.value_start + a * (self.value_end - self.value_start)


def nominal_force_N(pressure_MPa: float, radius_mm: float) -> float:
    """Platen force for a nominal pressure: F = P * pi * R0^2 (N, with MPa = N/mm^2)."""
    return pressure_MPa * math.pi * radius_mm ** 2


def build_phases(steps: list[LoadStep], radius_mm: float, thickness_mm: float,
                 use_symmetry: bool) -> list[Phase]:
    """Phases in time order. Gap control is expressed as the moving platen's displacement
    delta = (h0 - gap), halved when only the upper half is modelled (mid-plane symmetry).
    Switching between force and gap control between steps starts the ramp from the current
    state, which the solver fills in (value_start = nan)."""
    phases, t, prev = [], 0.0, {"force": 0.0, "gap": 0.0}
    prev_control = None
    for i, st in enumerate(steps):
        if st.control == "force":
            target = nominal_force_N(st.pressure_MPa, radius_mm)
        else:
            target = (thickness_mm - st.gap_mm) * (0.5 if use_symmetry else 1.0)
        start = prev[st.control] if (prev_control in (None, st.control)) else float("nan")
        phases.append(Phase(i, "ramp", st.control, t, t + st.ramp_s, start, target))
        t += st.ramp_s
        phases.append(Phase(i, "hold", st.control, t, t + st.hold_s, target, target))
        t += st.hold_s
        prev[st.control] = target
        prev_control = st.control
    return phases


@dataclass
class PlatenFace:
    """Dof indices of the nodes on one platen face. sign = +1 for a face whose outward normal is +z."""
    z_dofs: np.ndarray
    r_dofs: np.ndarray        # same order as z_dofs; -1 where the radial dof is constrained (axis)
    sign: float
    moving: bool              # True: u_z = -delta (top platen); False: u_z = 0 (fixed bottom platen)


@dataclass
class PlatenContact:
    spec: PlatenSpec
    faces: list[PlatenFace] = field(default_factory=list)

    def normal_forces(self, r_full: np.ndarray, face: PlatenFace) -> np.ndarray:
        """Compressive nodal contact force N_k >= 0 (per radian) from the unconstrained residual."""
        return -face.sign * r_full[face.z_dofs]

    def force(self, r_full: np.ndarray) -> float:
        """Compressive force that the moving platen applies (per radian), from the residual."""
        return float(sum(self.normal_forces(r_full, f).sum() for f in self.faces if f.moving))

    def force_gradient(self, K_full: sp.csr_matrix) -> np.ndarray:
        """d(force)/d(u) as a dense row vector."""
        e = np.zeros(K_full.shape[0])
        for f in self.faces:
            if f.moving:
                e[f.z_dofs] -= f.sign
        return K_full.T @ e

    def friction(self, r_full, x, x_n, dt, eps_scale: float = 1.0):
        """Coulomb friction: add the friction forces to the residual (in place) and return the
        sparse matrices (T, D) of its linearisation, so that K_with_friction = K + T @ K + D.
        Returns None when there is no Coulomb friction."""
        if self.spec.friction != "coulomb":
            return None
        eps = eps_scale * (self.spec.slip_regularization_mm_per_s * dt if dt > 0.0 else self.spec.slip_floor_mm)
        rows, cols, vals, diag_i, diag_v = [], [], [], [], []
        for f in self.faces:
            keep = f.r_dofs >= 0
            zd, rd = f.z_dofs[keep], f.r_dofs[keep]
            N = -f.sign * r_full[zd]
            pos = N > 0.0                      # a node pulled away from the platen carries no friction
            s = x[rd] - x_n[rd]                # radial slip over the step (platen does not move radially)
            root = np.sqrt(s * s + eps * eps)
            phi, dphi = s / root, eps * eps / root ** 3
            Np = np.where(pos, N, 0.0)
            r_full[rd] += self.spec.mu * Np * phi
            # d(mu N phi)/dx = mu phi dN/dx + mu N dphi e_r,   dN/dx = -sign K[z, :]
            rows.append(rd[pos]); cols.append(zd[pos]); vals.append(-f.sign * self.spec.mu * phi[pos])
            diag_i.append(rd); diag_v.append(self.spec.mu * Np * dphi)
        n = r_full.shape[0]
        T = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))
        di = np.concatenate(diag_i)
        D = sp.csr_matrix((np.concatenate(diag_v), (di, di)), shape=(n, n))
        return T, D
