"""Sweeps on Dask (fem/workflows/executor.py): a real scheduler and two worker processes on
localhost, started and stopped here; one worker is killed (SIGKILL) while it runs a case. Also the
SLURM job script rendered from the cluster config (SLURM itself cannot run here)."""
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from fem.verification.cases import BASE_TOML, ROOT
from fem.workflows.sweep import run_sweep

# three coarse axisymmetric cases (a few seconds each); the 17.79 MPa one is listed first so that it
# starts at once, and it is the longest (about 200 steps), so it can be killed mid-case
STUDY = (BASE_TOML.replace("hold_s = 600.0", "hold_s = 10.0")
         .replace("pressure_MPa = 5.19", "pressure_MPa = [17.79, 5.19, 10.0]") + "\n[output]\nfields = false\n")
LONG = "pressure_MPa-17.79"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _kill_group(p: subprocess.Popen) -> None:
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


@pytest.fixture
def dask_cluster(tmp_path):
    """A scheduler and two single-thread workers (no nanny, resource cores=1), each in its own
    process group; all of them are killed at the end, whatever happened."""
    procs: list[subprocess.Popen] = []
    logs = tmp_path / "dask_logs"
    logs.mkdir()
    port = _free_port()
    addr = f"tcp://127.0.0.1:{port}"

    def start(name, args):
        with open(logs / f"{name}.log", "w") as log:
            p = subprocess.Popen([sys.executable, "-m", "dask"] + args, stdout=log, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, start_new_session=True, cwd=tmp_path)
        procs.append(p)
        return p

    try:
        start("scheduler", ["scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"])
        workers = {}
        for name in ("w1", "w2"):
            workers[name] = start(name, ["worker", addr, "--name", name, "--nthreads", "1", "--no-nanny",
                                         "--resources", "cores=1", "--no-dashboard",
                                         "--local-directory", str(tmp_path / f"dask_{name}")])
        from distributed import Client
        with Client(addr, timeout=60) as c:
            c.wait_for_workers(2, timeout=60)
        yield addr, workers, logs
    finally:
        for p in reversed(procs):
            _kill_group(p)


def _guard_of(out: Path) -> psutil.Process | None:
    for p in psutil.process_iter(["cmdline"]):
        cmd = p.info["cmdline"] or []
        if "fem.workflows.executor" in cmd and "guard" in cmd and str(out / "case.toml") in cmd:
            return p
    return None


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_dask_sweep_survives_a_killed_worker(tmp_path, dask_cluster):
    addr, workers, logs = dask_cluster
    study = tmp_path / "s.toml"
    study.write_text(STUDY)
    t0 = time.monotonic()
    # the local run (default executor) gives the reference numbers
    assert run_sweep(study, jobs=2, root=tmp_path / "local", stream=open(os.devnull, "w")) == 0
    t_local = time.monotonic() - t0

    res = tmp_path / "dask"
    sweep = subprocess.Popen([sys.executable, "-m", "fem", "sweep", str(study), "--scheduler", addr,
                              "--results", str(res)], cwd=ROOT, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, start_new_session=True)
    long_out = res / "s" / LONG
    try:
        # wait until the long case is past its ramp on some worker, then kill that worker (SIGKILL)
        deadline = time.monotonic() + 60
        guard = None
        while time.monotonic() < deadline:
            guard = guard or _guard_of(long_out)
            log = (long_out / "run.log").read_text() if (long_out / "run.log").exists() else ""
            if guard is not None and "[hold" in log:
                break
            time.sleep(0.1)
        assert guard is not None and "[hold" in log, f"the long case did not reach its hold phase:\n{log}"
        pgid = guard.pid
        assert os.getpgid(guard.pid) == pgid   # the case runs in its own process group, led by its guard
        members = [p.pid for p in psutil.process_iter() if _safe_pgid(p.pid) == pgid]
        assert len(members) >= 2, members     # guard + python -m fem run
        victim_pid = guard.ppid()
        victim = next(n for n, p in workers.items() if p.pid == victim_pid)
        survivor = next(n for n in workers if n != victim)
        os.kill(victim_pid, signal.SIGKILL)
        t_kill = time.monotonic()
        workers[victim].wait(timeout=10)   # reap it (a zombie still answers kill(pid, 0) like a live process)
        # the killed worker's case group ends (SIGTERM from its guard: checkpoint, then exit)
        while _group_alive(pgid) and time.monotonic() - t_kill < 30:
            time.sleep(0.1)
        assert not _group_alive(pgid), f"process group {pgid} of the killed worker's case is still alive"
        t_group_ended = time.monotonic() - t_kill
        out, _ = sweep.communicate(timeout=150)
    finally:
        if sweep.poll() is None:
            _kill_group(sweep)
    assert sweep.returncode == 0, out

    # all summaries present, equal to the local run's numbers
    for name in (LONG, "pressure_MPa-5.19", "pressure_MPa-10"):
        d = json.loads((res / "s" / name / "summary.json").read_text())
        loc = json.loads((tmp_path / "local" / "s" / name / "summary.json").read_text())
        for k in ("thickness_change_pct", "diameter_change_pct", "platen_force_N", "final_time_s"):
            assert d[k] == pytest.approx(loc[k], rel=1e-9, abs=1e-12), (name, k, d[k], loc[k])
        # committed exactly once, by the worker the sweep recorded, and the file is the committed one
        commits = [json.loads(line) for line in (res / "s" / name / "commits.jsonl").read_text().splitlines()]
        assert len(commits) == 1, commits
        sha = hashlib.sha256((res / "s" / name / "summary.json").read_bytes()).hexdigest()
        assert commits[0]["summary_sha256"] == sha
        run_log = (res / "s" / name / "run.log").read_text()
        assert run_log.count("\nresults: ") + run_log.startswith("results: ") == 1, run_log
        # no lock left behind: neither the claim of the task nor the run's own lock
        assert not (res / "s" / name / ".lock").exists() and not (res / "s" / name / ".claim" / ".lock").exists()
    # the killed case: stopped by its guard with a checkpoint, claim broken, rerun and committed on the survivor
    commit = json.loads((long_out / "commits.jsonl").read_text())
    assert commit["worker_name"] == survivor and commit["attempt"] == 2, commit
    log = (long_out / "run.log").read_text()
    heads = [line for line in log.splitlines() if line.startswith("=== ")]
    assert len(heads) == 2 and f"({victim})" in heads[0] and f"({survivor})" in heads[1], heads
    assert f"broke the stale claim of pid {victim_pid} " in heads[1], heads[1]
    assert f"guard: process {victim_pid} that started this case ended" in log
    first, second = log.split(heads[1])
    assert "interrupted at t =" in first and "\nresults: " not in first, first   # stopped mid-case (SIGTERM), not finished
    assert "resuming from checkpoint" in second, second
    assert f"done   {LONG}" in out and f"on {survivor}" in out, out
    print(f"{out}\nlocal sweep {t_local:.1f} s, case group ended {t_group_ended:.1f} s after the kill")


def _safe_pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


def test_interrupted_dask_sweep_pauses_its_cases(tmp_path, dask_cluster):
    """Ctrl-C of a sweep on Dask cancels its tasks: the running case's process group gets SIGTERM
    (the run writes its checkpoint and exits), and its claim and run lock are released."""
    addr, _, _ = dask_cluster
    study = tmp_path / "s.toml"
    # a hold that cannot end before the interrupt lands (600 s in steps of <= 0.05 s: minutes of wall
    # time; with the 10 s hold an idle machine finished the case first, 2026-12-03)
    study.write_text(STUDY.replace("[17.79, 5.19, 10.0]", "[17.79]").replace("hold_s = 10.0", "hold_s = 600.0")
                     + "\n[time]\ndt_max_s = 0.05\n")
    res = tmp_path / "dask"
    sweep = subprocess.Popen([sys.executable, "-m", "fem", "sweep", str(study), "--scheduler", addr,
                              "--results", str(res)], cwd=ROOT, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, start_new_session=True)
    out_dir = res / "s" / "pressure_MPa-17.79"
    try:
        deadline = time.monotonic() + 60
        guard = log = None
        while time.monotonic() < deadline:
            guard = guard or _guard_of(out_dir)
            log = (out_dir / "run.log").read_text() if (out_dir / "run.log").exists() else ""
            if guard is not None and "[hold" in log:
                break
            time.sleep(0.1)
        assert guard is not None and "[hold" in log, log
        pgid = guard.pid
        sweep.send_signal(signal.SIGINT)
        out, _ = sweep.communicate(timeout=60)
        t = time.monotonic()
        while _group_alive(pgid) and time.monotonic() - t < 30:
            time.sleep(0.1)
    finally:
        if sweep.poll() is None:
            _kill_group(sweep)
    assert sweep.returncode == 130 and "interrupted" in out, out
    assert not _group_alive(pgid)
    deadline = time.monotonic() + 10   # the task returns (claim released) right after its group ended
    while (out_dir / ".claim" / ".lock").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not (out_dir / ".claim" / ".lock").exists() and not (out_dir / ".lock").exists()
    log = (out_dir / "run.log").read_text()
    assert "interrupted at t =" in log and not (out_dir / "summary.json").exists(), log
    assert "guard:" not in log   # stopped by the cancelled task, not by a dead worker


def test_mpi_cases_need_workers_with_enough_cores(tmp_path, dask_cluster):
    """A case for mpiexec -n 2 declares the Dask resource cores=2; on workers that offer cores=1
    the sweep refuses with one line instead of queueing forever."""
    addr, _, _ = dask_cluster
    from fem.verification.cases import BASE_3D_TOML, mpiexec
    from fem.workflows.executor import CaseTask, DaskExecutor, ExecutorError, case_command, ranks_for
    from fem.workflows.sweep import load_sweep
    (tmp_path / "a.toml").write_text(STUDY)
    (tmp_path / "b.toml").write_text(BASE_3D_TOML)
    assert ranks_for(load_sweep(tmp_path / "a.toml")[1][0].study, 4) == 1   # axisymmetric: serial
    assert ranks_for(load_sweep(tmp_path / "b.toml")[1][0].study, 4) == 4   # 3D: mpiexec -n 4
    task = CaseTask(name="x", out=str(tmp_path / "x"), case_toml="", fingerprint="f", ranks=2)
    assert case_command(task, restart=False)[:3] == [mpiexec(), "-n", "2"]
    assert task.resources(declare=False) == {"cores": 2}
    serial = CaseTask(name="y", out=str(tmp_path / "y"), case_toml="", fingerprint="f")
    assert serial.resources(declare=False) is None and serial.resources(declare=True) == {"cores": 1}
    assert case_command(serial, restart=True)[:3] == [sys.executable, "-m", "fem"]
    with DaskExecutor(addr) as ex:
        with pytest.raises(ExecutorError, match="needs 2 cores"):
            ex.submit(task)


def test_slurm_job_script_from_the_cluster_config(tmp_path):
    from fem.workflows.executor import ExecutorError, load_cluster_config, slurm_cluster
    cfg = tmp_path / "slurm.toml"
    cfg.write_text('[slurm]\nqueue = "femq"\ncores = 16\nmemory = "64GB"\nprocesses = 2\nwalltime = "04:30:00"\n'
                   'job_extra = ["--exclusive"]\naccount = "li-anode"\njobs = 3\n[sweep]\nranks = 4\n')
    config = load_cluster_config(cfg)
    assert config["sweep"]["ranks"] == 4
    cluster = slurm_cluster(config)
    try:
        script = cluster.job_script()
    finally:
        cluster.close()
    assert "#SBATCH -p femq" in script
    assert "#SBATCH -A li-anode" in script
    assert "#SBATCH --cpus-per-task=16" in script
    assert "#SBATCH --mem=60G" in script          # 64 GB = 59.6 GiB, rounded up
    assert "#SBATCH -t 04:30:00" in script
    assert "#SBATCH --exclusive" in script
    assert "--nworkers 2" in script and "--nthreads 8" in script
    assert "--resources cores=8" in script       # each worker offers its share of the job's cores
    assert sys.executable in script
    # the shipped example config is valid and documented keys only
    assert load_cluster_config(ROOT / "studies" / "cluster" / "slurm.toml")["slurm"]["cores"] >= 1
    for bad, needle in (('[slurm]\nqueue = "q"\ncores = 4\nmemory = "8GB"\n', "walltime is required"),
                        ('[slurm]\nqueue = "q"\ncores = 4\nmemory = "8GB"\nwalltime = "1:00:00"\nnodes = 2\n',
                         "nodes: unknown key"),
                        ('[slurm]\nqueue = "q"\ncores = "4"\nmemory = "8GB"\nwalltime = "1:00:00"\n',
                         "must be int")):
        cfg.write_text(bad)
        with pytest.raises(ExecutorError, match=needle):
            load_cluster_config(cfg)
