"""Calibration machinery on the real FE model (tiny case): residuals are (predicted - measured) /
uncertainty of the cached FE runs, the cache is reused, and the calibrated study is valid."""
import json
import tomllib

import numpy as np
import pytest

from conftest import BASE_TOML
from fem.calibrate import Calibrator, write_calibrated_study
from fem.sweep import load_sweep

BASE = BASE_TOML.replace("ramp_s = 1.0", "ramp_s = 0.0").replace("hold_s = 600.0", "hold_s = 2.0")
MEAS = """# test data
sample,pressure_MPa,diameter_change_pct,diameter_uncertainty_pct,thickness_change_pct,thickness_uncertainty_pct,source
bare_li,5.19,3.74,1.0,3.00,2.0,test
g_licfc,5.19,2.00,1.0,2.00,1.0,test
"""


def test_residuals_cache_and_calibrated_study(tmp_path):
    (tmp_path / "base.toml").write_text(BASE)
    (tmp_path / "m.csv").write_text(MEAS)
    cal = Calibrator(tmp_path / "base.toml", tmp_path / "m.csv", tmp_path / "cal", ["log10_A", "mu"], jobs=1)
    assert len(cal.meas) == 1  # only bare-Li points are fitted
    r = cal.residuals(np.array([np.log10(7.7e-3), 0.2]))
    runs = list((tmp_path / "cal" / "cache").glob("*/summary.json"))
    assert len(runs) == 1
    s = json.loads(runs[0].read_text())
    assert s["parameters"]["platen"]["mu"] == pytest.approx(0.2)
    assert r == pytest.approx([(s["diameter_change_pct"] - 3.74) / 1.0, (s["thickness_change_pct"] - 3.0) / 2.0])
    mtime = runs[0].stat().st_mtime_ns
    r2 = cal.residuals(np.array([np.log10(7.7e-3), 0.2]))  # cached: no new run
    assert np.array_equal(r, r2) and runs[0].stat().st_mtime_ns == mtime
    assert np.all(cal.residuals(np.array([0.0, 1.5])) == 1e3)  # outside bounds: penalty, no run
    out = tmp_path / "cal.toml"
    write_calibrated_study(tmp_path / "base.toml",
                           {"fit": {"x": {"log10_A": -1.5, "mu": 0.25}, "sd": {"log10_A": 0.1, "mu": 0.01},
                                    "chi2": 1.0}}, out, [5.19, 17.79])
    d = tomllib.loads(out.read_text())
    assert d["li"]["creep_A"] == pytest.approx(10 ** -1.5, rel=1e-5) and d["platen"]["mu"] == 0.25
    name, cases = load_sweep(out)
    assert [c.study.load[0].pressure_MPa for c in cases] == [5.19, 17.79]
