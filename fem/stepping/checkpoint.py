"""Resume checkpoints of a run (fem/stepping/run.py): written atomically, read defensively.

Files in the output directory:
  * serial: `checkpoint.npz` (one file: temporary name + fsync + rename, so it is always whole);
  * MPI (N processes): one file per process, `checkpoint.step<S>.rank<r>.npz`, and the manifest
    `checkpoint.json` {"step": S, "processes": N, "fingerprint": ...}, written by process 0 (also
    temporary name + fsync + rename) only after every process has written its file for step S.
    The files of the previous checkpoint are removed only after the new manifest is in place, so a
    kill at any moment leaves one complete, consistent set: the one the manifest names.
Each file carries the step number, the process rank and count and the study fingerprint; a resume
checks all of them (and the array sizes) on every process and agrees collectively, so it never
mixes files of different steps or runs.

What is saved (everything the continuation depends on, so that a resumed run repeats the
uninterrupted one step for step): the unknowns x and the previous step's x (predictor), the
creep state (Cc^-1, equivalent creep strain, creep rate at the start of the step and of the
previous step: the error estimator's rates), the rim-contact set of the last step, the Anand flow resistance and the stress at t_n, a draining gel's pore closure, the platen displacement and its previous value,
time, phase, next step size, previous step size, start-up counter (smooth_steps), the resolved
phase start values (phases whose start is taken from the state when they begin), the snapshot
schedule and snapshots, history, counters, and the linear-solver bookkeeping (a fallback from
GAMG to MUMPS stays in force).
Not saved: a stored LU factorisation ([numerics] reuse_factorisation): after a resume the first
Newton iteration factorises afresh, which changes the iterates within the Newton tolerance only.

A checkpoint that cannot be read (truncated, corrupted, from another number of processes, a
manifest without its files) is reported in one line on stderr and the run starts over.
"""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np

from fem.stepping.lock import _pid_alive
from fem.stepping.outputs import atomic_write, atomic_write_text, fsync_dir

FORMAT = 5   # 3: + rim_active, s_n, q_n (2026-12-03); 4: + gel_closure (a draining gel; empty otherwise);
#            5: + Cc2_inv (the second Li branch of a homogenised ply; empty otherwise) (2026-12-04)
READS = (3, 4, 5)   # an older checkpoint lacks the later arrays: read as empty (fine unless the run needs them)
OPTIONAL = {"gel_closure": 4, "Cc2_inv": 5}   # array -> the format that added it
SERIAL_NAME = "checkpoint.npz"
MANIFEST_NAME = "checkpoint.json"
ARRAYS = ("x", "x_prev", "Cc_inv", "p_eq", "rate_n", "rate_prev", "rim_active", "s_n", "q_n", "gel_closure",
          "Cc2_inv")
SNAP_KEYS = ("u", "von_mises", "p_eq")


class CheckpointUnreadable(Exception):
    """The checkpoint exists but cannot be used; str() is the reason (one line)."""


# ------------------------------------------------------------------ strict JSON with exact non-finite floats
def _enc(obj):
    """JSON-safe copy: non-finite floats become {"nonfinite": "nan"|"inf"|"-inf"} (restored by _dec)."""
    if isinstance(obj, dict):
        return {str(k): _enc(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_enc(v) for v in obj]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)) and not isinstance(obj, bool):
        f = float(obj)
        return f if math.isfinite(f) else {"nonfinite": repr(f)}
    return obj


def _dec(d: dict):
    if set(d) == {"nonfinite"}:
        return float(d["nonfinite"])
    return d


def dumps(meta: dict) -> str:
    return json.dumps(_enc(meta), allow_nan=False)


def loads(text: str) -> dict:
    return json.loads(text, object_hook=_dec)


# ------------------------------------------------------------------ paths
def rank_path(out_dir: Path, step: int, rank: int) -> Path:
    return out_dir / f"checkpoint.step{step:09d}.rank{rank}.npz"


_RANK_RE = re.compile(r"^checkpoint\.step(\d+)\.rank(\d+)\.npz$")


def describe(out_dir: Path, size: int) -> Path:
    """The path to name in messages: the serial file or the manifest."""
    return out_dir / (SERIAL_NAME if size == 1 else MANIFEST_NAME)


def exists(out_dir: Path, size: int) -> bool:
    if size == 1:
        return (out_dir / SERIAL_NAME).exists()
    return (out_dir / MANIFEST_NAME).exists() or any(_RANK_RE.match(p.name) for p in out_dir.glob("checkpoint.step*"))


# ------------------------------------------------------------------ write
def _write_npz(path: Path, meta: dict, arrays: dict) -> None:
    atomic_write(path, lambda f: np.savez(f, meta=np.array(dumps(meta)), **arrays), binary=True)


def save(out_dir: Path, comm, meta: dict, arrays: dict, snapshots: list[dict]) -> None:
    """Write the checkpoint of this process (collective under MPI). Raises OSError (the same on
    every process: the first failing process's error) when any process could not write; the
    previous checkpoint is then untouched."""
    step = int(meta["step"])
    meta = dict(meta, format=FORMAT, rank=comm.rank, processes=comm.size,
                snapshot_times=[s["t"] for s in snapshots])
    arrs = dict(arrays)
    for i, s in enumerate(snapshots):
        for k in SNAP_KEYS:
            arrs[f"snap{i}_{k}"] = s[k]
    if comm.size == 1:
        _write_npz(out_dir / SERIAL_NAME, meta, arrs)
        return
    err = None
    path = rank_path(out_dir, step, comm.rank)
    try:
        _write_npz(path, meta, arrs)
    except OSError as e:
        err = e
    errs = comm.allgather(None if err is None else (err.errno, err.strerror or str(err), str(path)))
    bad = [e for e in errs if e is not None]
    if not bad and comm.rank == 0:
        try:
            atomic_write_text(out_dir / MANIFEST_NAME, json.dumps(
                {"format": FORMAT, "step": step, "processes": comm.size, "fingerprint": meta["fingerprint"],
                 "t": meta["t"]}, allow_nan=False) + "\n")
        except OSError as e:
            bad = [(e.errno, e.strerror or str(e), str(out_dir / MANIFEST_NAME))]
    bad = comm.bcast(bad, root=0)
    if bad:
        if err is None:
            path.unlink(missing_ok=True)   # the manifest still names the previous, complete set
        raise OSError(bad[0][0], bad[0][1], bad[0][2])
    # the manifest names step `step`: older files of this process are obsolete
    for p in out_dir.glob(f"checkpoint.step*.rank{comm.rank}.npz"):
        m = _RANK_RE.match(p.name)
        if m and int(m.group(1)) != step and int(m.group(2)) == comm.rank:
            p.unlink(missing_ok=True)


def remove(out_dir: Path, comm) -> None:
    """Delete the checkpoint after a completed run (collective): the manifest first, then the process
    files, then (process 0) any checkpoint file left by an earlier run with another process count."""
    if comm.rank == 0:
        (out_dir / MANIFEST_NAME).unlink(missing_ok=True)
        fsync_dir(out_dir)
    comm.Barrier()
    for p in out_dir.glob(f"checkpoint.step*.rank{comm.rank}.npz"):
        p.unlink(missing_ok=True)
    comm.Barrier()
    if comm.rank == 0:
        (out_dir / SERIAL_NAME).unlink(missing_ok=True)
        for p in out_dir.glob("checkpoint.step*.rank*.npz"):
            if _RANK_RE.match(p.name):
                p.unlink(missing_ok=True)


def remove_leftovers(out_dir: Path) -> None:
    """Temporary files and folders of an earlier process that was killed while writing (call on
    process 0 while holding the run lock, before any process writes)."""
    import shutil
    for p in out_dir.iterdir():
        n = p.name
        lock_tmp = re.match(r"^\.lock\.(?:tmp|stale)(\d+)\.[0-9a-f]+$", n)
        if (re.match(r"^\.(checkpoint[^/]*|history\.csv|summary\.json)\.tmp\d+$", n)
                or (lock_tmp and not _pid_alive(int(lock_tmp.group(1))))):   # not a live lock holder's
            p.unlink(missing_ok=True)
        elif re.match(r"^\.(staging|old)\d+$", n) and p.is_dir():
            shutil.rmtree(p, ignore_errors=True)


# ------------------------------------------------------------------ read
def _read_npz(path: Path, fingerprint: str, expect: dict) -> tuple[dict | None, dict | None, list | None]:
    """(meta, arrays, snapshots), or (None, None, None) for another study; CheckpointUnreadable."""
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = loads(str(z["meta"]))
            if not isinstance(meta, dict) or "fingerprint" not in meta:
                raise CheckpointUnreadable("no metadata")
            if meta["fingerprint"] != fingerprint:
                return None, None, None
            if meta.get("format") not in READS:
                raise CheckpointUnreadable(f"format {meta.get('format')} (this version reads {', '.join(map(str, READS))})")
            arrays = {k: (np.zeros(0) if k in OPTIONAL and meta["format"] < OPTIONAL[k] else np.array(z[k]))
                      for k in ARRAYS}
            snaps = [{"t": t, **{k: np.array(z[f"snap{i}_{k}"]) for k in SNAP_KEYS}}
                     for i, t in enumerate(meta["snapshot_times"])]
    except CheckpointUnreadable:
        raise
    except FileNotFoundError:
        raise CheckpointUnreadable(f"{path.name} is missing") from None
    except Exception as e:   # noqa: BLE001  (truncated zip, bad JSON, missing member, ...)
        msg = " ".join(str(e).split())[:160]
        raise CheckpointUnreadable(f"{type(e).__name__}: {msg}" if msg else type(e).__name__) from None
    for k, n in expect.items():
        if arrays[k].shape != (n,) or not np.all(np.isfinite(arrays[k])):
            raise CheckpointUnreadable(f"array {k} has shape {arrays[k].shape} (expected ({n},)) or non-finite "
                                       f"values")
    return meta, arrays, snaps


def load(out_dir: Path, comm, fingerprint: str, expect: dict):
    """Collective. Returns ("ok", meta, arrays, snapshots), ("other", ...) for a checkpoint of a
    different study, ("none", ...) when there is none, or ("unreadable", reason, ...), the same
    outcome on every process."""
    if comm.size == 1:
        path = out_dir / SERIAL_NAME
        if not path.exists():
            return "none", None, None, None
        try:
            meta, arrays, snaps = _read_npz(path, fingerprint, expect)
        except CheckpointUnreadable as e:
            return "unreadable", str(e), None, None
        if meta is None:
            return "other", None, None, None
        return "ok", meta, arrays, snaps
    # MPI: the manifest names the step; every process reads its own file of that step
    man = None
    if comm.rank == 0:
        mp = out_dir / MANIFEST_NAME
        if mp.exists():
            try:
                man = json.loads(mp.read_text())
                if not isinstance(man, dict):
                    raise ValueError("not an object")
                man = {"step": int(man["step"]), "processes": int(man["processes"]),
                       "fingerprint": str(man["fingerprint"])}
            except Exception as e:   # noqa: BLE001
                man = {"error": f"{MANIFEST_NAME}: {type(e).__name__}: {' '.join(str(e).split())[:120]}"}
        elif exists(out_dir, comm.size):
            man = {"error": f"rank files without {MANIFEST_NAME} (killed while writing the first checkpoint)"}
    man = comm.bcast(man, root=0)
    if man is None:
        return "none", None, None, None
    if "error" in man:
        return "unreadable", man["error"], None, None
    if man["fingerprint"] != fingerprint:
        return "other", None, None, None
    if man["processes"] != comm.size:
        return "unreadable", f"written by {man['processes']} processes, this run has {comm.size}", None, None
    outcome, meta, arrays, snaps = "ok", None, None, None
    try:
        meta, arrays, snaps = _read_npz(rank_path(out_dir, man["step"], comm.rank), fingerprint, expect)
        if meta is None:
            raise CheckpointUnreadable("process file of another study")
        if (meta.get("step"), meta.get("rank"), meta.get("processes")) != (man["step"], comm.rank, comm.size):
            raise CheckpointUnreadable(f"process file is step {meta.get('step')} rank {meta.get('rank')}, the "
                                       f"manifest says step {man['step']}")
    except CheckpointUnreadable as e:
        outcome = f"process {comm.rank}: {e}"
    outcomes = comm.allgather(outcome)
    bad = [o for o in outcomes if o != "ok"]
    if bad:
        return "unreadable", "; ".join(bad), None, None
    # the processes must agree on the shared (replicated) state
    key = json.dumps(_enc({k: meta[k] for k in ("t", "phase_index", "dt_next", "delta", "step")}))
    if len(set(comm.allgather(key))) != 1:
        return "unreadable", "the process files disagree on time/step", None, None
    return "ok", meta, arrays, snaps
