"""fem/stepping/outputs.py: the summary.json / history.csv / fields.pvd contract of a run."""
import json

import numpy as np

from fem.stepping.run import run_case
from fem.verification.cases import make_study


def test_outputs_and_summary_contract(tmp_path):
    s = make_study("c", output={"fields": True}, load=[{"pressure_MPa": 5.19, "ramp_s": 0.0, "hold_s": 0.01}])
    r = run_case(s, tmp_path / "c", progress=False)
    for k in ("thickness_change_pct", "diameter_change_pct", "platen_force_N", "time_steps",
              "newton_iterations", "wall_time_s"):
        assert k in r
    saved = json.loads((tmp_path / "c" / "summary.json").read_text())
    assert saved["thickness_change_pct"] == r["thickness_change_pct"]
    hist = (tmp_path / "c" / "history.csv").read_text().splitlines()
    assert hist[0].startswith("step,time_s,dt_s,phase,force_N")
    assert len(hist) == r["time_steps"] + 2
    import meshio
    pvd = (tmp_path / "c" / "fields.pvd").read_text()
    files = [line.split('file="')[1].split('"')[0] for line in pvd.splitlines() if "file=" in line]
    assert len(files) >= 2
    m = meshio.read(tmp_path / "c" / files[-1])
    assert set(m.point_data) == {"displacement", "hydrostatic_pressure_MPa"}
    assert set(m.cell_data) == {"von_mises_MPa", "equivalent_creep_strain"}
    assert m.cells[0].data.shape[0] == r["cells"]
    assert np.all(m.cell_data["equivalent_creep_strain"][0] > 0)
    assert not list((tmp_path / "c").glob(".*tmp*")) and not list((tmp_path / "c").glob(".staging*"))
