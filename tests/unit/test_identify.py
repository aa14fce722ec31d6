"""One-point identification (fem/workflows/identify.py): the bracketing root finder, the checks of
the [identify] table, and an end-to-end identification with an analytic answer. Units: mm, N, MPa, s."""
import json
import math

import pytest

from fem.workflows import identify as idf
from fem.workflows.sweep import to_toml
from fem.verification.cases import study_dict


def test_illinois_converges_on_monotone_functions():
    calls = []

    def f(x):
        calls.append(x)
        return math.exp(x) - 3.0   # root ln 3, strongly curved

    x, fx, ok = idf.illinois(f, 0.0, 4.0, f(0.0), f(4.0), 1e-8, 40)
    assert ok and abs(fx) <= 1e-8 and x == pytest.approx(math.log(3.0), abs=1e-8)
    assert len(calls) < 20   # superlinear: plain regula falsi needs far more here
    # a linear function: one step
    x, fx, ok = idf.illinois(lambda x: 2 * x - 1, 0.0, 1.0, -1.0, 1.0, 1e-12, 5)
    assert ok and x == pytest.approx(0.5, abs=1e-12)


def _write(tmp_path, identify: dict, **over):
    d = study_dict(li={"creep_A": 0.0}, **over)
    d["identify"] = identify
    p = tmp_path / "ident.toml"
    p.write_text(to_toml(d))
    return p


GOOD = {"parameter": "li.youngs_modulus_MPa", "lower": 2000.0, "upper": 20000.0, "scale": "log",
        "quantity": "thickness_change_pct", "sample": "bare_li", "pressure_MPa": 5.19,
        "predict_pressures_MPa": [5.19], "tolerance_pp": 1e-3}


@pytest.mark.parametrize("bad, msg", [
    ({"parameter": "youngs"}, "table.key"),
    ({"lower": 3e4}, "lower < upper"),
    ({"scale": "cubic"}, "linear"),
    ({"quantity": "force"}, "one of"),
    ({"tolerance_pp": 0.0}, "tolerance_pp"),
    ({"predict_pressures_MPa": [-1.0]}, "predict_pressures_MPa"),
    ({"colour": 1}, "unknown key"),
])
def test_bad_identify_tables_give_one_line_errors(tmp_path, bad, msg):
    p = _write(tmp_path, {**GOOD, **bad})
    with pytest.raises(idf.IdentifyError, match=msg) as e:
        idf.read_identify_study(p)
    assert "\n" not in str(e.value)
    assert idf.main([str(p)]) == 2


def test_identifies_youngs_modulus_from_elastic_thinning(tmp_path, monkeypatch):
    """Verification against an analytic answer: a frictionless elastic disc is in homogeneous
    uniaxial stress, and for the Li law without creep (Hencky deviatoric part tau_dev = 2 mu
    dev(eps_log), pressure K (J - 1)) the stretches follow from tau_rr = 0, which does not depend on
    E at fixed nu: 2 mu (eps_r - eps_z) / 3 + J K (J - 1) = 0, and the force F = tau_zz pi R^2 /
    lambda_z with tau_zz = 2 mu (eps_z - eps_r). So the E that thins the disc by the measured bare-Li
    5.19 MPa value, 3.00 %, is known (165.5 MPa; small strain sigma/t would say 173: not a Li value,
    this only tests the method). Also: out-of-bracket measurements are refused with the finding,
    and the prediction rows are labelled."""
    from scipy.optimize import brentq
    nu, lz = 0.381, 0.97
    mu_, K_ = 1 / (2 * (1 + nu)), 1 / (3 * (1 - 2 * nu))     # per unit E
    ez = math.log(lz)
    tau_rr = lambda lr: 2 * mu_ * (math.log(lr) - ez) / 3 + lz * lr ** 2 * K_ * (lz * lr ** 2 - 1)  # noqa: E731
    lr = brentq(tau_rr, 1.0, 1.1, xtol=1e-15)
    E_exact = 5.19 * lz / (2 * mu_ * (math.log(lr) - ez))
    from fem.verification.cases import ROOT
    monkeypatch.chdir(ROOT)
    meas = ROOT / "studies" / "data" / "fig4_measured.csv"
    p = _write(tmp_path, {**GOOD, "lower": 50.0, "upper": 2000.0})
    res_root = tmp_path / "results"
    assert idf.main([str(p), "--results", str(res_root), "--measured", str(meas)]) == 0
    res = json.loads((res_root / "ident" / "identify.json").read_text())
    assert res["converged"] and res["measured_pct"] == 3.0
    assert res["identified"] == pytest.approx(E_exact, rel=2e-3)
    assert len(res["runs"]) <= 8
    rows = idf.prediction_rows(res_root / "ident" / "identify.json", meas, res_root)
    labels = {(r["quantity"], r["label"]) for r in rows}
    assert ("thickness", "identified") in labels and ("diameter", "predicted") in labels
    t = [r for r in rows if r["quantity"] == "thickness"][0]
    assert abs(t["diff_pp"]) <= 1e-3
    # make check lists the same rows, labelled, for a sample with an identification
    from fem.workflows import regression
    monkeypatch.setattr(regression, "IDENTIFICATIONS", {"bare_li": [(str(tmp_path / "ident.toml"), "test")]})
    m = [x for x in idf.read_measured(meas) if x["sample"] == "bare_li" and x["pressure_MPa"] == 5.19][0]
    got = {r["quantity"]: r for q in ("thickness", "diameter") for r in regression.identification_rows(m, q, res_root, meas)}
    assert got["thickness"]["status"].startswith("IDENTIFIED (not checked): test, li.youngs_modulus_MPa")
    assert got["diameter"]["status"].startswith("PREDICTED (not checked)")
    assert got["diameter"]["predicted_pct"] == pytest.approx([r for r in rows if r["quantity"] == "diameter"][0]["predicted_pct"])
    none = regression.identification_rows(m, "thickness", tmp_path / "empty", meas)
    assert none[0]["status"].startswith("NO FINISHED IDENTIFICATION") and math.isnan(none[0]["predicted_pct"])
    # a measurement the bracket cannot reach: the finding, exit 2, written to identify.json
    p = _write(tmp_path, {**GOOD, "lower": 5000.0, "upper": 20000.0})
    assert idf.main([str(p), "--results", str(tmp_path / "r2"), "--measured", str(meas)]) == 2
    res = json.loads((tmp_path / "r2" / "ident" / "identify.json").read_text())
    assert res["identified"] is None and "outside" in res["finding"]
