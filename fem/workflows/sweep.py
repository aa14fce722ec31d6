"""Parameter sweeps: a study file whose scalar keys may hold lists, e.g.

    [[load]]
    pressure_MPa = [5.19, 10, 17.79]
    [platen]
    mu = [0.05, 0.1, 0.2]

expands into the Cartesian product of cases, each a plain study, named after its swept values
(e.g. `pressure_MPa-5.19__mu-0.1`). `run_sweep` runs the cases as subprocesses (`python -m fem run`)
on an executor (fem/workflows/executor.py: a local pool, a Dask scheduler or SLURM jobs; see
docs/cluster.md), shows progress per case and overall, skips cases that already finished with the
same parameters, and resumes interrupted ones from their checkpoints.
"""
from __future__ import annotations

import copy
import itertools
import json
import signal
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from fem.study import SCHEMA, Study, StudyError, is_pair_key, parse_study, read_study_toml

RESULTS_ROOT = Path("results")


@dataclass
class Case:
    name: str
    data: dict            # expanded study table (no lists)
    study: Study
    swept: dict           # {"pressure_MPa": 5.19, ...}


def _axes(data: dict) -> list[tuple[tuple, list]]:
    """All list-valued scalar keys as (path, values); path = (table, key) or ("load", i, key)."""
    axes = []
    for table, content in data.items():
        if table == "load" and isinstance(content, list):
            for i, step in enumerate(content):
                if isinstance(step, dict):
                    axes += [(("load", i, k), v) for k, v in step.items() if isinstance(v, list)]
        elif isinstance(content, dict):   # a pair key's list is its value ([fixture] torque_to_force_N)
            axes += [((table, k), v) for k, v in content.items() if isinstance(v, list) and not is_pair_key(table, k)]
    for path, values in axes:
        where = f"[{path[0]}] {path[-1]}" if len(path) == 2 else f"[[load]] step {path[1] + 1} {path[-1]}"
        if not values:
            raise StudyError(f"{where} = []: a swept list needs at least one value")
        kinds = {type(v) for v in values}
        if len(kinds) > 1 and not kinds <= {int, float}:
            raise StudyError(f"{where} = {values!r}: mixed types in a swept list (use numbers in the key's unit)")
        if kinds & {list, dict}:
            raise StudyError(f"{where}: nested lists are not allowed")
        if path[-1] not in SCHEMA.get("load" if path[0] == "load" else path[0], {}):
            raise StudyError(f"{where}: unknown key; cannot sweep it")
        if len(set(map(str, values))) != len(values):
            raise StudyError(f"{where} = {values!r}: repeated values")
    return axes


def _label(path: tuple, multi_load: bool) -> str:
    key = path[-1]
    if path[0] == "load" and multi_load:
        return f"load{path[1] + 1}.{key}"
    return key


def _fmt(v) -> str:
    return f"{v:g}" if isinstance(v, (int, float)) and not isinstance(v, bool) else str(v)


def expand(data: dict, study_name: str) -> list[Case]:
    axes = _axes(data)
    multi_load = len({p[1] for p, _ in axes if p[0] == "load"}) > 1
    cases = []
    for combo in itertools.product(*[vals for _, vals in axes]) if axes else [()]:
        d = copy.deepcopy(data)
        swept, parts = {}, []
        for (path, _), v in zip(axes, combo):
            tgt = d["load"][path[1]] if path[0] == "load" else d[path[0]]
            tgt[path[-1]] = v
            label = _label(path, multi_load)
            swept[label] = v
            parts.append(f"{label}-{_fmt(v)}")
        name = "__".join(parts) if parts else "base"
        try:
            st = parse_study(d, name=f"{study_name}/{name}")
        except StudyError as e:
            raise StudyError(f"case {name}: {e}") from None
        cases.append(Case(name, d, st, swept))
    return cases


def first_values(data: dict) -> dict:
    """Copy of a study table with every swept list replaced by its first value (one plain case)."""
    d = copy.deepcopy(data)
    for table, content in d.items():
        for item in (content if table == "load" else [content]):
            if isinstance(item, dict):
                for k, v in item.items():
                    if isinstance(v, list) and not is_pair_key(table, k):
                        item[k] = v[0]
    return d


def load_sweep(path: str | Path) -> tuple[str, list[Case]]:
    path = Path(path)
    data = read_study_toml(path)   # one-line StudyError for any unreadable file (fem/study.py)
    name = path.stem
    try:
        return name, expand(data, name)
    except StudyError as e:
        raise StudyError(f"{path}: {e}") from None


def case_dir(study_name: str, case: Case, root: Path = RESULTS_ROOT) -> Path:
    return root / study_name / case.name


def is_finished(out: Path, case: Case) -> bool:
    try:
        s = json.loads((out / "summary.json").read_text())
    except (OSError, ValueError):
        return False
    return s.get("fingerprint") == case.study.fingerprint()


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, (list, tuple)):   # a list-valued key ([rve] layer_materials, [fixture] torque_to_force_N)
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return repr(v)


def to_toml(d: dict) -> str:
    lines = []
    for table, content in d.items():
        if table == "load":
            for step in content:
                lines.append("[[load]]")
                lines += [f"{k} = {_toml_value(v)}" for k, v in step.items()]
                lines.append("")
        else:
            lines.append(f"[{table}]")
            lines += [f"{k} = {_toml_value(v)}" for k, v in content.items()]
            lines.append("")
    return "\n".join(lines)


def run_sweep(study_path: str | Path, jobs: int = 1, force: bool = False, root: Path = RESULTS_ROOT,
              stream=sys.stdout, executor=None, scheduler: str | None = None,
              cluster_config: str | Path | None = None, ranks: int | None = None) -> int:
    """Run all cases; returns 0 when all finished, 130 when interrupted, 1 when a case failed, 2 when
    the executor is misconfigured (one line on stderr). `executor`: an Executor, or its kind
    ("local", "dask", "slurm"; default local with `jobs`, dask when `scheduler` is given)."""
    from fem.workflows.executor import Executor, ExecutorError, make_executor
    name, cases = load_sweep(study_path)
    own = not isinstance(executor, Executor)
    try:
        if own:
            executor = make_executor(executor, jobs=jobs, scheduler=scheduler, cluster_config=cluster_config)
        try:
            return run_cases(name, [(c, case_dir(name, c, root)) for c in cases], jobs, force, stream,
                             executor=executor, ranks=ranks)
        finally:
            if own:
                executor.close()
    except ExecutorError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


def run_cases(name: str, cases: list[tuple[Case, Path]], jobs: int = 1, force: bool = False,
              stream=sys.stdout, timeout_s: float | None = None, executor=None, ranks: int | None = None) -> int:
    """Run cases (each into its own folder) on `executor` (default: a local pool of `jobs` worker
    processes), skipping finished ones. A case running longer than timeout_s is stopped and
    recorded as failed in its run.log. 3D and composite cases run under mpiexec -n `ranks`."""
    from fem.workflows.executor import CaseTask, LocalExecutor, _locks, map_cases, owner_text, ranks_for, resolve_ranks

    own = executor is None
    if own:
        executor = LocalExecutor(jobs)
    try:
        ranks = resolve_ranks(ranks, executor)
        todo, done = [], []
        for c, out in cases:
            if not force and is_finished(out, c):
                done.append(c)
            else:
                todo.append((c, out))
        print(f"{name}: {len(cases)} cases, {len(done)} already finished"
              + (f", skipped: {', '.join(c.name for c in done)}" if done else "")
              + ("" if executor.kind == "local" or not todo else f"; running on {executor.describe()}"),
              file=stream, flush=True)
        sweep_id = uuid.uuid4().hex[:12]
        tasks = [CaseTask(name=c.name, out=str(out.resolve()), case_toml=to_toml(c.data),
                          fingerprint=c.study.fingerprint(), ranks=ranks_for(c.study, ranks), force=force,
                          timeout_s=timeout_s, sweep_id=sweep_id) for c, out in todo]
        outs = {t.name: Path(t.out) for t in tasks}
        return _run_tasks(name, tasks, outs, len(cases), done, executor, stream, _locks()[2], owner_text,
                          map_cases)
    finally:
        if own:
            executor.close()


def _run_tasks(name, tasks, outs, n_cases, done, executor, stream, lock_owner, owner_text, map_cases) -> int:
    failed: list[str] = []
    stop = {"flag": False}

    def handler(signum, frame):
        stop["flag"] = True

    def on_busy(task, res):
        print(f"  wait   {task.name}: running elsewhere ({owner_text(res.get('owner'))}); asking again in "
              f"{executor.poll_busy_s:g} s", file=stream, flush=True)

    pending = {t.name for t in tasks}
    started: dict[str, tuple] = {}   # case: (host, pid) of the claim seen last
    clock = {"scan": 0.0, "status": time.monotonic()}
    remote = executor.kind != "local"

    def on_tick():
        """'start' lines (a case's claim appeared) every second, progress of running cases every 5 s."""
        now = time.monotonic()
        if now - clock["scan"] >= 1.0:
            clock["scan"] = now
            for cname in sorted(pending):
                o = lock_owner(outs[cname] / ".claim")
                if o is not None and started.get(cname) != (o.get("host"), o.get("pid")):
                    again = " again (its previous worker ended)" if cname in started else ""
                    started[cname] = (o.get("host"), o.get("pid"))
                    print(f"  start  {cname}" + (f" on {o.get('host')} pid {o.get('pid')}{again}" if remote else ""),
                          file=stream, flush=True)
        running = sorted(pending & started.keys())
        if running and now - clock["status"] > 5.0:
            clock["status"] = now
            parts = [f"{cname}: {_last_progress(outs[cname])}" for cname in running]
            print(f"  [{len(done)}/{n_cases} done] " + " | ".join(parts), file=stream, flush=True)

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        for task, res in map_cases(tasks, executor, should_stop=lambda: stop["flag"], on_busy=on_busy,
                                   on_tick=on_tick):
            pending.discard(task.name)
            cname, status = task.name, res.get("status")
            where = f" on {res.get('worker_name') or res.get('worker')}" if remote else ""
            if status == "done":
                done.append(cname)
                s = res["summary"]
                if "effective_stiffness_MPa" in s:   # an RVE case (fem/rve)
                    C = s["effective_stiffness_MPa"]
                    what = (f"C_xx {C[0][0]:.5g}, C_zz {C[2][2]:.5g}, C_xz {C[4][4]:.5g}, C_xy {C[5][5]:.5g} MPa, "
                            f"{s['dofs']} dofs")
                else:
                    what = (f"thickness change {s['thickness_change_pct']:+.2f} % (positive = thinner), "
                            f"diameter {s['diameter_change_pct']:+.2f} %")
                print(f"  done   {cname}: {what} ({s['wall_time_s']:.0f} s)  "
                      f"[{len(done)}/{n_cases}]{where}", file=stream, flush=True)
            elif status == "paused":
                if cname in started:
                    print(f"  paused {cname} (checkpoint kept)", file=stream, flush=True)
            else:
                failed.append(cname)
                print(f"  FAILED {cname}: {res.get('error', '')}{where}", file=stream, flush=True)
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    if stop["flag"]:
        print(f"{name} interrupted: {len(done)}/{n_cases} finished; rerun to resume", file=stream)
        return 130
    print(f"{name}: {len(done)}/{n_cases} finished" + (f", failed: {', '.join(failed)}" if failed else ""),
          file=stream, flush=True)
    return 1 if failed else 0


def _last_progress(out: Path) -> str:
    try:
        with open(out / "run.log", "rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - 400))
            lines = f.read().decode(errors="replace").strip().splitlines()
    except OSError:
        return "starting"
    for line in reversed(lines):
        if line.startswith("["):
            parts = line.split()
            try:
                i = parts.index("t")
                return f"t={parts[i + 2]}/{parts[i + 4]} s " + " ".join(parts[-6:])
            except (ValueError, IndexError):
                return line[-60:]
    return "starting"
