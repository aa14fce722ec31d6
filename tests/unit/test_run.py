"""fem/stepping/run.py: an interrupted run keeps a checkpoint and resumes to the uninterrupted answer."""
import json
import math

import pytest

from fem.stepping.run import Interrupted, run_case
from fem.verification.cases import make_study


def test_interrupt_then_resume_gives_identical_result(tmp_path):
    """An interrupted run keeps a checkpoint, leaves earlier results intact, and resumes to the
    same answer as an uninterrupted run."""
    kw = dict(platen={"friction": "coulomb", "mu": 0.2}, output={"fields": True},
              load=[{"pressure_MPa": 5.19, "ramp_s": 0.5, "hold_s": 5.0}])
    ref = run_case(make_study("r", **kw), tmp_path / "ref", progress=False)
    out = tmp_path / "run"
    out.mkdir()
    (out / "summary.json").write_text('{"old": 1}')
    with pytest.raises(Interrupted):
        run_case(make_study("r", **kw), out, progress=False, stop_after_steps=7)
    assert (out / "checkpoint.npz").exists()
    assert json.loads((out / "summary.json").read_text()) == {"old": 1}
    res = run_case(make_study("r", **kw), out, progress=False)
    assert not (out / "checkpoint.npz").exists()
    for k in ("thickness_change_pct", "diameter_change_pct", "platen_force_N", "time_steps", "newton_iterations"):
        assert res[k] == pytest.approx(ref[k], rel=1e-10), k
    assert (out / "fields.pvd").exists() and len(list((out / "fields").glob("*.vtu"))) >= 3
    # a checkpoint from a different study is not used
    with pytest.raises(Interrupted):
        run_case(make_study("r", **kw), out, progress=False, stop_after_steps=3)
    kw2 = dict(kw, load=[{"pressure_MPa": 6.0, "ramp_s": 0.5, "hold_s": 5.0}])
    other = run_case(make_study("r", **kw2), out, progress=False)
    assert other["platen_force_N"] == pytest.approx(6.0 * math.pi * 7.5 ** 2, rel=1e-9)
