"""Parameter sweeps: a study file whose scalar keys may hold lists, e.g.

    [[load]]
    pressure_MPa = [5.19, 10, 17.79]
    [platen]
    mu = [0.05, 0.1, 0.2]

expands into the Cartesian product of cases, each a plain study, named after its swept values
(e.g. `pressure_MPa-5.19__mu-0.1`). `run_sweep` runs the cases in parallel worker processes
(`python -m fem run`), shows progress per case and overall, skips cases that already finished
with the same parameters, and resumes interrupted ones from their checkpoints.
"""
from __future__ import annotations

import copy
import itertools
import json
import os
import signal
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

from fem.study import SCHEMA, Study, StudyError, parse_study

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
        elif isinstance(content, dict):
            axes += [((table, k), v) for k, v in content.items() if isinstance(v, list)]
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
                    if isinstance(v, list):
                        item[k] = v[0]
    return d


def load_sweep(path: str | Path) -> tuple[str, list[Case]]:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise StudyError(f"{path}: study file not found") from None
    except tomllib.TOMLDecodeError as e:
        raise StudyError(f"{path}: malformed TOML: {e}") from None
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
              stream=sys.stdout) -> int:
    """Run all cases; returns 0 when all finished, 130 when interrupted, 1 when a case failed."""
    name, cases = load_sweep(study_path)
    return run_cases(name, [(c, case_dir(name, c, root)) for c in cases], jobs, force, stream)


def run_cases(name: str, cases: list[tuple[Case, Path]], jobs: int = 1, force: bool = False,
              stream=sys.stdout, timeout_s: float | None = None) -> int:
    """Run cases (each into its own folder) in `jobs` worker processes, skipping finished ones.
    A case running longer than timeout_s is stopped and recorded as failed in its run.log."""
    from fem.stepping.outputs import atomic_write_text

    todo, done = [], []
    for c, out in cases:
        if not force and is_finished(out, c):
            done.append(c)
        else:
            todo.append((c, out))
    print(f"{name}: {len(cases)} cases, {len(done)} already finished"
          + (f", skipped: {', '.join(c.name for c in done)}" if done else ""), file=stream, flush=True)
    running: dict[str, tuple[subprocess.Popen, Case, Path]] = {}
    failed: list[str] = []
    stop = {"flag": False}

    def handler(signum, frame):
        stop["flag"] = True
        for p, _, _ in running.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    last_status = 0.0
    started: dict[str, float] = {}
    timed_out: set[str] = set()
    try:
        queue = list(todo)
        while queue or running:
            while queue and len(running) < jobs and not stop["flag"]:
                c, out = queue.pop(0)
                out.mkdir(parents=True, exist_ok=True)
                atomic_write_text(out / "case.toml", to_toml(c.data))
                cmd = [sys.executable, "-m", "fem", "run", str(out / "case.toml"), "--out", str(out)]
                if force:
                    cmd.append("--restart")
                log = open(out / "run.log", "w")
                p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                     env={**os.environ, "PYTHONUNBUFFERED": "1"})
                log.close()
                running[c.name] = (p, c, out)
                started[c.name] = time.monotonic()
                print(f"  start  {c.name}", file=stream, flush=True)
            time.sleep(0.2)
            for cname, (p, c, out) in list(running.items()):
                rc = p.poll()
                if rc is None:
                    if timeout_s and time.monotonic() - started[cname] > timeout_s and cname not in timed_out:
                        timed_out.add(cname)
                        p.kill()
                    continue
                del running[cname]
                if cname in timed_out:
                    with open(out / "run.log", "a") as f:
                        f.write(f"\nerror: timed out after {timeout_s:g} s (treated as a failed solve)\n")
                    failed.append(cname)
                    print(f"  FAILED {cname}: timed out after {timeout_s:g} s", file=stream, flush=True)
                    continue
                if rc == 0:
                    done.append(c)
                    s = json.loads((out / "summary.json").read_text())
                    print(f"  done   {cname}: thickness -{s['thickness_change_pct']:.2f} %, diameter "
                          f"+{s['diameter_change_pct']:.2f} % ({s['wall_time_s']:.0f} s)  "
                          f"[{len(done)}/{len(cases)}]", file=stream, flush=True)
                elif rc == 130 or stop["flag"]:
                    print(f"  paused {cname} (checkpoint kept)", file=stream, flush=True)
                else:
                    failed.append(cname)
                    tail = (out / "run.log").read_text().strip().splitlines()[-1:] or [""]
                    print(f"  FAILED {cname} (exit {rc}): {tail[0]}", file=stream, flush=True)
            if stop["flag"] and not running:
                break
            if running and time.monotonic() - last_status > 5.0:
                last_status = time.monotonic()
                parts = [f"{cname}: {_last_progress(out)}" for cname, (_, _, out) in running.items()]
                print(f"  [{len(done)}/{len(cases)} done] " + " | ".join(parts), file=stream, flush=True)
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    if stop["flag"]:
        print(f"{name} interrupted: {len(done)}/{len(cases)} finished; rerun to resume", file=stream)
        return 130
    print(f"{name}: {len(done)}/{len(cases)} finished" + (f", failed: {', '.join(failed)}" if failed else ""),
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
