"""The Newton loop with bordering (fem/models/newton.py): the general scalar load constraint
(force, gap, spring in series) on a frictionless elastic disc, where the answer is exact.
Units: mm, N, MPa, s."""
import math

import numpy as np
import pytest

from fem.models.newton import solve_step
from fem.physics.platen import LoadConstraint
from fem.stepping.run import build_model
from fem.verification.cases import make_study


def _elastic_disc():
    m = build_model(make_study("el", li={"creep_A": 0.0}, platen={"friction": "frictionless"}))[0]
    E = m.mat.youngs_modulus_MPa
    R, h0 = m.geo.radius_mm, m.geo.thickness_mm
    return m, E * math.pi * R ** 2 / h0   # axial stiffness F / (h0 - h) of the disc (N/mm)


def test_spring_in_series_satisfies_its_constraint_and_the_analytic_split():
    """Requirement: with a spring-loaded fixture, F = k (s - delta) holds at convergence, and the
    platen approach of a frictionless elastic disc is the series-spring value: k (s - delta) =
    k_disc 2 delta (the gap closes by 2 delta with mid-plane symmetry), k_disc = E pi R^2 / h0."""
    m, k_disc = _elastic_disc()
    k, s = 2.0e4, 2e-3                    # N/mm, mm: a spring about 1/40 as stiff as the disc
    x0 = np.zeros(m.w.x.array.size)
    res = solve_step(m, 0.0, x0, LoadConstraint.spring(k, s), x0, 0.0)
    F, delta = res.force_N, m.delta
    assert F == pytest.approx(k * (s - delta), rel=1e-8)
    expected = k * s / (k + 2.0 * k_disc)          # k (s - d) = k_disc (2 d)
    assert delta == pytest.approx(expected, rel=2e-3)
    assert F == pytest.approx(k_disc * 2.0 * delta, rel=2e-3)


def test_force_and_gap_constraints_are_the_two_limits():
    """Requirement: force control gives the force exactly; gap control gives delta exactly, and the
    two agree on the same elastic state."""
    m, k_disc = _elastic_disc()
    x0 = np.zeros(m.w.x.array.size)
    F_target = 500.0
    r1 = solve_step(m, 0.0, x0, LoadConstraint.force(F_target), x0, 0.0)
    d1 = m.delta
    assert r1.force_N == pytest.approx(F_target, rel=1e-8)
    r2 = solve_step(m, 0.0, x0, LoadConstraint.gap(d1), x0, 0.0)
    assert m.delta == d1
    assert r2.force_N == pytest.approx(F_target, rel=1e-6)
    assert LoadConstraint.force(1.0).residual(3.0, 7.0) == 2.0
    assert LoadConstraint.spring(10.0, 1.0).residual(5.0, 0.5) == 0.0
    with pytest.raises(ValueError, match="control"):
        LoadConstraint.of("torque", 1.0)


def test_factorisation_reuse_gives_the_same_answer(tmp_path):
    """Requirement: chord iterations with a reused factorisation (reuse_factorisation = true) converge
    to the same state as full Newton: 3D quarter disc, Coulomb mu 0.2, creep ramp and hold on the same
    fixed steps (5 ms); final thinning, diameter change and force within 1e-6 relative, with fewer
    factorisations. (With adaptive steps the two runs may choose different steps, since the step
    control counts factorisations, and then differ by the time-integration error.)"""
    from fem.stepping.run import run_case
    from fem.verification.gold import read_columns
    over = dict(geometry={"model": "3d", "mesh_size_mm": 0.75, "layers": 1}, platen={"friction": "coulomb", "mu": 0.2},
                load=[{"pressure_MPa": 5.19, "ramp_s": 0.05, "hold_s": 0.05}])
    out = {}
    for reuse in (False, True):
        s = make_study(f"r{reuse}", numerics={"quadrature_degree": 2, "reuse_factorisation": reuse},
                       time={"time_tolerance": 0.0, "dt_max_s": 0.005}, **over)
        out[reuse] = run_case(s, tmp_path / str(reuse), progress=False)
    times = [[r["time_s"] for r in read_columns(tmp_path / str(reuse) / "history.csv")] for reuse in (False, True)]
    assert times[0] == pytest.approx(times[1], rel=1e-12) and len(times[0]) > 15   # the same steps
    assert out[True]["reuse_factorisation"] is True and out[False]["reuse_factorisation"] is False
    assert out[True]["factorisations"] < out[False]["factorisations"]
    for k in ("thickness_change_pct", "diameter_change_pct", "platen_force_N"):
        assert out[True][k] == pytest.approx(out[False][k], rel=1e-6), k


def _first_step_soft_coulomb(E, nu, mu, p, v_reg, stick_start: bool, monkeypatch):
    """Solve the first load step (from zero force, dt 0.1 s) of the elastic coarse disc with Young's
    modulus E (MPa), Coulomb friction mu and regularisation speed v_reg (mm/s) at pressure p (MPa):
    (platen displacement delta in mm or None when Newton failed, iterations)."""
    import fem.models.newton as nw
    from fem.models.base import NewtonFailure
    monkeypatch.setattr(nw, "STICK_START", stick_start)
    m = build_model(make_study("soft", li={"creep_A": 0.0, "youngs_modulus_MPa": E, "poisson_ratio": nu},
                               platen={"friction": "coulomb", "mu": mu, "slip_regularization_mm_per_s": v_reg}))[0]
    x0 = np.zeros(m.w.x.array.size)
    F = p * math.pi * m.geo.radius_mm ** 2
    try:
        res = solve_step(m, 0.1, x0, LoadConstraint.force(F), x0, 0.0)
    except NewtonFailure:
        return None, None
    assert res.force_N == pytest.approx(F, rel=1e-8)
    return m.delta, res.iterations


def test_stick_start_changes_robustness_not_the_answer(monkeypatch):
    """Requirement: a failed Coulomb solve is retried from a stuck predictor (fem/models/newton.py,
    stick start), here the first load step. (1) Where Newton converges either way, the answer is the
    same to round-off. (2) A shear-soft disc (E 30 MPa, nu 0.49) at mu 0.3 with a sharp
    regularisation (v_reg 1e-5 mm/s): without the stick start Newton fails even with the
    continuation; with it the step converges (measured 2026-12-03: the 6 mm composite at mu 0.2,
    gel skin G 1 MPa, failed its first step down to dt 1.6 ms and now runs)."""
    d_off, _ = _first_step_soft_coulomb(3.0, 0.49, 0.3, 0.05, 1e-4, False, monkeypatch)
    d_on, _ = _first_step_soft_coulomb(3.0, 0.49, 0.3, 0.05, 1e-4, True, monkeypatch)
    assert d_off is not None and d_on is not None
    assert d_on == pytest.approx(d_off, rel=1e-9)
    d_off, _ = _first_step_soft_coulomb(30.0, 0.49, 0.3, 1.0, 1e-5, False, monkeypatch)
    d_on, _ = _first_step_soft_coulomb(30.0, 0.49, 0.3, 1.0, 1e-5, True, monkeypatch)
    assert d_off is None
    assert d_on is not None and d_on > 0.0


def test_a_jacobian_with_nan_cuts_the_step_and_the_run_goes_on(tmp_path, monkeypatch):
    """Requirement: a Newton iterate whose Jacobian holds a NaN (a diverged iterate) makes MUMPS fail;
    the step is cut and redone, and the run finishes with the answer of an undisturbed run (to the
    time-integration error of the shorter steps). Before session 21 the LU solver stayed failed: the
    next solve raised a raw PETSc error and the run ended."""
    from fem.models.base import DiscModel, NewtonFailure
    from fem.stepping.run import run_case
    s = make_study("nan", li={"creep_A": 1e-4}, platen={"friction": "frictionless"},
                   numerics={"linear_solver": "mumps"}, load=[{"pressure_MPa": 5.19, "ramp_s": 0.2, "hold_s": 0.2}])
    clean = run_case(s, tmp_path / "clean", progress=False)
    orig, calls = DiscModel.assemble_jacobian, []

    def poisoned(self):
        K = orig(self)
        calls.append(1)
        if len(calls) == 5:
            i = int(np.setdiff1d(np.arange(self.n_owned), self.constrained_owned)[0])   # a free dof
            K.setValue(i, i, float("nan"))
            K.assemble()
        return K

    import fem.stepping.run as run
    solve, failures = run._solve, []

    def counted(*a, **k):
        try:
            return solve(*a, **k)
        except NewtonFailure as e:
            failures.append(str(e))
            raise

    monkeypatch.setattr(DiscModel, "assemble_jacobian", poisoned)
    monkeypatch.setattr(run, "_solve", counted)
    hit = run_case(s, tmp_path / "hit", progress=False)
    assert len(calls) > 5
    assert any("linear solve failed" in f for f in failures), failures   # the poisoned iteration cut its step
    for k in ("thickness_change_pct", "diameter_change_pct"):
        assert hit[k] == pytest.approx(clean[k], rel=2e-3), k
