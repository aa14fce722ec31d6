"""The screw fixture ([fixture], fem/physics/fixture.py): study keys, torque -> force, the load phases
(force ramp, then a spring hold at the screw position reached; 2k with mid-plane symmetry), bad input
and warnings, sweeps, and the relaxation report. The run against the ODE reference is
tests/verification/test_fixture.py. Units: mm, N, MPa, s; torque N*m."""
import json
import math

import pytest

from fem.cli import main
from fem.physics.fixture import FIXTURE_SOURCES, FixtureSpec
from fem.physics.platen import build_phases
from fem.study import parse_study
from fem.verification.cases import make_study, study_dict
from fem.workflows.sweep import first_values, load_sweep, to_toml

R0 = 7.5


def _fixture_study(fixture=None, load=None, **over):
    return make_study("fx", fixture=fixture if fixture is not None else {},
                      load=load or [{"torque_Nm": 1.6456, "ramp_s": 1.0, "hold_s": 10.0},
                                    {"pressure_MPa": 2.0, "ramp_s": 0.0, "hold_s": 5.0}], **over)


def test_fixture_defaults_and_torque_force():
    """Requirement: [fixture] = {} gives the paper's fit F = 543.09 + 739.49 T, its range T >= 0.5 N*m and
    the stiffness estimate, each with a source; a torque step's target force is the fit's."""
    s = _fixture_study()
    assert s.fixture == FixtureSpec(1.0e5, (543.09, 739.49), 0.5)
    assert s.load[0].force_N(R0, s.fixture) == pytest.approx(543.09 + 739.49 * 1.6456)
    assert s.load[1].force_N(R0, s.fixture) == pytest.approx(2.0 * math.pi * R0 ** 2)
    assert s.warnings == []
    for k in ("stiffness_N_per_mm", "torque_to_force_N", "min_torque_Nm", "symmetry"):
        assert FIXTURE_SOURCES[k]
    d = s.to_dict()
    assert d["fixture"] == {"stiffness_N_per_mm": 1.0e5, "torque_to_force_N": [543.09, 739.49], "min_torque_Nm": 0.5}
    assert d["load"][0] == {"ramp_s": 1.0, "hold_s": 10.0, "torque_Nm": 1.6456}
    json.dumps(d)
    # another stiffness or fit is another result
    assert _fixture_study({"stiffness_N_per_mm": 2e5}).fingerprint() != s.fingerprint()
    assert _fixture_study({"torque_to_force_N": [500, 700]}).fingerprint() != s.fingerprint()


def test_without_fixture_the_parameters_are_unchanged():
    """Requirement: without [fixture] nothing changes: no fixture or torque keys in the parameters (so
    fingerprints of old studies stay valid) and the phases are the plain force/gap phases."""
    s = make_study("plain", load=[{"pressure_MPa": 5.19, "ramp_s": 1.0, "hold_s": 2.0},
                                  {"gap_mm": 0.45, "ramp_s": 1.0, "hold_s": 2.0}])
    d = s.to_dict()
    assert s.fixture is None and "fixture" not in d and all("torque_Nm" not in st for st in d["load"])
    ph = build_phases(s.load, R0, 0.5, True)
    assert [(p.kind, p.control) for p in ph] == [("ramp", "force"), ("hold", "force"), ("ramp", "gap"), ("hold", "gap")]
    assert ph[1].value_start == ph[1].value_end == pytest.approx(5.19 * math.pi * R0 ** 2)
    c = ph[1].constraint(2.0)
    assert (c.force_coef, c.delta_coef, c.rhs) == (1.0, 0.0, pytest.approx(5.19 * math.pi * R0 ** 2))
    assert c.force_target_N == pytest.approx(5.19 * math.pi * R0 ** 2) and not c.is_gap


@pytest.mark.parametrize("use_symmetry,factor", [(True, 2.0), (False, 1.0)])
def test_fixture_phases_and_the_spring_of_the_model(use_symmetry, factor):
    """Requirement: with a fixture each step is a force ramp from the current force (0 at first, the
    relaxed force at a re-torque) to the target, then a spring hold; the model's spring is 2k with
    mid-plane symmetry (platen moves by half the gap closure) and k without. The hold's screw position
    comes from the state at the end of the ramp and carries exactly that force."""
    s = _fixture_study({"stiffness_N_per_mm": 3.0e4})
    ph = build_phases(s.load, R0, 0.5, use_symmetry, s.fixture)
    assert [(p.kind, p.control) for p in ph] == [("ramp", "force"), ("hold", "spring")] * 2
    F1 = 543.09 + 739.49 * 1.6456
    assert (ph[0].value_start, ph[0].value_end, ph[0].t_end) == (0.0, pytest.approx(F1), 1.0)
    assert math.isnan(ph[2].value_start) and ph[2].value_end == pytest.approx(2.0 * math.pi * R0 ** 2)
    hold = ph[1]
    assert hold.stiffness_N_per_mm == factor * 3.0e4 and (hold.t_start, hold.t_end) == (1.0, 11.0)
    assert math.isnan(hold.value_start) and math.isnan(hold.value_end)
    # resolve from a state: platen displacement delta (model), force F at the end of the ramp
    delta, F = 0.004, 1700.0
    r = hold.resolved(hold.start_from_state(delta, F))
    assert r.value_start == r.value_end == pytest.approx(delta + F / (factor * 3.0e4))
    c = r.constraint(5.0)
    assert c.residual(F, delta) == pytest.approx(0.0, abs=1e-9)     # the hold starts at the force reached
    assert c.force_target_N == pytest.approx(F1)                      # tolerances scale with the force
    # the full-disc spring: gap closure g = factor * delta, F = k (s - g) with s = g + F/k
    g = factor * delta
    s_full = s.fixture.screw_mm(g, F)
    assert s_full == pytest.approx(g + F / 3.0e4)
    F2 = 3.0e4 * (s_full - factor * (delta + 1e-3))     # after the disc thins by factor * 1e-3
    assert c.residual(F2, delta + 1e-3) == pytest.approx(0.0, abs=1e-9)


def _validate(tmp_path, capsys, d):
    p = tmp_path / "s.toml"
    p.write_text(to_toml(d))
    rc = main(["validate", str(p)])
    return rc, capsys.readouterr()


def test_torque_below_the_fit_range_warns_once(tmp_path, capsys):
    """Requirement: a torque below the fit's range (T >= 0.5 N*m, paper) is allowed with one warning
    line on stderr naming the key and the range; inside the range there is none."""
    d = study_dict(fixture={}, load=[{"torque_Nm": 0.3, "ramp_s": 1.0, "hold_s": 1.0}])
    rc, cap = _validate(tmp_path, capsys, d)
    lines = cap.err.strip().splitlines()
    assert rc == 0 and len(lines) == 1 and lines[0].startswith("warning: ")
    assert "torque_Nm = 0.3" in lines[0] and "0.5" in lines[0] and "min_torque_Nm" in lines[0]
    assert len(parse_study(d).warnings) == 1
    d["load"][0]["torque_Nm"] = 0.5
    rc, cap = _validate(tmp_path, capsys, d)
    assert rc == 0 and cap.err == ""
    d["fixture"] = {"min_torque_Nm": 0.6}       # the range belongs to the fit: settable
    rc, cap = _validate(tmp_path, capsys, d)
    assert rc == 0 and "min_torque_Nm" in cap.err


BAD = [
    ({"fixture": {"torque_to_force_N": [1.0]}}, "[fixture] torque_to_force_N"),
    ({"fixture": {"torque_to_force_N": [1.0, 2.0, 3.0]}}, "[fixture] torque_to_force_N"),
    ({"fixture": {"torque_to_force_N": [500.0, 0.0]}}, "0 < b"),
    ({"fixture": {"torque_to_force_N": [500.0, -1.0]}}, "[fixture] torque_to_force_N"),
    ({"fixture": {"torque_to_force_N": [math.nan, 700.0]}}, "[fixture] torque_to_force_N"),
    ({"fixture": {"torque_to_force_N": [500.0, math.inf]}}, "[fixture] torque_to_force_N"),
    ({"fixture": {"torque_to_force_N": [500.0, "700"]}}, "[fixture] torque_to_force_N"),
    ({"fixture": {"torque_to_force_N": [True, 700.0]}}, "[fixture] torque_to_force_N"),
    ({"fixture": {"torque_to_force_N": [[500.0, 700.0], [1.0, 2.0]]}}, "[fixture] torque_to_force_N"),
    ({"fixture": {"stiffness_N_per_mm": 0.0}}, "[fixture] stiffness_N_per_mm"),
    ({"fixture": {"stiffness_N_per_mm": [1e5, 0.0]}}, "[fixture] stiffness_N_per_mm"),   # a sweep with a bad value
    ({"fixture": {"stiffness": 1e5}}, "[fixture] stiffness"),
    ({"load": [{"torque_Nm": 1.0, "ramp_s": 1.0, "hold_s": 1.0}]}, "torque_Nm: needs a [fixture]"),
    ({"fixture": {}, "load": [{"gap_mm": 0.4, "ramp_s": 1.0, "hold_s": 1.0}]}, "gap_mm: not allowed with a [fixture]"),
    ({"fixture": {}, "load": [{"torque_Nm": 1.0, "pressure_MPa": 1.0, "ramp_s": 1.0, "hold_s": 1.0}]},
     "exactly one of torque_Nm"),
    ({"fixture": {}, "load": [{"ramp_s": 1.0, "hold_s": 1.0}]}, "exactly one of torque_Nm"),
    ({"fixture": {"torque_to_force_N": [-100.0, 10.0]}, "load": [{"torque_Nm": 5.0, "ramp_s": 1.0, "hold_s": 1.0}]},
     "torque_Nm = 5 is out of range"),
]


@pytest.mark.parametrize("over,needle", BAD, ids=[n for _, n in BAD])
def test_bad_fixture_input_one_line(tmp_path, capsys, over, needle):
    """Requirement: bad [fixture] and torque input is refused with exit 2 and one line naming the key."""
    d = study_dict(**{k: v for k, v in over.items() if k != "load"})
    if "load" in over:
        d["load"] = over["load"]
    rc, cap = _validate(tmp_path, capsys, d)
    lines = cap.err.strip().splitlines()
    assert rc == 2 and len(lines) == 1 and "Traceback" not in cap.err, cap.err
    assert needle in lines[0], lines[0]


def test_fixture_fit_is_a_value_not_a_sweep(tmp_path):
    """Requirement: the pair torque_to_force_N is one value in a sweep (not an axis), and sweeping the
    torque or the stiffness works; first_values keeps the pair."""
    d = study_dict(fixture={"torque_to_force_N": [500.0, 700.0], "stiffness_N_per_mm": [5e4, 1e5]},
                   load=[{"torque_Nm": [1.0, 2.0], "ramp_s": 1.0, "hold_s": 1.0}])
    p = tmp_path / "sw.toml"
    p.write_text(to_toml(d))
    name, cases = load_sweep(p)
    assert sorted((c.swept["torque_Nm"], c.swept["stiffness_N_per_mm"]) for c in cases) == [
        (1.0, 5e4), (1.0, 1e5), (2.0, 5e4), (2.0, 1e5)]
    assert all("torque_to_force_N" not in c.swept for c in cases)
    for c in cases:
        assert c.study.fixture.torque_to_force_N == (500.0, 700.0)
    assert first_values(d)["fixture"]["torque_to_force_N"] == [500.0, 700.0]
    assert parse_study(first_values(d)).fixture.stiffness_N_per_mm == 5e4


def test_fixture_run_history_summary_and_report(tmp_path):
    """Requirement: a fixture run writes screw_mm (constant within each screw hold), the relaxation of
    each hold in summary.json (force falls in the hold, re-torque restores the target), and the report
    draws relaxation.png with one table row per hold. Small disc (4 mm), coarse mesh, short history."""
    from fem.workflows.report import write_report
    from fem.workflows.sweep import case_dir
    d = study_dict(geometry={"diameter_mm": 4.0, "mesh_size_mm": 0.25},
                   li={"creep_A": 1e-8},
                   fixture={"stiffness_N_per_mm": 5000.0, "torque_to_force_N": [0.0, 50.0]},
                   load=[{"pressure_MPa": 10.0, "ramp_s": 0.5, "hold_s": 4.0},
                         {"torque_Nm": 2.0, "ramp_s": 0.0, "hold_s": 4.0}])
    p = tmp_path / "fxrep.toml"
    p.write_text(to_toml(d))
    name, cases = load_sweep(p)
    from fem.stepping.run import run_case
    out = case_dir(name, cases[0], tmp_path)
    s = run_case(cases[0].study, out, progress=False)
    from fem.workflows.report import read_history
    hist = read_history(out / "history.csv")
    assert "screw_mm" in hist[0]
    for i in (1, 2):
        rows = [r for r in hist if r["phase"] == f"hold {i}/2"]
        assert len(rows) > 3
        screws = [r["screw_mm"] for r in rows]
        assert max(screws) - min(screws) <= 1e-9 * max(screws)
    holds = s["fixture"]["holds"]
    assert [h["step"] for h in holds] == [1, 2]
    assert holds[0]["force_start_N"] == pytest.approx(10.0 * math.pi * 4.0, rel=1e-8)
    assert holds[1]["force_start_N"] == pytest.approx(100.0, rel=1e-8)      # re-torque: 0 + 50 T
    for h in holds:
        assert 5.0 < h["force_relaxation_pct"] < 95.0 and h["thinning_during_hold_pp"] > 0.0
    assert s["fixture"]["model_spring_N_per_mm"] == 1.0e4 and s["fixture"]["sources"] == FIXTURE_SOURCES
    rep = write_report(p, root=tmp_path, measured=tmp_path / "none.csv")
    md = rep.read_text()
    assert (rep.parent / "relaxation.png").stat().st_size > 10000
    assert "## Force relaxation in the screw fixture" in md
    assert md.count("| base | 5e+03 |") == 2 and "torque_Nm = 2 |" in md and "pressure_MPa = 10 |" in md


def test_fixture_run_resumes_from_a_checkpoint_in_a_screw_hold(tmp_path):
    """Requirement: a fixture run interrupted inside a screw hold resumes from its checkpoint with the
    same screw position and repeats the uninterrupted history step for step (1e-10)."""
    from fem.stepping.run import Interrupted, run_case
    from fem.workflows.report import read_history
    kw = dict(geometry={"diameter_mm": 4.0, "mesh_size_mm": 0.25}, li={"creep_A": 1e-8},
              fixture={"stiffness_N_per_mm": 5000.0},
              load=[{"pressure_MPa": 10.0, "ramp_s": 0.5, "hold_s": 3.0},
                    {"pressure_MPa": 8.0, "ramp_s": 0.2, "hold_s": 3.0}])
    run_case(make_study("fr", **kw), tmp_path / "ref", progress=False)
    ref = read_history(tmp_path / "ref" / "history.csv")
    n_ramp = sum(r["phase"] == "ramp 1/2" for r in ref)
    with pytest.raises(Interrupted):
        run_case(make_study("fr", **kw), tmp_path / "int", progress=False, stop_after_steps=n_ramp + 3)
    assert (tmp_path / "int" / "checkpoint.npz").exists()
    run_case(make_study("fr", **kw), tmp_path / "int", progress=False)
    new = read_history(tmp_path / "int" / "history.csv")
    assert len(new) == len(ref)
    for k in ("time_s", "force_N", "gap_mm", "screw_mm"):
        assert [r[k] for r in new] == pytest.approx([r[k] for r in ref], rel=1e-10, abs=1e-14), k
