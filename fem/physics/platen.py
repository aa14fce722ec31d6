"""Rigid platens: the loading (force, gap or a spring-loaded fixture) as a history of ramps and holds.

Units: mm, N, MPa, s. The nominal pressure is defined as in the paper: P = F / (pi R0^2) with the
*initial* disc radius R0, so a constant-pressure step is a constant-force step.

The platen's displacement delta (mm, positive closing the gap) is one global unknown. Each step
closes the system with one scalar constraint on the platen force F and delta (`LoadConstraint`,
enforced by the bordering of fem/models/newton.py):
    force control:  F = F*
    gap control:    delta = delta*
    spring fixture: F = k (s - delta)   (a screw at position s acting through a spring k in series)
With a screw fixture ([fixture], fem/physics/fixture.py) every step is a force ramp to its target
(the screw is turned until the force is reached) followed by a spring hold at the screw position
reached (`build_phases`); k and s are then the model's: 2k and s/2 with mid-plane symmetry.
The friction of the platen surface is fem/physics/friction.py; this module knows nothing of the disc.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

from fem.physics.fixture import FixtureSpec
from fem.physics.friction import FrictionSpec

PlatenSpec = FrictionSpec   # a study's [platen] table is the platen surface's friction condition


@dataclass(frozen=True, slots=True)
class LoadConstraint:
    """The scalar equation that closes a step: force_coef F + delta_coef delta = rhs (F in N, delta in mm).
    force_coef = 0 is gap control (delta prescribed directly)."""
    force_coef: float
    delta_coef: float
    rhs: float
    scale_N: float = math.nan   # force scale of the tolerances when rhs is not one (spring: k s = F + k delta)

    @classmethod
    def force(cls, F_N: float) -> "LoadConstraint":
        return cls(1.0, 0.0, F_N)

    @classmethod
    def gap(cls, delta_mm: float) -> "LoadConstraint":
        return cls(0.0, 1.0, delta_mm)

    @classmethod
    def spring(cls, stiffness_N_per_mm: float, screw_mm: float, scale_N: float = math.nan) -> "LoadConstraint":
        """F = k (s - delta)  <=>  F + k delta = k s. scale_N: the force scale of the step (default k s,
        which exceeds F by k delta; a fixture hold passes the force it was tightened to)."""
        return cls(1.0, stiffness_N_per_mm, stiffness_N_per_mm * screw_mm, scale_N)

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
        """The force scale of the step (for tolerances): F* (force), scale_N or k s (spring), 0 (gap)."""
        if self.force_coef == 0.0:
            return 0.0
        return abs(self.rhs) if math.isnan(self.scale_N) else abs(self.scale_N)

    def residual(self, F_N: float, delta_mm: float) -> float:
        """Violation in N (force, spring) or mm (gap)."""
        return self.force_coef * F_N + self.delta_coef * delta_mm - self.rhs


@dataclass(frozen=True, slots=True)
class LoadStep:
    """One step of the load history: ramp linearly from the previous value, then hold.
    Exactly one of pressure_MPa (force control), gap_mm (platen gap = thickness control) and, with a
    [fixture], torque_Nm (force from the fixture's torque fit)."""
    ramp_s: float
    hold_s: float
    pressure_MPa: float | None = None
    gap_mm: float | None = None
    torque_Nm: float | None = None

    @property
    def control(self) -> str:
        return "gap" if self.gap_mm is not None else "force"

    def force_N(self, radius_mm: float, fixture: FixtureSpec | None = None) -> float:
        """Target platen force (N) of a force step: P pi R0^2, or a + b T through the fixture's fit."""
        if self.torque_Nm is not None:
            if fixture is None:
                raise ValueError("torque_Nm needs a fixture (its torque_to_force_N fit)")
            return fixture.force_from_torque_N(self.torque_Nm)
        return nominal_force_N(self.pressure_MPa, radius_mm)


@dataclass(frozen=True, slots=True)
class Phase:
    """A ramp or a hold of one load step, with the loading as a linear function of time."""
    step_index: int
    kind: str            # "ramp" | "hold"
    control: str         # "force" | "gap" | "spring" (fixture hold at a fixed screw position)
    t_start: float
    t_end: float
    value_start: float   # force (N), platen displacement delta (mm) or screw position s (mm, model's)
    value_end: float
    stiffness_N_per_mm: float = 0.0   # spring: the model's spring (2k with mid-plane symmetry)
    force_scale_N: float = math.nan   # spring: the force the step was tightened to (tolerance scale)

    def constraint(self, t: float) -> LoadConstraint:
        """The scalar load constraint of the step ending at time t."""
        if self.control == "spring":
            return LoadConstraint.spring(self.stiffness_N_per_mm, self.value(t), self.force_scale_N)
        return LoadConstraint.of(self.control, self.value(t))

    def start_from_state(self, delta_mm: float, force_N: float) -> float:
        """The start value of a phase that begins from the current state (value_start = nan):
        delta (gap), F (force) or the screw position delta + F/k that holds the current force (spring)."""
        if self.control == "gap":
            return delta_mm
        if self.control == "spring":
            return delta_mm + force_N / self.stiffness_N_per_mm
        return force_N

    def resolved(self, start: float) -> "Phase":
        """This phase starting at `start`; a hold whose value comes from the state (value_end = nan)
        holds it."""
        return replace(self, value_start=start, value_end=start if math.isnan(self.value_end) else self.value_end)

    def value(self, t: float) -> float:
        if self.t_end <= self.t_start:
            return self.value_end
        a = min(max((t - self.t_start) / (self.t_end - self.t_start), 0.0), 1.0)
        return self.value_start + a * (self.value_end - self.value_start)


def nominal_force_N(pressure_MPa: float, radius_mm: float) -> float:
    """Platen force for a nominal pressure: F = P * pi * R0^2 (N, with MPa = N/mm^2)."""
    return pressure_MPa * math.pi * radius_mm ** 2


def build_phases(steps: list[LoadStep], radius_mm: float, thickness_mm: float,
                 use_symmetry: bool, fixture: FixtureSpec | None = None) -> list[Phase]:
    """Phases in time order. Gap control is expressed as the moving platen's displacement
    delta = (h0 - gap), halved when only the upper half is modelled (mid-plane symmetry).
    Switching between force and gap control between steps starts the ramp from the current
    state, which the solver fills in (value_start = nan).

    With a fixture every step is a force ramp from the current force to the step's target (the
    tightening, or re-torque) and a spring hold at the screw position reached (value_start =
    value_end = nan, filled in from the state at the end of the ramp); the spring is the model's,
    2k with mid-plane symmetry (fem/physics/fixture.py)."""
    if fixture is not None:
        return _fixture_phases(steps, radius_mm, use_symmetry, fixture)
    phases, t, prev = [], 0.0, {"force": 0.0, "gap": 0.0}
    prev_control = None
    for i, st in enumerate(steps):
        if st.control == "force":
            target = st.force_N(radius_mm)
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


def _fixture_phases(steps: list[LoadStep], radius_mm: float, use_symmetry: bool,
                    fixture: FixtureSpec) -> list[Phase]:
    k_model = fixture.model_spring_N_per_mm(use_symmetry)
    phases, t = [], 0.0
    for i, st in enumerate(steps):
        if st.control != "force":
            raise ValueError(f"load step {i + 1}: a fixture step needs pressure_MPa or torque_Nm, not gap_mm")
        target = st.force_N(radius_mm, fixture)
        start = 0.0 if i == 0 else float("nan")   # re-torque: from the relaxed force
        phases.append(Phase(i, "ramp", "force", t, t + st.ramp_s, start, target))
        t += st.ramp_s
        phases.append(Phase(i, "hold", "spring", t, t + st.hold_s, float("nan"), float("nan"),
                            stiffness_N_per_mm=k_model, force_scale_N=target))
        t += st.hold_s
    return phases
