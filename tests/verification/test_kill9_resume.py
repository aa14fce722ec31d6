"""Runs that survive (docs/robustness.md): `kill -9` at a random moment after a checkpoint exists,
then the same command, ends with the history of an uninterrupted run (axisymmetric serial, and 3D
on 2 MPI processes with the whole process group killed); a second run on a held output directory
is refused with one line and exit 2, and the stale lock of the killed run does not block the rerun.

Coarse meshes and `checkpoint_every_steps = 1` keep it short. The kill delay is random; its seed is
printed on failure (FEM_KILL9_SEED=<seed> repeats it). Units: mm, N, MPa, s.
"""
import csv
import json
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fem.verification.cases import BASE_3D_TOML, BASE_TOML, ROOT, mpiexec

SEED = int(os.environ.get("FEM_KILL9_SEED", time.time_ns() % 1_000_000))

# axisymmetric: 65 steps, ~3 s of computation on one core (Coulomb mu = 0.2, 1 s ramp, 600 s hold)
AXI_TOML = BASE_TOML + "[output]\nfields = true\ncheckpoint_every_steps = 1\n"
# 3D quarter disc, one layer of 1.5 mm elements (~1.1k dofs): ~38 steps, ~6 s on 2 processes
MPI_TOML = (BASE_3D_TOML.replace("mesh_size_mm = 0.75", "mesh_size_mm = 1.5").replace("ramp_s = 1.0", "ramp_s = 0.5")
            .replace("hold_s = 600.0", "hold_s = 30.0")
            + "[time]\nmin_ramp_steps = 3\n[output]\nfields = false\ncheckpoint_every_steps = 1\n")

INT_COLUMNS = ("step", "newton_iterations", "rejected_steps")
SUMMARY_KEYS = ("thickness_change_pct", "diameter_change_pct", "platen_force_N", "final_time_s", "time_steps",
                "rejected_steps", "newton_iterations", "max_equivalent_creep_strain", "gap_mm", "diameter_mm")


def _cmd(study: Path, out: Path, processes: int) -> list[str]:
    cmd = [sys.executable, "-m", "fem", "run", str(study), "--out", str(out)]
    return [mpiexec(), "-n", str(processes)] + cmd if processes > 1 else cmd


def _run(study, out, processes=1, timeout=300):
    p = subprocess.run(_cmd(study, out, processes), capture_output=True, text=True, cwd=ROOT, timeout=timeout)
    assert p.returncode == 0, p.stderr[-2000:]
    return p


def _descendants(pid: int) -> list[int]:
    """Every process below pid (from /proc), to make sure that none of the killed run survives."""
    children = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d.name))
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def _signal_run(p, sig, procs) -> None:
    """Send sig to the run's process group and to procs (its descendants, some maybe outside the group)."""
    os.killpg(p.pid, sig)
    for q in procs:
        try:
            os.kill(q, sig)
        except ProcessLookupError:
            pass


def _kill9_after_checkpoint(study, out, marker: str, processes: int, rng, max_delay_s: float,
                            during=None) -> float | None:
    """Start the run, wait until its first checkpoint exists, optionally call during() with the run
    frozen (SIGSTOP of its process group and everything below it, SIGCONT after: it still holds its
    output directory, its pid alive and its lock's heartbeat far younger than the 60 s that make a lock
    stale; without the freeze a loaded machine let the 6 s run finish while during() started a Python
    process), wait a random time, then SIGKILL the run's whole process group (and anything below it).
    Returns the delay, or None if the run had finished before the kill (the caller retries with a
    shorter delay)."""
    p = subprocess.Popen(_cmd(study, out, processes), cwd=ROOT, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        t0 = time.monotonic()
        while not (out / marker).exists():
            assert p.poll() is None, f"the run ended before its first checkpoint: {p.stderr.read()[-2000:]}"
            assert time.monotonic() - t0 < 120, "no checkpoint after 120 s"
            time.sleep(0.005)
        if during is not None:
            frozen = _descendants(p.pid)
            _signal_run(p, signal.SIGSTOP, frozen)
            try:
                during()
            finally:
                _signal_run(p, signal.SIGCONT, frozen)
        delay = rng.uniform(0.0, max_delay_s)
        time.sleep(delay)
        if p.poll() is not None:
            assert p.returncode == 0, p.stderr.read()[-2000:]
            return None
        _signal_run(p, signal.SIGKILL, _descendants(p.pid))
        p.wait(timeout=30)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
        p.stderr.close()
    assert p.returncode == -signal.SIGKILL
    if (out / "summary.json").exists():   # the run's processes had written their summary (finished)
        return None                         # while mpiexec was still alive: the kill came too late
    return delay


def _history(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _same_history(a: Path, b: Path):
    """Same rows: same phases and integer columns, floats equal to one unit in their 10th significant
    digit (history.csv keeps 10; two uninterrupted runs on 2 MPI processes already differ by ~1e-14
    relative from run to run, parallel reductions, which can flip the last printed digit)."""
    ha, hb = _history(a), _history(b)
    assert len(ha) == len(hb), (len(ha), len(hb))
    for ra, rb in zip(ha, hb):
        assert ra.keys() == rb.keys()
        for k in ra:
            if k == "phase" or k in INT_COLUMNS:
                assert ra[k] == rb[k], (ra["step"], k, ra[k], rb[k])
            else:
                x, y = float(ra[k]), float(rb[k])
                ulp10 = 10.0 ** (math.floor(math.log10(abs(x))) - 9) if x != 0.0 else 0.0
                assert abs(x - y) <= 1.01 * ulp10, (ra["step"], k, ra[k], rb[k])


def _same_summary(a: Path, b: Path, rel=1e-10):
    sa, sb = json.loads((a / "summary.json").read_text()), json.loads((b / "summary.json").read_text())
    for k in SUMMARY_KEYS:
        assert sb[k] == pytest.approx(sa[k], rel=rel, abs=1e-300), k


def _kill9_somewhere(study, out, marker, processes, rng, wall_s, frac, during=None) -> float:
    """_kill9_after_checkpoint with a random delay up to frac x the run's computing time (wall_s), on
    a fresh directory; up to three tries, halving the delay range, if the run was faster than that."""
    for k in range(3):
        if out.exists():
            shutil.rmtree(out)
        delay = _kill9_after_checkpoint(study, out, marker, processes, rng, frac * wall_s / 2 ** k, during)
        if delay is not None:
            return delay
    pytest.fail(f"the run always finished before the kill (seed {SEED})")


def _clean(out: Path):
    left = sorted(p.name for p in out.iterdir() if p.name.startswith((".", "checkpoint")))
    assert left == [], left


def test_kill9_then_rerun_gives_the_uninterrupted_history_axisymmetric(tmp_path):
    """Requirement (issue 15, 2): kill -9 at a random moment after a checkpoint exists, then the same
    command: resumes from the last checkpoint (past the killed run's stale lock) and ends with the
    uninterrupted run's history.csv (every row, 1e-10 relative) and summary numbers."""
    rng = random.Random(SEED)
    study = tmp_path / "axi.toml"
    study.write_text(AXI_TOML)
    ref = tmp_path / "ref"
    _run(study, ref)
    wall = json.loads((ref / "summary.json").read_text())["wall_time_s"]
    out = tmp_path / "killed"
    delay = _kill9_somewhere(study, out, "checkpoint.npz", 1, rng, wall, 0.5)
    assert (out / ".lock").exists()   # left behind by the killed process
    p = _run(study, out)
    assert "resuming from checkpoint" in p.stdout, (SEED, delay, p.stdout[-1000:])
    print(f"seed {SEED}: killed {delay:.3f} s after the first checkpoint; "
          f"{next(ln for ln in p.stdout.splitlines() if 'resuming' in ln)}")
    _same_history(ref / "history.csv", out / "history.csv")
    _same_summary(ref, out)
    assert len(list((out / "fields").glob("*.vtu"))) == len(list((ref / "fields").glob("*.vtu")))
    _clean(out)


@pytest.mark.skipif(mpiexec() is None, reason="no mpiexec")
def test_kill9_of_two_mpi_processes_then_rerun_gives_the_uninterrupted_history_3d(tmp_path):
    """Requirement (issue 15, 2): the same on 2 MPI processes (3D quarter disc): the process group of
    `mpiexec -n 2` is killed with SIGKILL at a random moment after the first checkpoint set (manifest)
    exists; the rerun resumes from a consistent set of process files and ends with the uninterrupted
    history. While the first run holds the output directory, a second run on it is refused: one line
    on stderr, exit 2."""
    rng = random.Random(SEED + 1)
    study = tmp_path / "3d.toml"
    study.write_text(MPI_TOML)
    ref = tmp_path / "ref"
    _run(study, ref, processes=2)
    wall = json.loads((ref / "summary.json").read_text())["wall_time_s"]
    out = tmp_path / "killed"
    refused = {}

    def second_run():
        t = time.monotonic()
        q = subprocess.run(_cmd(study, out, 1), capture_output=True, text=True, cwd=ROOT, timeout=120)
        refused.update(rc=q.returncode, err=q.stderr, s=time.monotonic() - t)

    _kill9_somewhere(study, out, "checkpoint.json", 2, rng, wall, 0.25, during=second_run)
    assert refused["rc"] == 2, refused
    lines = refused["err"].strip().splitlines()
    assert len(lines) == 1 and "another run holds this output directory" in lines[0], refused["err"]
    p = _run(study, out, processes=2)
    assert "resuming from checkpoint" in p.stdout, (SEED, p.stdout[-1000:])
    print(f"seed {SEED}: {next(ln for ln in p.stdout.splitlines() if 'resuming' in ln)}; second run refused "
          f"after {refused['s']:.2f} s")
    _same_history(ref / "history.csv", out / "history.csv")
    _same_summary(ref, out)
    _clean(out)
