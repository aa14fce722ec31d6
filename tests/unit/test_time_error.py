"""fem/stepping/timestep.py local_error: the relative measure of the creep step's local error and its
absolute strain floor (STRAIN_FLOOR). Units: s, strain."""
import numpy as np

from fem.stepping.timestep import STRAIN_FLOOR, local_error


def _rms(v):
    return float(np.sqrt(np.mean(np.asarray(v) ** 2)))


def test_a_relaxed_law_at_the_noise_floor_passes():
    """A law that has relaxed completely (rates ~1e-10 /s, the Newton noise, changing by 20 % from step
    to step whatever the step): without a floor the measure is ~0.1 for any dt, above a tolerance of
    0.03, so every step was rejected down to dt_min_s (session 18); with it the measure falls with dt."""
    rate_n, rate = np.full(4, 1.4e-10), np.full(4, 1.16e-10)
    errs = []
    for dt in (1e-2, 1e-6, 1e-10):
        dp = rate * dt
        errs.append(local_error("backward_euler", _rms, dt, dt, rate, rate_n, rate_n, dp, 7.7e-13, 0.3))
    assert max(errs) < 0.03
    # the relative part alone: the same O(0.1) at every dt
    for dt in (1e-2, 1e-10):
        lte = 0.5 * dt * abs(1.16e-10 - 1.4e-10)
        assert lte / (1.16e-10 * dt + 7.7e-13 * dt / 0.3) > 0.09


def test_the_floor_leaves_a_creeping_law_alone():
    """Where the elastic strain is above the floor the measure is the relative one, to the last bit."""
    rate_n, rate = np.array([2e-3, 1e-3]), np.array([1.8e-3, 0.9e-3])
    dt, t, eps_el = 0.05, 3.0, 1e-4
    dp = rate * dt
    err = local_error("backward_euler", _rms, dt, dt, rate, rate_n, rate_n, dp, eps_el, t)
    lte = 0.5 * dt * np.abs(rate - rate_n)
    assert err == _rms(lte) / (_rms(dp) + eps_el * dt / t)
    assert eps_el > 100 * STRAIN_FLOOR
