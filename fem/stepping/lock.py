"""One run per output directory: the lock file <out_dir>/.lock.

The lock is a small JSON file {"host", "pid", "started", "heartbeat", "token", "pid_start"} created atomically
(O_CREAT | O_EXCL, so two processes can never both create it); "started" and "heartbeat" are Unix
times (s). While held, a daemon thread rewrites it every `heartbeat_s` seconds with a fresh
"heartbeat" (temporary file + fsync + rename, so a reader never sees half a file).

A lock that is already there is *stale*, and is broken and taken over, when
  * it was written on this host and its process no longer exists (or is a zombie, or the pid now
    belongs to a process that started later: "pid_start", Linux), or
  * its heartbeat is older than `stale_after_s` (a process on another host of a shared
    filesystem that died, or whose host died), or
  * it cannot be read as a lock (empty or truncated: its writer died while creating it) and the
    file is older than `stale_after_s`.
Otherwise acquire() raises LockHeld with a one-line explanation (who holds it, since when).
Breaking a stale lock is atomic too: the stale file is renamed to a unique name (only one of
several contenders can win that rename), checked once more and removed; then the contender
creates a fresh lock with O_EXCL as usual.

Nested use (a sweep executor that holds the case's lock and starts `python -m fem run` on the
same directory): the holder passes its token to the child in the environment variable
FEM_RUN_LOCK_TOKEN (`RunLock.child_env()`); a RunLock whose directory is locked with that token
acquires it as a guest: no error, no heartbeat, and release() leaves the owner's lock in place.

Under MPI only process 0 takes the lock (see `mpi_run_lock`), and the outcome is broadcast so
that every process refuses or proceeds together.
"""
from __future__ import annotations

import errno
import json
import os
import socket
import threading
import time
import uuid
from pathlib import Path

LOCK_NAME = ".lock"
TOKEN_ENV = "FEM_RUN_LOCK_TOKEN"


class LockHeld(RuntimeError):
    """The output directory is locked by a live run; the message is a one-line explanation."""


def _lock_path(out_dir) -> Path:
    return Path(out_dir) / LOCK_NAME


def lock_owner(out_dir) -> dict | None:
    """The content of out_dir/.lock ({"host", "pid", "started", "heartbeat", ...}), or None if
    there is no lock or it cannot be read as one."""
    try:
        d = json.loads(_lock_path(out_dir).read_text())
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    return d if isinstance(d, dict) else None


def _proc_stat(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (Linux), None if unavailable."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _pid_start(pid: int) -> int | None:
    """Start time of the process in clock ticks since boot (Linux), to tell a reused pid apart."""
    f = _proc_stat(pid)
    try:
        return int(f[19]) if f else None
    except (IndexError, ValueError):
        return None


def _pid_alive(pid: int, start: int | None = None) -> bool:
    """Whether process pid exists on this host, is not a zombie, and (if start is given and known)
    is the same process that started at `start`, not a later one with a reused pid."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:   # exists, owned by someone else
        pass
    except (OverflowError, ValueError):
        return False
    f = _proc_stat(pid)
    if f is not None:
        if f[0] in ("Z", "X"):   # killed but not yet reaped by its parent
            return False
        if start is not None:
            now = _pid_start(pid)
            if now is not None and now != start:
                return False
    return True


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f"{path.name}.tmp{os.getpid()}.{threading.get_ident()}")
    try:
        with open(tmp, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        try:
            tmp.unlink()
        except FileNotFoundError:
            pass


class RunLock:
    """Exclusive lock of an output directory (module docstring)."""

    def __init__(self, out_dir, heartbeat_s: float = 10.0, stale_after_s: float = 60.0):
        self.out_dir = Path(out_dir)
        self.path = _lock_path(out_dir)
        self.heartbeat_s = float(heartbeat_s)
        self.stale_after_s = float(stale_after_s)
        self.host = socket.gethostname()
        self.token = uuid.uuid4().hex
        self.held = False      # we created the lock file and own it
        self.guest = False     # the lock is our parent's (FEM_RUN_LOCK_TOKEN)
        self._info: dict | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._mutex = threading.Lock()

    # ------------------------------------------------------------------ public
    def acquire(self) -> None:
        """Take the lock, breaking a stale one; LockHeld if a live run holds it. OSError (e.g. an
        unwritable directory) propagates."""
        if self.held or self.guest:
            return
        for _ in range(20):
            if self._try_create():
                self.held = True
                self._start_heartbeat()
                return
            owner = lock_owner(self.out_dir)
            inherited = os.environ.get(TOKEN_ENV)
            if owner is not None and inherited and owner.get("token") == inherited:
                self.guest = True
                self._info = owner
                return
            why = self._stale_reason(owner)
            if why is None:
                raise LockHeld(self._held_message(owner))
            self._break(owner)
        raise LockHeld(f"{self.path}: could not take the lock (another process keeps re-creating it)")

    def release(self) -> None:
        """Stop the heartbeat and remove the lock if it is still ours (never someone else's)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None
        if self.held:
            with self._mutex:
                owner = lock_owner(self.out_dir)
                if owner is not None and owner.get("token") == self.token:
                    try:
                        self.path.unlink()
                    except FileNotFoundError:
                        pass
                self.held = False
        self.guest = False

    def child_env(self, env: dict | None = None) -> dict:
        """A copy of env (default os.environ) that lets a child run on the same directory as a guest."""
        e = dict(os.environ if env is None else env)
        e[TOKEN_ENV] = self.token if self.held else (self._info or {}).get("token", "")
        return e

    def __enter__(self) -> "RunLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    # ------------------------------------------------------------------ internals
    def _content(self, now: float) -> str:
        started = self._info["started"] if self._info else now
        self._info = {"host": self.host, "pid": os.getpid(), "started": started, "heartbeat": now,
                      "token": self.token, "pid_start": _pid_start(os.getpid())}
        return json.dumps(self._info, allow_nan=False) + "\n"

    def _try_create(self) -> bool:
        text = self._content(time.time())
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        try:
            os.write(fd, text.encode())
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            try:
                self.path.unlink()
            except FileNotFoundError:
                pass
            raise
        os.close(fd)
        return True

    def _stale_reason(self, owner: dict | None) -> str | None:
        now = time.time()
        if owner is None:
            try:
                age = now - self.path.stat().st_mtime
            except FileNotFoundError:
                return "vanished"
            return "unreadable" if age > self.stale_after_s else None
        try:
            pid, hb = int(owner.get("pid")), float(owner.get("heartbeat"))
        except (TypeError, ValueError):
            return "malformed"
        ps = owner.get("pid_start")
        if owner.get("host") == self.host and not _pid_alive(pid, ps if isinstance(ps, int) else None):
            return "dead process"
        if now - hb > self.stale_after_s:
            return "no heartbeat"
        return None

    def _break(self, owner: dict | None) -> None:
        """Remove a stale lock atomically: rename it to a unique name (one contender wins), check that
        what we took is still the stale lock we judged, remove it (or put a fresh one back)."""
        grave = self.path.with_name(f"{LOCK_NAME}.stale{os.getpid()}.{uuid.uuid4().hex[:8]}")
        try:
            os.rename(self.path, grave)
        except FileNotFoundError:
            return   # someone else broke it first
        try:
            taken = json.loads(grave.read_text())
        except (OSError, ValueError, UnicodeDecodeError):
            taken = None
        if owner is not None and isinstance(taken, dict) and taken.get("token") != owner.get("token"):
            # between our look and the rename a new owner took it: give it back if the slot is free
            try:
                os.link(grave, self.path)
            except FileExistsError:
                pass
        try:
            grave.unlink()
        except FileNotFoundError:
            pass

    def _held_message(self, owner: dict | None) -> str:
        if owner is None:
            return (f"{self.out_dir}: another run is starting in this output directory (lock {self.path} "
                    f"is being written); wait for it or use another --out")
        started = owner.get("started")
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started)) if isinstance(started, (int, float)) else "?"
        hb = owner.get("heartbeat")
        age = f", last heartbeat {time.time() - hb:.0f} s ago" if isinstance(hb, (int, float)) else ""
        return (f"{self.out_dir}: another run holds this output directory (host {owner.get('host')}, pid "
                f"{owner.get('pid')}, since {when}{age}); wait for it to finish, stop it, or use another --out")

    def _start_heartbeat(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._beat, name=f"RunLock heartbeat {self.path}", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat_s):
            with self._mutex:
                if not self.held:
                    return
                owner = lock_owner(self.out_dir)
                if owner is not None and owner.get("token") != self.token:
                    return   # someone broke our lock (we were judged stale): do not fight over it
                try:
                    _write_atomic(self.path, self._content(time.time()))
                except OSError:
                    pass     # disk full for a moment: the next beat tries again


def mpi_run_lock(out_dir, comm, **kw) -> RunLock | None:
    """Process 0 takes RunLock(out_dir) and broadcasts the outcome: every process raises the same
    LockHeld (or OSError as LockHeld's sibling message) or proceeds. Returns the lock on process 0,
    None elsewhere."""
    lock, err = None, None
    if comm.rank == 0:
        lock = RunLock(out_dir, **kw)
        try:
            lock.acquire()
        except LockHeld as e:
            err = ("held", str(e))
        except OSError as e:
            err = ("os", f"--out {out_dir}: " + describe_oserror(e, "the lock file"))
    if comm.size > 1:
        err = comm.bcast(err, root=0)
    if err is not None:
        if err[0] == "held":
            raise LockHeld(err[1])
        raise OutputError(err[1])
    return lock


class OutputError(RuntimeError):
    """The output directory cannot be written (read-only, disk full); the message is one line."""


def describe_oserror(e: OSError, what) -> str:
    """One line for a failed write: 'cannot write WHAT: disk full' / 'permission denied' / ..."""
    reason = {errno.ENOSPC: "no space left on the device (disk full)", errno.EDQUOT: "disk quota exceeded",
              errno.EACCES: "permission denied", errno.EROFS: "read-only file system",
              errno.EPERM: "operation not permitted"}.get(e.errno, e.strerror or str(e))
    reason = reason[:1].lower() + reason[1:]
    return f"cannot write {what}: {reason}"
