"""Runs that survive (docs/robustness.md): the output-directory lock (fem/stepping/lock.py), a
corrupted or truncated checkpoint, a full disk or an unwritable --out, strict JSON. Coarse
axisymmetric cases of about a second each. Units: mm, N, MPa, s."""
import errno
import json
import math
import os
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from fem.cli import main
from fem.stepping import lock as L
from fem.stepping import outputs
from fem.stepping.run import Interrupted, run_case
from fem.verification.cases import BASE_TOML, ROOT, make_study

# a short case: 1 s ramp and 5 s hold (Coulomb mu = 0.2), about 30 steps, no fields
SHORT_TOML = BASE_TOML.replace("hold_s = 600.0", "hold_s = 5.0") + "[output]\nfields = false\n"
SHORT = dict(platen={"friction": "coulomb", "mu": 0.2}, load=[{"pressure_MPa": 5.19, "ramp_s": 1.0, "hold_s": 5.0}])


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def _write_lock(out, **over):
    now = time.time()
    d = {"host": socket.gethostname(), "pid": os.getpid(), "started": now, "heartbeat": now, **over}
    (out / ".lock").write_text(json.dumps(d))


def _same_history(a, b):
    """history.csv rows equal: text columns exactly, numbers to one unit in their 10th (last printed)
    significant digit (round-off of a solver that is not bit-reproducible can flip it)."""
    ra, rb = a.read_text().splitlines(), b.read_text().splitlines()
    assert len(ra) == len(rb) and ra[0] == rb[0]
    for la, lb in zip(ra[1:], rb[1:]):
        for x, y in zip(la.split(","), lb.split(",")):
            try:
                fx, fy = float(x), float(y)
            except ValueError:
                assert x == y, (la, lb)
                continue
            assert abs(fx - fy) <= 1.01 * (10.0 ** (math.floor(math.log10(abs(fx))) - 9) if fx else 0.0), (la, lb)


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


# ---------------------------------------------------------------------- lock
def test_lock_is_exclusive_heartbeats_and_releases(tmp_path):
    with L.RunLock(tmp_path, heartbeat_s=0.05) as a:
        own = L.lock_owner(tmp_path)
        assert own["pid"] == os.getpid() and own["host"] == socket.gethostname()
        assert set(own) >= {"host", "pid", "started", "heartbeat"}
        with pytest.raises(L.LockHeld) as e:
            L.RunLock(tmp_path).acquire()
        assert "another run holds this output directory" in str(e.value) and "\n" not in str(e.value)
        time.sleep(0.3)
        later = L.lock_owner(tmp_path)
        assert later["heartbeat"] > own["heartbeat"] and later["started"] == own["started"]
        # a child given the holder's token runs as a guest (a sweep executor holding the case)
        os.environ[L.TOKEN_ENV] = a.token
        try:
            g = L.RunLock(tmp_path)
            g.acquire()
            assert g.guest and not g.held
            g.release()
        finally:
            del os.environ[L.TOKEN_ENV]
        assert L.lock_owner(tmp_path)["pid"] == os.getpid()   # the guest left the owner's lock alone
    assert L.lock_owner(tmp_path) is None and not (tmp_path / ".lock").exists()


def test_stale_locks_are_broken(tmp_path):
    # same host, dead process
    _write_lock(tmp_path, pid=_dead_pid())
    with L.RunLock(tmp_path):
        assert L.lock_owner(tmp_path)["pid"] == os.getpid()
    # another host: the heartbeat decides
    _write_lock(tmp_path, host="elsewhere", pid=1, heartbeat=time.time() - 120)
    with L.RunLock(tmp_path, stale_after_s=60):
        assert L.lock_owner(tmp_path)["pid"] == os.getpid()
    _write_lock(tmp_path, host="elsewhere", pid=1)
    with pytest.raises(L.LockHeld):
        L.RunLock(tmp_path).acquire()
    # an unreadable lock (its writer died while creating it) is stale once older than stale_after_s
    (tmp_path / ".lock").write_text("{")
    with pytest.raises(L.LockHeld):
        L.RunLock(tmp_path, stale_after_s=60).acquire()
    old = time.time() - 120
    os.utime(tmp_path / ".lock", (old, old))
    with L.RunLock(tmp_path, stale_after_s=60):
        pass
    assert not list(tmp_path.iterdir())


def test_run_refused_while_a_live_process_holds_the_lock_proceeds_past_a_dead_one(tmp_path, capsys):
    """Requirement: a second run on the same --out refuses with one line, exit 2, while another live
    process holds the lock (here a `sleep`); a lock left by a dead process is replaced and the run
    proceeds (and removes its lock at the end)."""
    study = tmp_path / "s.toml"
    study.write_text(SHORT_TOML)
    out = tmp_path / "out"
    out.mkdir()
    (out / "summary.json").write_text('{"precious": true}\n')
    holder = subprocess.Popen(["sleep", "60"])
    try:
        _write_lock(out, pid=holder.pid)
        p = subprocess.run([sys.executable, "-m", "fem", "run", str(study), "--out", str(out)], capture_output=True,
                           text=True, cwd=ROOT, timeout=120)
        assert p.returncode == 2, p.stderr
        line = _one_line(p.stderr)
        assert "another run holds this output directory" in line and f"pid {holder.pid}" in line, line
        assert (out / "summary.json").read_text() == '{"precious": true}\n'
        assert L.lock_owner(out)["pid"] == holder.pid
    finally:
        holder.kill()
        holder.wait()
    dead = _dead_pid()
    _write_lock(out, pid=dead)
    # what a process killed while writing leaves behind is cleaned up by the next run
    for n in (".checkpoint.npz.tmp99999", ".summary.json.tmp99999", f".lock.tmp{dead}.12345"):
        (out / n).write_text("partial")
    (out / ".staging99999" / "fields").mkdir(parents=True)
    (out / "notes.txt").write_text("not ours")
    assert main(["run", str(study), "--out", str(out), "--quiet"]) == 0
    assert json.loads((out / "summary.json").read_text())["time_steps"] > 0
    assert sorted(p.name for p in out.iterdir()) == ["history.csv", "notes.txt", "summary.json"]


# ---------------------------------------------------------------------- corrupted checkpoint
@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_damaged_checkpoint_one_line_then_clean_restart(tmp_path, capsys, damage):
    """Requirement: a truncated or corrupted checkpoint is detected: one line on stderr
    ("checkpoint ... unreadable: ...; starting over"), a clean restart, no traceback; the result is
    the uninterrupted one."""
    study = tmp_path / "s.toml"
    study.write_text(SHORT_TOML)
    from fem.study import load_study
    assert make_study("s", **SHORT).fingerprint() == load_study(study).fingerprint()
    ref = tmp_path / "ref"
    assert main(["run", str(study), "--out", str(ref), "--quiet"]) == 0
    out = tmp_path / "out"
    with pytest.raises(Interrupted):
        run_case(make_study("s", **SHORT), out, progress=False, stop_after_steps=6)
    ck = out / "checkpoint.npz"
    data = ck.read_bytes()
    ck.write_bytes(data[: len(data) // 2] if damage == "truncated" else os.urandom(len(data)))
    capsys.readouterr()
    assert main(["run", str(study), "--out", str(out), "--quiet"]) == 0
    line = _one_line(capsys.readouterr().err)
    assert line.startswith(f"checkpoint {ck} unreadable: ") and line.endswith("; starting over"), line
    a, b = (json.loads((d / "summary.json").read_text()) for d in (ref, out))
    for k in ("thickness_change_pct", "diameter_change_pct", "time_steps", "newton_iterations"):
        assert b[k] == pytest.approx(a[k], rel=1e-10), k
    _same_history(ref / "history.csv", out / "history.csv")
    assert not ck.exists()


# ---------------------------------------------------------------------- unwritable output, full disk
def test_out_under_a_file_one_line_exit_2(tmp_path, capsys):
    study = tmp_path / "s.toml"
    study.write_text(SHORT_TOML)
    (tmp_path / "afile").write_text("keep")
    assert main(["run", str(study), "--out", str(tmp_path / "afile" / "sub"), "--quiet"]) == 2
    line = _one_line(capsys.readouterr().err)
    assert "cannot write the output directory" in line, line
    assert (tmp_path / "afile").read_text() == "keep"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_read_only_out_one_line_exit_2(tmp_path, capsys):
    study = tmp_path / "s.toml"
    study.write_text(SHORT_TOML)
    out = tmp_path / "ro"
    out.mkdir()
    (out / "summary.json").write_text('{"precious": true}\n')
    out.chmod(0o555)
    try:
        assert main(["run", str(study), "--out", str(out), "--quiet"]) == 2
    finally:
        out.chmod(0o755)
    line = _one_line(capsys.readouterr().err)
    assert "permission denied" in line, line
    assert sorted(p.name for p in out.iterdir()) == ["summary.json"]
    assert (out / "summary.json").read_text() == '{"precious": true}\n'


@pytest.mark.parametrize("when", ["checkpoint", "final outputs"])
def test_disk_full_one_line_exit_2_nothing_lost(tmp_path, capsys, monkeypatch, when):
    """Requirement: a full disk (ENOSPC from the flush of any output file: a checkpoint during the
    run, or the final history.csv) gives one line, exit 2; the files already there keep their
    content, no temporary file is left, and the lock is released."""
    every = 1 if when == "checkpoint" else 1000
    study = tmp_path / "s.toml"
    study.write_text(SHORT_TOML + f"checkpoint_every_steps = {every}\n")
    out = tmp_path / "out"
    out.mkdir()
    old = {"summary.json": '{"precious": true}\n', "history.csv": "step,time_s\n0,0\n"}
    for k, v in old.items():
        (out / k).write_text(v)

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(outputs, "_fsync", full)
    assert main(["run", str(study), "--out", str(out), "--quiet"]) == 2
    line = _one_line(capsys.readouterr().err)
    assert "disk full" in line and (when != "checkpoint" or "checkpoint" in line), line
    assert sorted(p.name for p in out.iterdir()) == sorted(old)
    for k, v in old.items():
        assert (out / k).read_text() == v


def test_summary_is_strict_json(tmp_path):
    """summary.json and the checkpoint metadata are strict JSON (no NaN/Infinity tokens)."""
    from fem.stepping import checkpoint as C
    meta = {"dt_next": float("nan"), "x": [1.0, float("inf"), -float("inf")], "ok": 0.1}
    text = C.dumps(meta)
    json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard token {c}"))
    back = C.loads(text)
    assert np.isnan(back["dt_next"]) and back["x"][1:] == [float("inf"), -float("inf")] and back["ok"] == 0.1
    out = tmp_path / "o"
    run_case(make_study("j"), out, progress=False)
    json.loads((out / "summary.json").read_text(), parse_constant=lambda c: pytest.fail(f"non-standard token {c}"))


def test_resume_inside_a_phase_whose_start_comes_from_the_state(tmp_path):
    """The resume repeats the uninterrupted run also inside a load step whose start value is taken
    from the state when it begins (force control -> gap control ramps from the current platen
    position), with field snapshots on (their schedule is part of the checkpoint): same history
    rows, same snapshot times."""
    kw = dict(output={"fields": True}, time={"min_ramp_steps": 4},   # 45 steps
              load=[{"pressure_MPa": 2.0, "ramp_s": 0.2, "hold_s": 0.2}, {"gap_mm": 0.499, "ramp_s": 0.2, "hold_s": 0.0}])
    ref = tmp_path / "ref"
    run_case(make_study("g", **kw), ref, progress=False)
    rows = (ref / "history.csv").read_text().splitlines()
    k = next(i for i, r in enumerate(rows[1:]) if ",ramp 2/2," in r) + 2   # two steps into the gap ramp
    out = tmp_path / "out"
    with pytest.raises(Interrupted):
        run_case(make_study("g", **kw), out, progress=False, stop_after_steps=k)
    run_case(make_study("g", **kw), out, progress=False)
    _same_history(ref / "history.csv", out / "history.csv")
    times = [[ln.split('"')[1] for ln in (d / "fields.pvd").read_text().splitlines() if "timestep=" in ln] for d in (ref, out)]
    assert times[0] == times[1] and len(times[0]) >= 4
