"""Where the cases of a sweep, a calibration or a sensitivity study run (docs/cluster.md).

Three executors share one task function, `run_case_task`, and one loop, `map_cases`:

* `local` (default): `jobs` threads of this process, each running one case subprocess;
* `dask`: a running Dask scheduler (`--scheduler tcp://host:8786`); the task runs in a Dask worker;
* `slurm`: dask-jobqueue starts the Dask workers as SLURM jobs, from a small TOML file
  (studies/cluster/slurm.toml: queue, cores, memory, walltime, processes, job_extra).

Every case stays a subprocess, `python -m fem run case.toml --out DIR` (under `mpiexec -n K` for 3D
and composite cases when ranks K > 1; such tasks declare the Dask resource `cores = K`). The
subprocess runs in its own process group under a small guard (`python -m fem.workflows.executor
guard`): when the process that started it (the Dask worker, or the local sweep) dies, the guard
sends SIGTERM to the group (the run writes its checkpoint and releases its lock) and SIGKILL after
a grace period. A cancelled task (client gone, Ctrl-C) stops its group the same way.

Locks (fem/stepping/lock.py: host, pid, heartbeat): the task holds a *claim* on the case,
`<case>/.claim/.lock`, from its check "finished already?" to its commit, so two workers (or two sweeps)
never run one case at once; `python -m fem run` holds the run lock `<case>/.lock` itself. A claim
held by a live owner means "running elsewhere": the task returns `busy` and `map_cases` asks again
later; a claim whose owner died (same host and dead pid, or a heartbeat older than 60 s) is broken
and the case is rerun, from its checkpoint. A finished case is committed once: summary.json arrives
by atomic rename, and the task appends one line (worker, host, pid, sha256 of summary.json) to
`<case>/commits.jsonl` while it holds the claim.

Units of the cases: mm, N, MPa, s. This module imports only the standard library at import time
(the guard starts fast); Dask is imported when a Dask executor is made.
"""
from __future__ import annotations

import concurrent.futures
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import tomllib
import uuid
from dataclasses import dataclass, field
from pathlib import Path

EXECUTORS = ("local", "dask", "slurm")
DEFAULT_CLUSTER_CONFIG = Path("studies/cluster/slurm.toml")
PARALLEL_MODELS = ("3d", "composite")   # the models that run under mpiexec -n K


class ExecutorError(ValueError):
    """A bad executor setting (one line, exit 2)."""


# ------------------------------------------------------------------------------------------ locks
def _locks():
    """(RunLock, LockHeld, lock_owner) of fem/stepping/lock.py (imported late: the guard needs none)."""
    from fem.stepping.lock import LockHeld, RunLock, lock_owner
    return RunLock, LockHeld, lock_owner


def owner_text(o: dict | None) -> str:
    return "nobody" if not o else f"pid {o.get('pid')} on {o.get('host')}"


# ------------------------------------------------------------------------------------------ tasks
@dataclass
class CaseTask:
    """One case to run: everything a worker on another machine needs (paths are absolute)."""
    name: str
    out: str                    # case folder (absolute path on the shared filesystem)
    case_toml: str              # text of case.toml
    fingerprint: str
    ranks: int = 1              # mpiexec -n ranks (1: plain python)
    force: bool = False         # rerun a finished case (--restart on its first attempt)
    timeout_s: float | None = None
    sweep_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    grace_s: float = 20.0       # SIGTERM -> SIGKILL of the case's process group
    lock_wait_s: float = 30.0   # wait this long for the run lock of a dying previous run
    stale_after_s: float = 60.0
    heartbeat_s: float = 10.0

    def resources(self, declare: bool) -> dict | None:
        return {"cores": self.ranks} if declare or self.ranks > 1 else None


def _mpiexec() -> str:
    cand = Path(sys.executable).parent / "mpiexec"
    exe = str(cand) if cand.exists() else shutil.which("mpiexec")
    if not exe:
        raise RuntimeError("mpiexec not found next to python nor on PATH")
    return exe


def case_command(task: CaseTask, restart: bool) -> list[str]:
    cmd = [sys.executable, "-m", "fem", "run", str(Path(task.out) / "case.toml"), "--out", task.out]
    if restart:
        cmd.append("--restart")
    if task.ranks > 1:
        cmd = [_mpiexec(), "-n", str(task.ranks)] + cmd
    return cmd


def _identity() -> dict:
    ident = {"worker": "local", "worker_name": threading.current_thread().name,
             "host": socket.gethostname(), "pid": os.getpid()}
    try:
        from distributed import get_worker
        w = get_worker()
        ident.update(worker=w.address, worker_name=str(w.name))
    except (ImportError, ValueError):
        pass
    return ident


def _dask_cancelled() -> bool:
    """True when this code runs in a Dask task that was cancelled (client gone, future released)."""
    try:
        from distributed import get_worker
        w = get_worker()
    except (ImportError, ValueError):
        return False
    try:
        key = w.get_current_task()
        ts = w.state.tasks.get(key)
        return ts is not None and ts.state == "cancelled"   # a running task that was released
    except Exception:   # internal API of distributed: never stop a case because it changed
        return False


def _finished(out: Path, fingerprint: str) -> dict | None:
    try:
        s = json.loads((out / "summary.json").read_text())
    except (OSError, ValueError):
        return None
    return s if s.get("fingerprint") == fingerprint else None


def _commits(out: Path) -> list[dict]:
    try:
        lines = (out / "commits.jsonl").read_text().splitlines()
    except OSError:
        return []
    rows = []
    for line in lines:
        try:
            rows.append(json.loads(line))
        except ValueError:
            pass
    return rows


def _log(out: Path, text: str) -> None:
    with open(out / "run.log", "a") as f:
        f.write(text + "\n")


def _stop_group(p: subprocess.Popen, grace_s: float) -> int | None:
    """SIGTERM to the case's process group (the run checkpoints), SIGKILL after grace_s."""
    try:
        os.killpg(p.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        return p.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return p.wait()


def run_case_task(task: CaseTask, stop: threading.Event | None = None) -> dict:
    """Run one case where this function is called (a local thread or a Dask worker).

    Returns a dict with "status": done | failed | paused | busy, the worker identity, and for done
    the summary and the commit record; never raises for a failed case."""
    from fem.stepping.outputs import atomic_write_text
    RunLock, LockHeld, lock_owner = _locks()
    out = Path(task.out)
    ident = _identity()
    res = {"name": task.name, **ident}
    out.mkdir(parents=True, exist_ok=True)
    claim_dir = out / ".claim"
    claim_dir.mkdir(exist_ok=True)
    previous = lock_owner(claim_dir)
    claim = RunLock(claim_dir, heartbeat_s=task.heartbeat_s, stale_after_s=task.stale_after_s)
    try:
        claim.acquire()
    except LockHeld:
        return {**res, "status": "busy", "owner": lock_owner(claim_dir)}
    try:
        return _run_claimed(task, out, res, previous, stop, RunLock, LockHeld, lock_owner, atomic_write_text)
    finally:
        claim.release()


def _run_claimed(task, out, res, previous, stop, RunLock, LockHeld, lock_owner, atomic_write_text) -> dict:
    # committed already in this sweep (a rerun of a task whose worker died after the commit)
    for c in _commits(out):
        if c.get("sweep_id") == task.sweep_id and c.get("fingerprint") == task.fingerprint:
            s = _finished(out, task.fingerprint)
            if s is not None:
                return {**res, "status": "done", "summary": s, "commit": c, "reused": True}
    if not task.force:
        s = _finished(out, task.fingerprint)
        if s is not None:
            return {**res, "status": "done", "summary": s, "commit": (_commits(out) or [None])[-1], "reused": True}
    # the run lock of a previous attempt: a run that is still ending (its guard stops it) is waited
    # for; a dead owner's lock is broken; a live run we did not start means "running elsewhere"
    t0 = time.monotonic()
    while True:
        probe = RunLock(out, stale_after_s=task.stale_after_s)
        try:
            probe.acquire()
            probe.release()
            break
        except LockHeld:
            if time.monotonic() - t0 > task.lock_wait_s or (stop is not None and stop.is_set()):
                return {**res, "status": "busy", "owner": lock_owner(out)}
            time.sleep(0.5)
    attempt_path = out / ".claim" / "attempt.json"
    try:
        last = json.loads(attempt_path.read_text())
    except (OSError, ValueError):
        last = {}
    retry = last.get("sweep_id") == task.sweep_id   # this sweep started the case before: resume it
    attempt = {"sweep_id": task.sweep_id, **{k: res[k] for k in ("worker", "worker_name", "host", "pid")},
               "started": time.time(), "attempt": int(last.get("attempt", 0)) + 1 if retry else 1}
    atomic_write_text(attempt_path, json.dumps(attempt) + "\n")
    atomic_write_text(out / "case.toml", task.case_toml)
    note = ""
    if previous and not (previous.get("pid") == res["pid"] and previous.get("host") == res["host"]):
        note = f"; broke the stale claim of {owner_text(previous)}"
    _log(out, f"=== {task.name}: attempt {attempt['attempt']} on {res['worker']} ({res['worker_name']}), "
              f"host {res['host']}, pid {res['pid']}, {time.strftime('%Y-%m-%d %H:%M:%S')}{note} ===")
    if stop is not None and stop.is_set():
        return {**res, "status": "paused"}
    cmd = case_command(task, restart=task.force and not retry)
    guard = [sys.executable, "-m", "fem.workflows.executor", "guard", "--parent", str(os.getpid()),
             "--grace", f"{task.grace_s:g}", "--"] + cmd
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("FEM_RUN_LOCK_TOKEN", None)   # the run takes its own lock <case>/.lock (its pid, until it ends)
    env.setdefault("FEM_KERNEL_THREADS", "1")   # cases run side by side: one kernel thread each
    with open(out / "run.log", "a") as log:
        p = subprocess.Popen(guard, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             start_new_session=True, env=env)
    res["pgid"] = p.pid
    started = time.monotonic()
    last_cancel_check = 0.0
    status = None
    while True:
        try:
            rc = p.wait(timeout=0.25)
            break
        except subprocess.TimeoutExpired:
            pass
        now = time.monotonic()
        if task.timeout_s and now - started > task.timeout_s:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            rc = p.wait()
            _log(out, f"\nerror: timed out after {task.timeout_s:g} s (treated as a failed solve)")
            return {**res, "status": "failed", "rc": rc, "error": f"timed out after {task.timeout_s:g} s"}
        if (stop is not None and stop.is_set()) or (now - last_cancel_check > 1.0 and _dask_cancelled()):
            status = "paused"
            rc = _stop_group(p, task.grace_s)
            break
        if now - last_cancel_check > 1.0:
            last_cancel_check = now
    res["rc"] = rc
    if status == "paused" or rc == 130:
        return {**res, "status": "paused"}
    if rc == 0:
        s = _finished(out, task.fingerprint)
        if s is None:
            return {**res, "status": "failed", "error": "exit 0 but no summary.json with this case's fingerprint"}
        commit = {"case": task.name, "fingerprint": task.fingerprint, "sweep_id": task.sweep_id,
                  "worker": res["worker"], "worker_name": res["worker_name"], "host": res["host"],
                  "pid": res["pid"], "attempt": attempt["attempt"], "committed": time.time(),
                  "summary_sha256": hashlib.sha256((out / "summary.json").read_bytes()).hexdigest()}
        with open(out / "commits.jsonl", "a") as f:
            f.write(json.dumps(commit) + "\n")
            f.flush()
            os.fsync(f.fileno())
        return {**res, "status": "done", "summary": s, "commit": commit}
    if rc == 2 and lock_owner(out) is not None:
        return {**res, "status": "busy", "owner": lock_owner(out)}
    try:
        tail = (out / "run.log").read_text().strip().splitlines()[-1:] or [""]
    except OSError:
        tail = [""]
    return {**res, "status": "failed", "error": f"exit {rc}: {tail[0]}"}


# ------------------------------------------------------------------------------------------ guard
def guard_main(argv: list[str]) -> int:
    """`python -m fem.workflows.executor guard --parent PID --grace S -- CMD...`: run CMD in this
    process group (this process leads it) and end the group when process PID is gone."""
    i = argv.index("--")
    opts, cmd = argv[:i], argv[i + 1:]
    parent = int(opts[opts.index("--parent") + 1])
    grace = float(opts[opts.index("--grace") + 1]) if "--grace" in opts else 20.0
    child = subprocess.Popen(cmd)
    # the group-wide SIGTERM below (or from a cancelled task) is meant for the case, not for us
    signal.signal(signal.SIGTERM, lambda *a: None)
    signal.signal(signal.SIGINT, lambda *a: None)
    while True:
        try:
            rc = child.wait(timeout=0.2)
            break
        except subprocess.TimeoutExpired:
            pass
        if os.getppid() != parent:
            print(f"guard: process {parent} that started this case ended; stopping the case "
                  f"(SIGTERM, SIGKILL after {grace:g} s)", file=sys.stderr, flush=True)
            os.killpg(0, signal.SIGTERM)
            try:
                rc = child.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                os.killpg(0, signal.SIGKILL)
                rc = child.wait()
            break
    return rc if rc >= 0 else 128 - rc


# -------------------------------------------------------------------------------------- executors
class Executor:
    """Runs CaseTasks: submit(), then wait() for finished (task, result) pairs; stop() pauses all."""
    kind = "local"
    capacity: int | None = None       # most tasks in flight (None: no limit, the scheduler queues)
    poll_busy_s = 10.0                # ask again after this long when a case runs elsewhere

    def submit(self, task: CaseTask) -> None:
        raise NotImplementedError

    def wait(self, timeout: float) -> list[tuple[CaseTask, dict]]:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def describe(self) -> str:
        return self.kind

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class LocalExecutor(Executor):
    """`jobs` threads of this process, each running one case subprocess (the default)."""
    kind = "local"

    def __init__(self, jobs: int = 1):
        self.jobs = max(1, int(jobs))
        self.capacity = self.jobs
        self._pool = concurrent.futures.ThreadPoolExecutor(self.jobs, thread_name_prefix="case")
        self._stop = threading.Event()
        self._futs: dict[concurrent.futures.Future, CaseTask] = {}

    def submit(self, task):
        self._futs[self._pool.submit(run_case_task, task, self._stop)] = task

    def wait(self, timeout):
        if not self._futs:
            return []
        done, _ = concurrent.futures.wait(list(self._futs), timeout=timeout,
                                          return_when=concurrent.futures.FIRST_COMPLETED)
        out = []
        for f in done:
            task = self._futs.pop(f)
            try:
                out.append((task, f.result()))
            except Exception as e:   # a bug in the task function, not a failed solve
                out.append((task, {"name": task.name, "status": "failed", "worker": "local",
                                   "error": f"{type(e).__name__}: {e}"}))
        return out

    def stop(self):
        self._stop.set()

    def close(self):
        self._stop.set()
        self._pool.shutdown(wait=True)

    def describe(self):
        return f"local, {self.jobs} job{'s' * (self.jobs > 1)}"


class DaskExecutor(Executor):
    """Tasks on a Dask cluster: a running scheduler (address) or a cluster object (SLURM)."""
    kind = "dask"

    def __init__(self, address: str | None = None, cluster=None, declare_cores: bool | None = None,
                 connect_timeout_s: float = 15.0):
        try:
            from distributed import Client
        except ImportError:
            raise ExecutorError("the dask executor needs dask[distributed] (pip install -e .)") from None
        self.cluster = cluster
        try:
            self.client = Client(cluster if cluster is not None else address, timeout=connect_timeout_s)
        except (OSError, TimeoutError) as e:
            raise ExecutorError(f"--scheduler {address}: cannot connect ({e})") from None
        self.address = self.client.scheduler.address
        self._declare = declare_cores
        self._futs: dict = {}
        self._stopped = False

    def _worker_cores(self) -> list[float | None]:
        info = self.client.scheduler_info(n_workers=-1)
        return [w.get("resources", {}).get("cores") for w in info.get("workers", {}).values()]

    def submit(self, task):
        if self._declare is None:   # declare cores when the workers advertise them
            cores = self._worker_cores()
            self._declare = bool(cores) and all(c is not None for c in cores)
        if task.ranks > 1:
            workers = self._worker_cores()
            if workers and not any(c is not None and c >= task.ranks for c in workers):
                raise ExecutorError(f"case {task.name} needs {task.ranks} cores (mpiexec -n {task.ranks}) but no "
                                    f"worker of {self.address} offers them: start workers with "
                                    f"--resources cores=N, N >= {task.ranks}")
        f = self.client.submit(run_case_task, task, key=f"fem-case-{task.name}-{task.sweep_id}-{uuid.uuid4().hex[:6]}",
                               pure=False, resources=task.resources(self._declare), retries=0)
        self._futs[f] = task

    def wait(self, timeout):
        from distributed import wait as dwait
        from distributed.client import FuturesCancelledError
        if not self._futs:
            return []
        try:
            dwait(list(self._futs), timeout=timeout, return_when="FIRST_COMPLETED")
        except (TimeoutError, FuturesCancelledError):
            pass
        out = []
        for f in [f for f in self._futs if f.done()]:
            task = self._futs.pop(f)
            if f.status == "finished":
                out.append((task, f.result()))
            elif f.status == "cancelled" or self._stopped:
                out.append((task, {"name": task.name, "status": "paused", "worker": "?"}))
            else:   # KilledWorker (the task's workers died too often), or a bug in the task function
                e = f.exception()
                out.append((task, {"name": task.name, "status": "failed", "worker": "?",
                                   "error": f"{type(e).__name__}: {e}"}))
        return out

    def stop(self):
        self._stopped = True
        self.client.cancel(list(self._futs))

    def close(self):
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()

    def describe(self):
        return f"dask scheduler {self.address}"


# ------------------------------------------------------------------------------------------ SLURM
SLURM_KEYS = {   # key: (type, meaning) of the [slurm] table of the cluster config
    "queue": (str, "partition (#SBATCH -p)"),
    "account": (str, "account (#SBATCH -A)"),
    "cores": (int, "cores per job"),
    "memory": (str, "memory per job, e.g. '64GB'"),
    "processes": (int, "Dask worker processes per job (cores are split among them)"),
    "walltime": (str, "wall-clock limit per job, HH:MM:SS"),
    "job_extra": (list, "extra #SBATCH lines, e.g. ['--exclusive']"),
    "job_script_prologue": (list, "shell lines before the worker starts"),
    "interface": (str, "network interface of the workers, e.g. 'ib0'"),
    "local_directory": (str, "node-local scratch of the workers"),
    "log_directory": (str, "folder of the SLURM job logs"),
    "python": (str, "python of the workers (default: this one; must see the same package)"),
    "jobs": (int, "SLURM jobs to start (fixed size)"),
    "max_jobs": (int, "adaptive: at most this many jobs (instead of jobs)"),
}
SWEEP_KEYS = {"ranks": (int, "mpiexec -n K for 3D and composite cases")}


def load_cluster_config(path: str | Path) -> dict:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ExecutorError(f"{path}: cluster config not found") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ExecutorError(f"{path}: malformed TOML: {e}") from None
    for table in data:
        if table not in ("slurm", "sweep"):
            raise ExecutorError(f"{path}: unknown table [{table}]; allowed: [slurm], [sweep]")
    for table, keys in (("slurm", SLURM_KEYS), ("sweep", SWEEP_KEYS)):
        for k, v in data.get(table, {}).items():
            if k not in keys:
                raise ExecutorError(f"{path}: [{table}] {k}: unknown key; allowed: {', '.join(keys)}")
            typ = keys[k][0]
            if not isinstance(v, typ) or isinstance(v, bool) or (typ is list and not all(isinstance(x, str) for x in v)):
                raise ExecutorError(f"{path}: [{table}] {k} = {v!r}: must be {typ.__name__}"
                                    + (" of strings" if typ is list else ""))
            if typ is int and v < 1:
                raise ExecutorError(f"{path}: [{table}] {k} = {v}: must be >= 1")
    s = data.get("slurm", {})
    for k in ("queue", "cores", "memory", "walltime"):
        if k not in s:
            raise ExecutorError(f"{path}: [slurm] {k} is required ({SLURM_KEYS[k][1]})")
    if s.get("processes", 1) > s["cores"]:
        raise ExecutorError(f"{path}: [slurm] processes = {s['processes']} > cores = {s['cores']}")
    return data


def slurm_cluster_kwargs(config: dict) -> dict:
    """SLURMCluster keyword arguments from a cluster config; each worker advertises its share of
    the job's cores as the Dask resource `cores` (what MPI cases declare)."""
    s = config["slurm"]
    processes = s.get("processes", 1)
    kw = {"queue": s["queue"], "cores": s["cores"], "memory": s["memory"], "processes": processes,
          "walltime": s["walltime"], "job_extra_directives": list(s.get("job_extra", [])),
          "job_script_prologue": list(s.get("job_script_prologue", [])),
          "worker_extra_args": ["--resources", f"cores={s['cores'] // processes}"],
          "python": s.get("python", sys.executable), "job_name": "fem-sweep"}
    for k in ("account", "interface", "local_directory", "log_directory"):
        if k in s:
            kw[k] = s[k]
    return kw


def slurm_cluster(config: dict):
    try:
        from dask_jobqueue import SLURMCluster
    except ImportError:
        raise ExecutorError("the slurm executor needs dask-jobqueue (pip install -e .)") from None
    return SLURMCluster(**slurm_cluster_kwargs(config))


class SlurmExecutor(DaskExecutor):
    kind = "slurm"

    def __init__(self, config_path: str | Path = DEFAULT_CLUSTER_CONFIG):
        self.config = load_cluster_config(config_path)
        cluster = slurm_cluster(self.config)
        s = self.config["slurm"]
        if "max_jobs" in s:
            cluster.adapt(minimum_jobs=0, maximum_jobs=s["max_jobs"])
        else:
            cluster.scale(jobs=s.get("jobs", 1))
        super().__init__(cluster=cluster, declare_cores=True)

    def describe(self):
        return f"slurm via dask-jobqueue, scheduler {self.address}"


# ------------------------------------------------------------------------------------ choose one
def add_executor_args(ap) -> None:
    """--executor, --scheduler, --cluster-config, --ranks (sweep, calibrate, sensitivity)."""
    ap.add_argument("--executor", choices=EXECUTORS, default=None,
                    help="where cases run: local (default), dask (needs --scheduler), slurm (--cluster-config)")
    ap.add_argument("--scheduler", default=None, help="address of a running Dask scheduler, e.g. tcp://host:8786")
    ap.add_argument("--cluster-config", default=None,
                    help=f"SLURM config of --executor slurm (default {DEFAULT_CLUSTER_CONFIG})")
    ap.add_argument("--ranks", type=int, default=None,
                    help="MPI ranks of each 3D/composite case (mpiexec -n K; default 1, or [sweep] ranks of the config)")


def make_executor(kind: str | None = None, jobs: int = 1, scheduler: str | None = None,
                  cluster_config: str | Path | None = None) -> Executor:
    """The executor named by the command line (ExecutorError with one line when misconfigured)."""
    kind = kind or ("dask" if scheduler else "local")
    if kind not in EXECUTORS:
        raise ExecutorError(f"--executor {kind}: allowed: {', '.join(EXECUTORS)}")
    if kind == "local":
        if scheduler:
            raise ExecutorError("--scheduler needs --executor dask (or no --executor)")
        return LocalExecutor(jobs)
    if kind == "dask":
        if not scheduler:
            raise ExecutorError("--executor dask needs --scheduler tcp://host:8786 (make sweep SCHEDULER=...)")
        return DaskExecutor(scheduler)
    return SlurmExecutor(cluster_config or DEFAULT_CLUSTER_CONFIG)


def resolve_ranks(ranks: int | None, executor: Executor | None) -> int:
    if ranks is None:
        ranks = getattr(executor, "config", {}).get("sweep", {}).get("ranks", 1)
    if ranks < 1:
        raise ExecutorError(f"--ranks {ranks}: must be a whole number >= 1")
    return ranks


def ranks_for(study, ranks: int) -> int:
    """mpiexec ranks of one case: K for the 3D and composite models, 1 for the axisymmetric one."""
    return ranks if study.model in PARALLEL_MODELS else 1


# ------------------------------------------------------------------------------------ the loop
def map_cases(tasks: list[CaseTask], executor: Executor, should_stop=lambda: False, on_busy=None,
              on_tick=None, poll_s: float = 0.5):
    """Run the tasks on the executor; yield (task, result) as each ends (done, failed, paused).
    A case running elsewhere (busy) is asked again every executor.poll_busy_s seconds; after
    should_stop() turns true, running cases are paused (checkpoint) and queued ones reported paused.
    on_tick() is called about every poll_s seconds (progress lines)."""
    queue = list(tasks)
    retry_at: list[tuple[float, CaseTask]] = []
    in_flight = 0
    stopped = False
    while queue or retry_at or in_flight:
        if on_tick:
            on_tick()
        if not stopped and should_stop():
            stopped = True
            executor.stop()
            for t in queue + [t for _, t in retry_at]:
                yield t, {"name": t.name, "status": "paused", "worker": "-"}
            queue, retry_at = [], []
        now = time.monotonic()
        for item in [r for r in retry_at if r[0] <= now]:
            retry_at.remove(item)
            queue.append(item[1])
        while queue and not stopped and (executor.capacity is None or in_flight < executor.capacity):
            executor.submit(queue.pop(0))
            in_flight += 1
        if not in_flight:
            time.sleep(poll_s)
            continue
        for task, res in executor.wait(timeout=poll_s):
            in_flight -= 1
            if res.get("status") == "busy" and not stopped:
                if on_busy:
                    on_busy(task, res)
                retry_at.append((time.monotonic() + executor.poll_busy_s, task))
                continue
            if res.get("status") == "busy":
                res = {**res, "status": "paused"}
            yield task, res


if __name__ == "__main__":
    if sys.argv[1:2] == ["guard"]:
        sys.exit(guard_main(sys.argv[2:]))
    print("usage: python -m fem.workflows.executor guard --parent PID [--grace S] -- CMD ...", file=sys.stderr)
    sys.exit(2)
