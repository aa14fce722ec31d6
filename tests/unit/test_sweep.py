"""Sweeps: expansion into named cases, bad sweep input, skip/resume after an interrupt, report."""
import json
import signal
import subprocess
import sys
import time

import pytest

from fem.study import StudyError
from fem.verification.cases import BASE_TOML, ROOT
from fem.workflows.sweep import load_sweep

SWEEP = (BASE_TOML.replace("mu = 0.2", "mu = [0.1, 0.2]")
         .replace("pressure_MPa = 5.19", "pressure_MPa = [5.19, 17.79]").replace("hold_s = 600.0", "hold_s = HOLD"))


def test_expansion_names_and_values(tmp_path):
    p = tmp_path / "s.toml"
    p.write_text(SWEEP.replace("HOLD", "10.0"))
    name, cases = load_sweep(p)
    assert name == "s"
    assert [c.name for c in cases] == ["mu-0.1__pressure_MPa-5.19", "mu-0.1__pressure_MPa-17.79",
                                       "mu-0.2__pressure_MPa-5.19", "mu-0.2__pressure_MPa-17.79"]
    assert cases[3].study.platen.mu == 0.2 and cases[3].study.load[0].pressure_MPa == 17.79
    assert len({c.study.fingerprint() for c in cases}) == 4


@pytest.mark.parametrize("text,needle", [
    (SWEEP.replace("mu = [0.1, 0.2]", "mu = []"), "at least one value"),
    (SWEEP.replace("mu = [0.1, 0.2]", 'mu = [0.1, "0.2"]'), "mixed types"),
    (SWEEP.replace("mu = [0.1, 0.2]", "mu = [0.1, 0.2]\nmu_kPa = [1, 2]"), "unknown key"),
    (SWEEP.replace("mu = [0.1, 0.2]", "mu = [0.1, -0.2]"), "mu = -0.2 is out of range"),
    (SWEEP.replace("mu = [0.1, 0.2]", "mu = [0.1, 0.1]"), "repeated"),
])
def test_bad_sweeps_one_line_exit_2(tmp_path, text, needle):
    p = tmp_path / "bad.toml"
    p.write_text(text.replace("HOLD", "10.0"))
    with pytest.raises(StudyError, match=needle):
        load_sweep(p)
    r = subprocess.run([sys.executable, "-m", "fem", "sweep", str(p), "--results", str(tmp_path / "res")],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert needle in r.stderr
    assert not (tmp_path / "res").exists()


def test_run_rejects_lists_with_a_hint(tmp_path):
    p = tmp_path / "s.toml"
    p.write_text(SWEEP.replace("HOLD", "10.0"))
    r = subprocess.run([sys.executable, "-m", "fem", "run", str(p), "--out", str(tmp_path / "o")],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 2 and "sweep" in r.stderr


def test_interrupted_sweep_resumes_without_recomputing(tmp_path):
    """Kill a sweep (SIGTERM) while cases run, rerun it: every case finishes, finished cases are
    not recomputed, and every summary is valid JSON."""
    p = tmp_path / "s.toml"
    p.write_text(SWEEP.replace("HOLD", "30.0"))
    res = tmp_path / "res"
    cmd = [sys.executable, "-m", "fem", "sweep", str(p), "--jobs", "2", "--results", str(res)]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out_dir = res / "s"
    deadline = time.time() + 240
    while time.time() < deadline:  # wait until one case finished and others are under way
        done = list(out_dir.glob("*/summary.json"))
        if done and len(list(out_dir.glob("*/run.log"))) > len(done):
            break
        time.sleep(0.2)
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    out1, _ = proc.communicate(timeout=240)
    assert proc.returncode == 130, out1
    finished = {f.parent.name: f.stat().st_mtime_ns for f in out_dir.glob("*/summary.json")}
    assert 1 <= len(finished) < 4, out1
    for f in out_dir.glob("*/summary.json"):
        json.loads(f.read_text())
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "already finished" in r.stdout
    summaries = {f.parent.name: f for f in out_dir.glob("*/summary.json")}
    assert len(summaries) == 4
    for name, mtime in finished.items():
        assert summaries[name].stat().st_mtime_ns == mtime, f"{name} was recomputed"
    assert not list(out_dir.glob("*/checkpoint.npz"))
    # a third run recomputes nothing
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "4 already finished" in r.stdout
    # the report is written from the finished sweep
    r = subprocess.run([sys.executable, "-m", "fem", "report", str(p), "--results", str(res)],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "X server" not in r.stdout + r.stderr, r.stderr   # off-screen rendering needs no display, says nothing
    md = (out_dir / "report.md").read_text()
    assert "| bare_li | 17.79 | mu-0.1__pressure_MPa-17.79 |" in md
    assert (out_dir / "change_vs_pressure.png").stat().st_size > 10000
