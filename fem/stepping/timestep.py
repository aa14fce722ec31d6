"""Time-step error control for the creep integration (one place for the step-size logic).

The creep strain obeys dp/dt = pdot(t) pointwise. With the theta-method of `fem/physics/laws.py`
the local truncation error (LTE) of one step is estimated from the creep rates at the end of
this step, the start of it and the start of the previous one (pdot_{n+1}, pdot_n, pdot_{n-1}):

  trapezoidal (theta = 1/2, order 2):  LTE = dt^3/12 |pdot''|,
      pdot'' ~ 2 [(pdot_{n+1} - pdot_n)/dt - (pdot_n - pdot_{n-1})/dt_prev] / (dt + dt_prev);
  backward Euler (theta = 1, order 1):  LTE = dt/2 |pdot_{n+1} - pdot_n|.
After an instantaneous load jump the first two steps are equal backward-Euler start-up steps
without an estimate (see `first_step`); the estimates restart from their end-of-step rates.

The error measure is the volume RMS of the LTE divided by
    max(rms(dp) + eps_el dt / t_phase, STRAIN_FLOOR dt / t_phase),
rms(dp) the step's creep increment, eps_el = rms(q)/(3 mu) the elastic strain and t_phase the
time since the start of the load phase (end of this step). STRAIN_FLOOR (1e-8) is an absolute
floor (the atol of an ODE solver's max(rtol |y|, atol)): a creep law that relaxes completely (a Maxwell branch, n = 1) leaves rates at the noise of
the Newton tolerance, whose relative change from step to step is O(0.1) however short the step;
without the floor every step was rejected and the run stopped at dt_min_s (session 18, a fully
relaxed ply). It lets the error of the accumulated strain grow by at most ~time_tolerance x 1e-8
per phase, and changes nothing where the elastic strain exceeds 1e-8 (every run before it: the gold
histories are unchanged). Summed over a phase, the error of
the accumulated creep strain is then at most about
    time_tolerance x (creep strain + eps_el ln(t_end / t_first)):
relative to the creep where the creep matters, while early transients whose creep is
negligible next to the elastic strain (stress concentrations relaxing, the friction transient
after a load jump) are not resolved on their own microsecond time scales. ln(t_end/t_first) is
~10-20, so the floor is ~1e-2 x time_tolerance in strain: far below any measured change. A step with a
measure above REJECT x time_tolerance is redone; the next step is
dt * clip(SAFETY (tol/err)^(1/order), 0.2, 2) (down to 0.05 on a rejection).
"""
from __future__ import annotations

import math

import numpy as np

INTEGRATORS = {"trapezoidal": 0.5, "backward_euler": 1.0}
ORDER = {"trapezoidal": 2, "backward_euler": 1}
SAFETY = 0.9
STRAIN_FLOOR = 1e-8   # absolute floor of the error measure's strain scale (module docstring)
REJECT = 1.5


def local_error(integrator: str, rms, dt: float, dt_prev: float, rate_new: np.ndarray, rate_n: np.ndarray,
                rate_prev: np.ndarray, dp: np.ndarray, elastic_strain: float, t_phase: float) -> float:
    """Relative local error of the step (see module docstring); rms(values) is the volume RMS."""
    if dt <= 0.0:
        return 0.0
    if integrator == "trapezoidal":
        d1 = (rate_new - rate_n) / dt
        d0 = (rate_n - rate_prev) / dt_prev if dt_prev > 0.0 else 0.0   # at rest before the first step
        lte = dt ** 3 / 12.0 * np.abs(2.0 * (d1 - d0) / (dt + dt_prev))
    else:
        lte = 0.5 * dt * np.abs(rate_new - rate_n)
    tp = max(t_phase, dt)
    scale = max(rms(dp) + elastic_strain * dt / tp, STRAIN_FLOOR * dt / tp)
    return rms(lte) / scale if scale > 1e-300 else 0.0


def step_factor(integrator: str, err: float, tol: float, rejected: bool = False) -> float:
    """Factor for the next step size from the relative error of this one."""
    if err <= 0.0:
        return 2.0
    return min(2.0, max(0.05 if rejected else 0.2, SAFETY * (tol / err) ** (1.0 / ORDER[integrator])))


def first_step(tol: float, median_rate: float, cap_dt: float) -> float:
    """Start-up step after an instantaneous load jump. The rates just after a jump are not the
    limit of the rates before it (the jump itself is elastic, and the regularised friction
    responds to the slip rate), so no error estimate spans the jump: the first two steps are
    backward Euler (L-stable) without an estimate, each sized so that the creep increment at
    the *median* rate is 0.3 tol. Stress concentrations (the rim corner), whose rates are
    orders of magnitude above the median, relax within this step, as they do physically, instead of forcing the
    whole run onto their microsecond time scale; for the bulk, with a decaying power-law rate
    (pdot'/pdot^2 ~ -n), the local error is ~ (n/2)(0.3 tol)^2 << tol x dp."""
    if median_rate <= 0.0 or tol <= 0.0 or not math.isfinite(median_rate):
        return cap_dt
    return min(cap_dt, 0.3 * tol / median_rate)
