"""`make paraview`: write a ParaView Python script for one run folder and, where ParaView exists,
run it to save a PNG (on a private Xvfb display when the machine has none). The script loads the time series (fields.pvd), goes to the last time, warps
by displacement, exaggerates the thin z direction, colours by equivalent creep strain, reflects
about the mid-plane and saves `view.png`. Open the same script interactively with
`paraview --script=<dir>/view_paraview.py`.
"""
from __future__ import annotations

import argparse
import contextlib
import ctypes
import ctypes.util
import os
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

SCRIPT = '''# ParaView view of {pvd} (written by python -m fem.workflows.paraview). Units: mm, MPa.
from paraview.simple import *
reader = PVDReader(FileName=r"{pvd}")
times = reader.TimestepValues
t_last = times[-1] if hasattr(times, "__len__") else times
warp = WarpByVector(Input=reader, Vectors=["POINTS", "displacement"])
refl = Reflect(Input=warp)              # full thickness from the half model (mid-plane symmetry)
refl.Plane = "Y Min"
scale = Transform(Input=refl)
scale.Transform.Scale = [1.0, {zscale}, 1.0]   # z exaggerated x{zscale}
view = GetActiveViewOrCreate("RenderView")
view.ViewSize = [1600, 500]
view.ViewTime = t_last
view.OrientationAxesVisibility = 0
disp = Show(scale, view)
ColorBy(disp, ("CELLS", "equivalent_creep_strain"))
disp.RescaleTransferFunctionToDataRange(False, True)
disp.SetScalarBarVisibility(view, True)
view.InteractionMode = "2D"
ResetCamera(view)
view.CameraPosition = [5.0, 0.0, 40.0]
view.CameraFocalPoint = [5.0, 0.0, 0.0]
view.CameraViewUp = [0.0, 1.0, 0.0]
ResetCamera(view)
text = Text(Text="deformed (r, z) section at t = %g s, z x{zscale}; colour: equivalent creep strain" % t_last)
Show(text, view)
SaveScreenshot(r"{png}", view, ImageResolution=[1600, 500])
print("saved", r"{png}")
'''


def write_script(run_dir: Path, zscale: float = 10.0) -> Path:
    pvd = (run_dir / "fields.pvd").resolve()
    if not pvd.exists():
        raise FileNotFoundError(f"{pvd} not found (run the study with [output] fields = true)")
    script = run_dir / "view_paraview.py"
    script.write_text(SCRIPT.format(pvd=pvd, png=(run_dir / "view.png").resolve(), zscale=zscale))
    return script


def _accepts_clients(display: str) -> bool:
    """True when an X client can open `display` (XOpenDisplay through libX11)."""
    try:
        x11 = ctypes.CDLL(ctypes.util.find_library("X11") or "libX11.so.6")
    except OSError:
        return True  # no libX11 to ask: let pvbatch try
    x11.XOpenDisplay.restype = ctypes.c_void_p
    x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
    x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
    handle = x11.XOpenDisplay(display.encode())
    if not handle:
        return False
    x11.XCloseDisplay(handle)
    return True


def _start_xvfb(timeout_s: float):
    """One private Xvfb server: (process, ":N") once it reports its display, else (process, None)."""
    rfd, wfd = os.pipe()
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(wfd), "-screen", "0", "1920x1080x24", "-nolisten", "tcp", "-noreset"],
                            pass_fds=(wfd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(wfd)
    number, deadline = b"", time.monotonic() + timeout_s
    try:  # read up to the newline: closing the pipe before it arrives kills the server (EPIPE)
        while not number.endswith(b"\n"):
            ready, _, _ = select.select([rfd], [], [], max(0.0, deadline - time.monotonic()))
            chunk = os.read(rfd, 32) if ready else b""
            if not chunk:
                break
            number += chunk
    finally:
        os.close(rfd)
    number = number.decode().strip()
    return proc, (f":{number}" if number.isdigit() else None)


def _stop(proc) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextlib.contextmanager
def virtual_display(timeout_s: float = 30.0, attempts: int = 5):
    """Start a private Xvfb server and yield its DISPLAY string (":N"); stop it on exit.

    pvbatch first opens a display connection to probe OpenGL, closes it, then opens another for the
    view. A default Xvfb resets when its last client leaves, and a connection made during the reset
    is refused: pvbatch aborted with "bad X server connection" (exit 134), about 1 render in 4 with
    4 at once on 2 cores, and once in CI under `xvfb-run -a`. So the server runs with -noreset. It
    picks a free display itself and reports it on a pipe (-displayfd) once it listens (where
    `xvfb-run -a` guesses from lock files), and a test client must connect before the display is
    handed out; otherwise a new server is started."""
    for _ in range(attempts):
        proc, display = _start_xvfb(timeout_s)
        if display is not None and _accepts_clients(display):
            break
        _stop(proc)
    else:
        raise RuntimeError(f"no working Xvfb display after {attempts} attempts")
    try:
        yield display
    finally:
        _stop(proc)


def render(script: Path) -> int | None:
    """Run the script with pvbatch, on a private Xvfb display when there is no display.
    None: no ParaView. Returns pvbatch's exit code (1 when no display could be had)."""
    pvbatch = shutil.which("pvbatch") or shutil.which("pvpython")
    if pvbatch is None:
        return None
    private = not os.environ.get("DISPLAY") and shutil.which("Xvfb")
    try:
        with virtual_display() if private else contextlib.nullcontext() as display:
            env = dict(os.environ, DISPLAY=display) if display else None
            return subprocess.run([pvbatch, str(script)], capture_output=True, text=True, timeout=300, env=env).returncode
    except RuntimeError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m fem.workflows.paraview")
    ap.add_argument("run_dir", help="a run or case folder holding fields.pvd")
    ap.add_argument("--zscale", type=float, default=10.0)
    a = ap.parse_args(argv)
    try:
        script = write_script(Path(a.run_dir), a.zscale)
    except FileNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"ParaView script: {script}  (interactive: paraview --script={script})")
    rc = render(script)
    if rc is None:
        print("ParaView (pvbatch/pvpython) not found: install it (apt-get install paraview) to render the PNG")
        return 0
    png = Path(a.run_dir) / "view.png"
    if rc != 0 or not png.exists():
        print(f"error: ParaView failed to render (exit {rc}); on a machine without a display install xvfb",
              file=sys.stderr)
        return 1
    print(f"rendered: {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
