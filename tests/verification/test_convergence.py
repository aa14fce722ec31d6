"""Verification of the axisymmetric solver: constant-force creep against the analytic solution and
the observed convergence orders in time (both integrators, error control), mesh convergence with
friction and at large creep strain, and volume conservation (coarse meshes).

Each test states the requirement it checks and its tolerance. Units: mm, N, MPa, s.
"""
import math

import numpy as np
import pytest

from fem.stepping.run import run_case
from fem.verification import analytic
from fem.verification.cases import make_study


def _run(tmp_path, name, **over):
    return run_case(make_study(name, **over), tmp_path / name, progress=False)


# ---------------------------------------------------------------- 2. creep at constant force
CREEP_T = 0.076  # s: analytic thickness loss 55 % at 5.19 MPa with A = 7.7e-3, n = 6.56


def _creep_study(integrator, cap, tol=0.0, hold=CREEP_T):
    return make_study("creep", time={"integrator": integrator, "time_tolerance": tol,
                                     "max_creep_increment": cap, "max_local_creep_increment": 10.0},
                      load=[{"pressure_MPa": 5.19, "ramp_s": 0.0, "hold_s": hold}])


@pytest.fixture(scope="module")
def creep_runs(tmp_path_factory):
    """Fixed creep-increment steps (no error control), both integrators, three step sizes."""
    out = {}
    for integ, caps in (("backward_euler", (0.02, 0.01, 0.005)), ("trapezoidal", (0.04, 0.02, 0.01))):
        for cap in caps:
            s = _creep_study(integ, cap)
            out[integ, cap] = (s, run_case(s, tmp_path_factory.mktemp(f"creep{integ}{cap}"), progress=False))
    return out


def test_constant_force_creep_matches_analytic(creep_runs):
    """Requirement: frictionless constant-force creep follows eps = ln(1 + n A P0^n t)/n at >= 50 %
    thickness loss: thickness and diameter change within 0.5 % relative (backward Euler, the
    coarser integrator), and the trapezoidal rule (dp <= 0.02 per step) within 0.05 % (thickness)
    and 0.1 % (diameter, twice as sensitive to the creep strain) of the exact solution of the
    law including elasticity."""
    s, r = creep_runs["backward_euler", 0.005]
    t_exact, d_exact = analytic.creep_changes_pct(s.li, 5.19, CREEP_T)
    assert t_exact >= 50.0
    assert r["thickness_change_pct"] == pytest.approx(t_exact, rel=5e-3)
    assert r["diameter_change_pct"] == pytest.approx(d_exact, rel=5e-3)
    s, r = creep_runs["trapezoidal", 0.02]
    t_exact, d_exact = analytic.creep_changes_exact_pct(s.li, 5.19, CREEP_T)
    assert r["thickness_change_pct"] == pytest.approx(t_exact, rel=5e-4)
    assert r["diameter_change_pct"] == pytest.approx(d_exact, rel=1e-3)


def _observed_orders(creep_runs, integ):
    runs = {cap: v for (i, cap), v in creep_runs.items() if i == integ}
    caps = sorted(runs, reverse=True)
    s = runs[caps[0]][0]
    t_exact, _ = analytic.creep_changes_exact_pct(s.li, 5.19, CREEP_T)
    err = [abs(runs[c][1]["thickness_change_pct"] - t_exact) for c in caps]
    return math.log2(err[0] / err[1]), math.log2(err[1] / err[2]), err


def test_time_step_convergence_backward_euler_is_first_order(creep_runs):
    """Requirement: the observed order of backward Euler is ~1 (0.8-1.2), measured on the
    creep-increment cap that sets the step size (halved twice)."""
    p1, p2, err = _observed_orders(creep_runs, "backward_euler")
    assert 0.8 <= p2 <= 1.2, (p1, p2, err)
    assert 0.6 <= p1 <= 1.2, (p1, p2, err)


def test_time_step_convergence_trapezoidal_is_second_order(creep_runs):
    """Requirement: the observed order of the trapezoidal rule (with the exponential-map return)
    is ~2 (1.7-2.3) against the exact solution of the law, steps halved twice."""
    p1, p2, err = _observed_orders(creep_runs, "trapezoidal")
    assert 1.7 <= p2 <= 2.3, (p1, p2, err)
    assert 1.7 <= p1 <= 2.3, (p1, p2, err)


def test_time_tolerance_bounds_the_error(tmp_path):
    """Requirement: with error control (the default trapezoidal rule, creep caps out of the way)
    the relative error of the thickness and diameter change is below time_tolerance, the tighter
    tolerance gives the smaller error, and <= 5 % of the steps (+1) are rejected."""
    errs = {}
    for tol in (1e-2, 1e-3):
        s = _creep_study("trapezoidal", cap=1.0, tol=tol)
        r = run_case(s, tmp_path / f"tol{tol}", progress=False)
        t_exact, d_exact = analytic.creep_changes_exact_pct(s.li, 5.19, CREEP_T)
        errs[tol] = abs(r["thickness_change_pct"] - t_exact) / t_exact
        assert errs[tol] <= tol, (errs, tol)
        assert abs(r["diameter_change_pct"] - d_exact) / d_exact <= tol
        assert r["rejected_steps"] <= 0.05 * r["time_steps"] + 1, r
    assert errs[1e-3] < errs[1e-2], errs


# ---------------------------------------------------------------- 6. mesh convergence with friction
def test_mesh_convergence_coulomb(tmp_path):
    """Requirement: observed mesh convergence on a Coulomb-friction case: successive differences
    shrink with an observed order >= 1 over three meshes (h, h/2, h/4)."""
    vals = []
    for h in (0.125, 0.0625, 0.03125):
        r = _run(tmp_path, f"h{h}", geometry={"mesh_size_mm": h},
                 platen={"friction": "coulomb", "mu": 0.2},
                 load=[{"pressure_MPa": 5.19, "ramp_s": 0.0, "hold_s": 10.0}],
                 time={"max_creep_increment": 0.01})
        vals.append((r["thickness_change_pct"], r["diameter_change_pct"]))
    vals = np.array(vals)
    d1, d2 = np.abs(vals[1] - vals[0]), np.abs(vals[2] - vals[1])
    order = np.log2(d1 / d2)
    assert np.all(order >= 1.0), (vals, order)
    # the finest two meshes agree within 2 % relative
    assert np.all(np.abs(vals[2] - vals[1]) <= 0.02 * np.abs(vals[2])), vals


# ---------------------------------------------------------------- 7. large creep strain: volume and mesh
# The calibrated bare-Li regime of make check (17.79 MPa, Coulomb, ~40 % thinning). Parameters are
# fixed here (the 2026-11-23 fit) so the test does not move when the model is recalibrated.
LARGE = dict(li={"creep_A": 0.955, "threshold_stress_MPa": 0.276},
             platen={"friction": "coulomb", "mu": 0.282},
             load=[{"pressure_MPa": 17.79, "ramp_s": 1.0, "hold_s": 60.0}],
             time={"max_creep_increment": 0.03, "max_local_creep_increment": 0.3})


def test_volume_is_conserved_under_large_creep_strain(tmp_path):
    """Requirement: creep is isochoric, so at ~40 % thinning the discrete volume of the deformed disc
    changes only by the elastic part (-p/K, about -0.1 to -0.2 %): |dV/V0| <= 0.3 %, and the
    pointwise J stays near 1 (volume RMS of J - 1 <= 0.25). Plain Taylor-Hood with Simo's U(J)
    gained +12.8 % volume here (rms |J - 1| 0.67), which inflated the diameter by ~10 pp."""
    r = _run(tmp_path, "large", **LARGE)
    assert r["thickness_change_pct"] > 30.0, r["thickness_change_pct"]
    v = r["volume"]
    assert abs(v["volume_change_pct"]) <= 0.3, v
    assert v["rms_J_minus_1"] <= 0.25, v


def test_mesh_convergence_at_large_creep_strain(tmp_path):
    """Requirement: in the make-check regime the measured changes are mesh-converged on the
    calibration mesh: h = 0.125 mm and h/2 agree within 0.5 pp in thickness and diameter change
    (plain Taylor-Hood with Simo's U(J) differed by 6.1 pp in diameter)."""
    vals = []
    for h in (0.125, 0.0625):
        r = _run(tmp_path, f"h{h}", geometry={"mesh_size_mm": h}, **LARGE)
        vals.append((r["thickness_change_pct"], r["diameter_change_pct"]))
    d = np.abs(np.subtract(*vals))
    assert np.all(d <= 0.5), vals


def test_convergence_in_the_friction_regularisation(tmp_path):
    """Requirement: the results converge as the regularisation speed v_reg of the Coulomb law goes to
    0 (friction viscous below v_reg), and the default 1e-4 mm/s is converged: the literature-law case
    of studies/li3d_literature_mu01.toml (mu 0.1, 5.19 MPa, 1 s ramp + 30 s hold) on the coarse
    axisymmetric mesh at v_reg 1e-3 / 1e-4 / 1e-5 mm/s: successive differences shrink, and 1e-4 is
    within 0.3 % (relative) of 1e-5 in thickness and diameter change. (At 0.25 mm: +2.8 / +0.13 %
    from 1e-5 at 1e-3 / 1e-4, docs/benchmarks.md.)"""
    vals = []
    for v in (1e-3, 1e-4, 1e-5):
        r = _run(tmp_path, f"v{v}", li={"creep_A": 7.7e-3, "creep_n": 6.56},
                 platen={"friction": "coulomb", "mu": 0.1, "slip_regularization_mm_per_s": v},
                 load=[{"pressure_MPa": 5.19, "ramp_s": 1.0, "hold_s": 30.0}])
        vals.append((r["thickness_change_pct"], r["diameter_change_pct"]))
    vals = np.array(vals)
    d1, d2 = np.abs(vals[0] - vals[1]), np.abs(vals[1] - vals[2])
    assert np.all(d2 < d1), vals
    assert np.all(d2 <= 3e-3 * np.abs(vals[2])), vals
