"""`make paraview`: write a ParaView Python script for one run folder and, where ParaView exists,
run it to save a PNG. The script loads the time series (fields.pvd), goes to the last time, warps
by displacement, exaggerates the thin z direction, colours by equivalent creep strain, reflects
about the mid-plane and saves `view.png`. Open the same script interactively with
`paraview --script=<dir>/view_paraview.py`.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
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


def render(script: Path) -> int | None:
    """Run the script with pvbatch (under xvfb-run when there is no display). None: no ParaView."""
    pvbatch = shutil.which("pvbatch") or shutil.which("pvpython")
    if pvbatch is None:
        return None
    cmd = [pvbatch, str(script)]
    import os
    if not os.environ.get("DISPLAY") and shutil.which("xvfb-run"):
        cmd = ["xvfb-run", "-a"] + cmd
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300).returncode


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
