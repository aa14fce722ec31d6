"""Rigid platens: the loading (force, gap or a spring-loaded fixture) as a history of ramps and holds.

Units: mm, N, MPa, s. The nominal pressure is defined as in the paper: P = F / (pi R0^2) with the
*initial* disc radius R0, so a constant-pressure step is a constant-force step.

The platen's displacement delta (mm, positive closing the gap) is one global unknown. Each step
closes the system with one scalar constraint on the platen force F and delta (`LoadConstraint`,
enforced by the bordering of fem/models/newton.py):
    force control:  F = F*
    gap control:    delta = delta*
    spring fixture: F = k (s - delta)   (a screw at position s acting through a spring k in series)
The friction of the platen surface is fem/physics/friction.py; this module knows nothing of the disc.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from fem.physics.friction import FrictionSpec

PlatenSpec = FrictionSpec   # a study's [platen] table is the platen surface's friction condition


@dataclass(frozen=True, slots=True)
class LoadConstraint:
    """The scalar equation that closes a step: force_coef F + delta_coef delta = rhs (F in N, delta in mm).
    force_coef = 0 is gap control (delta prescribed directly)."""
    force_coef: float
    delta_coef: float
    rhs: float

    @classmethod
    def force(cls, F_N: float) -> "LoadConstraint":
        return cls(1.0, 0.0, F_N)

    @classmethod
    def gap(cls, delta_mm: float) -> "LoadConstraint":
        return cls(0.0, 1.0, delta_mm)

    @classmethod
    def spring(cls, stiffness_N_per_mm: float, screw_mm: float) -> "LoadConstraint":
        """F = k (s - delta)  <=>  F + k delta = k s."""
        return cls(1.0, stiffness_N_per_mm, stiffness_N_per_mm * screw_mm)

    @classmethod
    def of(cls, control: str, value: float) -> "LoadConstraint":
        if control == "force":
            return cls.force(value)
        if control == "gap":
            return cls.gap(value)
        raise ValueError(f"control = {control!r}: must be force or gap")

    @property
    def is_gap(self) -> bool:
        return self.force_coef == 0.0

    @property
    def force_target_N(self) -> float:
        """The force scale of the step (for tolerances): F* (force), k s (spring), 0 (gap)."""
        return abs(self.rhs) if self.force_coef != 0.0 else 0.0

    def residual(self, F_N: float, delta_mm: float) -> float:
        """Violation in N (force, spring) or mm (gap)."""
        return self.force_coef * F_N + self.delta_coef * delta_mm - self.rhs


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

    def constraint(self, t: float) -> LoadConstraint:
        """The scalar load constraint of the step ending at time t."""
        return LoadConstraint.of(self.control, self.value(t))

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
