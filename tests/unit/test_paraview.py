"""If ParaView's pvpython is on the machine, it must open every field file the package writes and
find the expected arrays and time steps. (.ci/run installs Debian's ParaView so this runs in CI.)"""
import json
import shutil
import subprocess

import pytest

from fem.stepping.run import run_case
from fem.verification.cases import PV_SCRIPT, make_study


needs_pvbatch = pytest.mark.skipif(shutil.which("pvbatch") is None or shutil.which("Xvfb") is None,
                                   reason="ParaView pvbatch or Xvfb not installed")


def _view_script(tmp_path):
    """A short run with fields and its ParaView view script (fem/workflows/paraview.py)."""
    from fem.workflows.paraview import write_script
    s = make_study("pv", output={"fields": True}, load=[{"pressure_MPa": 5.19, "ramp_s": 0.0, "hold_s": 0.02}])
    run_case(s, tmp_path / "pv", progress=False)
    return write_script(tmp_path / "pv")


@pytest.mark.skipif(shutil.which("pvpython") is None, reason="ParaView (pvpython) not installed")
def test_paraview_opens_fields(tmp_path):
    s = make_study("pv", output={"fields": True}, platen={"friction": "coulomb", "mu": 0.2},
                   load=[{"pressure_MPa": 5.19, "ramp_s": 0.0, "hold_s": 1.0}])
    r = run_case(s, tmp_path / "pv", progress=False)
    script = tmp_path / "check.py"
    script.write_text(PV_SCRIPT)
    p = subprocess.run(["pvpython", "--force-offscreen-rendering", str(script), str(tmp_path / "pv" / "fields.pvd")],
                       capture_output=True, text=True, timeout=300)
    line = [x for x in p.stdout.splitlines() if x.startswith("JSON")]
    assert p.returncode == 0 and line, p.stdout + p.stderr
    info = json.loads(line[0][4:])
    assert set(info["point_arrays"]) >= {"displacement", "hydrostatic_pressure_MPa"}
    assert set(info["cell_arrays"]) >= {"von_mises_MPa", "equivalent_creep_strain"}
    assert len(info["times"]) >= 3 and info["times"][-1] == pytest.approx(1.0)
    assert info["cells"] == r["cells"]
    lo, hi = info["ranges"]["equivalent_creep_strain"]
    assert 0.0 <= lo < hi  # a real, non-uniform creep field arrived


@needs_pvbatch
def test_paraview_view_script_renders_png(tmp_path):
    from fem.workflows.paraview import render
    assert render(_view_script(tmp_path)) == 0
    png = tmp_path / "pv" / "view.png"
    assert png.exists()
    import matplotlib.image as mpimg
    import numpy as np
    img = mpimg.imread(png)
    colours = np.unique((img[..., :3] * 255).astype(np.uint8).reshape(-1, 3), axis=0)
    assert img.shape[1] == 1600 and len(colours) > 50  # a coloured field, not an empty view


@needs_pvbatch
def test_four_renders_at_once_all_succeed(tmp_path, monkeypatch):
    """Each render gets its own virtual display and keeps it through pvbatch's two connections.
    With xvfb-run -a (a resetting server on a guessed display) about 1 render in 4 aborted with
    'bad X server connection' when 4 ran at once on 2 cores."""
    from concurrent.futures import ThreadPoolExecutor
    from fem.workflows.paraview import render
    monkeypatch.delenv("DISPLAY", raising=False)
    script = _view_script(tmp_path)
    with ThreadPoolExecutor(4) as ex:
        codes = list(ex.map(lambda _: render(script), range(8)))
    assert codes == [0] * 8, codes
