"""Calibration machinery on the real FE model (tiny case): residuals are (predicted - measured) /
uncertainty of the cached FE runs, the cache is reused, and the calibrated study is valid."""
import json
import tomllib

import numpy as np
import pytest

from fem.verification.cases import BASE_TOML
from fem.workflows.calibrate import Calibrator, write_calibrated_study
from fem.workflows.sweep import load_sweep

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


def test_fit_log10_A_recovers_the_prefactor_of_synthetic_data(tmp_path):
    """The 1D stage of the global calibration (bracket + bounded Brent) finds the creep prefactor
    that produced the 'measured' values, starting one decade away."""
    (tmp_path / "base.toml").write_text(BASE)
    true = {"log10_A": np.log10(7.7e-3), "mu": 0.2}
    (tmp_path / "m0.csv").write_text(MEAS)
    cal0 = Calibrator(tmp_path / "base.toml", tmp_path / "m0.csv", tmp_path / "cal", ["log10_A", "mu"], jobs=1)
    s = cal0.predict(true, [5.19])[5.19]
    (tmp_path / "m.csv").write_text(
        "sample,pressure_MPa,diameter_change_pct,diameter_uncertainty_pct,thickness_change_pct,"
        f"thickness_uncertainty_pct,source\nbare_li,5.19,{s['diameter_change_pct']},1.0,"
        f"{s['thickness_change_pct']},1.0,synthetic\n")
    cal = Calibrator(tmp_path / "base.toml", tmp_path / "m.csv", tmp_path / "cal", ["log10_A", "mu"], jobs=1)
    a, chi2 = cal.fit_log10_A(true["log10_A"] + 1.0, {"mu": 0.2}, xatol=0.01)
    assert abs(a - true["log10_A"]) < 0.03 and chi2 < 1e-2


def test_profile_interval():
    from fem.workflows.calibrate import profile_interval
    rows = [{"mu": m, "chi2": c} for m, c in ((0.0, 20.0), (0.01, 8.0), (0.02, 2.0), (0.04, 6.0), (0.08, 30.0))]
    lo, hi = profile_interval(rows, 2.0, 2.0)   # level 4: between 0.01 and 0.02, and 0.02 and 0.04
    assert lo == pytest.approx(0.01 + 4 / 6 * 0.01) and hi == pytest.approx(0.02 + 0.5 * 0.02)
    assert profile_interval(rows, 2.0, 100.0) == [0.0, 0.08]   # whole grid inside: its ends
