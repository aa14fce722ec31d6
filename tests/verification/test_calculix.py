"""CalculiX cross-check (fem/verification/calculix.py): deck, analytic reference, and two short ccx runs.

The ccx runs are skipped when `ccx` is not on PATH (Debian: apt-get install calculix-ccx).
"""
import math

import pytest

from fem.verification import calculix as ccx

needs_ccx = pytest.mark.skipif(not ccx.ccx_available(), reason="CalculiX (ccx) not installed")

P0, E, NU, A, N = 5.0, 7820.0, 0.381, 1e-5, 6.56


def test_deck_structure(tmp_path):
    info = ccx.write_deck(tmp_path / "d.inp", nr=60, nz=4)
    assert info["nodes"] == 849 and info["elements"] == 240      # (2nr+1)(2nz+1) - nr nz
    assert info["force_N"] == pytest.approx(P0 * math.pi * 7.5 ** 2)
    text = (tmp_path / "d.inp").read_text()
    assert "TYPE=CAX8R" in text and "*CREEP, LAW=NORTON" in text and "*VISCO, CETOL=" in text
    assert text.count("\n2\n") == 2 * 60                          # one *EQUATION per top node but the reference
    info = ccx.write_deck(tmp_path / "e.inp", nr=8, nz=2, visco=False)
    assert "*VISCO" not in (tmp_path / "e.inp").read_text()


def test_analytic_reference():
    t = 600.0
    eps = math.log1p(N * A * P0 ** N * t) / N
    rigid = ccx.analytic_thickness_change_pct(t, elastic=False)
    assert rigid == pytest.approx(100.0 * (1.0 - math.exp(-eps)), rel=1e-12)
    assert ccx.analytic_rigid_plastic(t)[0] == pytest.approx(rigid, rel=1e-12)
    # elastic part: at t = 0 the thickness strain is P/E (to O((P/E)^2)), and for E -> infinity the
    # elastic solution tends to the rigid-plastic one
    assert ccx.analytic_thickness_change_pct(0.0) == pytest.approx(100.0 * P0 / E, rel=2e-3)
    assert ccx.analytic_thickness_change_pct(t, E=1e9) == pytest.approx(rigid, rel=1e-6)
    full = ccx.analytic_thickness_change_pct(t)
    assert 0.0 < full - rigid < 100.0 * P0 / E                    # elastic part is small and positive
    assert ccx.analytic_diameter_change_pct(t, elastic=False) == pytest.approx(
        100.0 * (math.exp(0.5 * eps) - 1.0), rel=1e-12)


@needs_ccx
def test_cload_full_circumference_elastic(tmp_path):
    """Elastic static step: thickness strain = P0/E proves *CLOAD carries the full-circumference
    force P0 pi R0^2 (a per-radian or per-segment convention would be off by 2 pi or 180)."""
    r = ccx.run_calculix(tmp_path, nr=4, nz=1, visco=False, timeout=60)
    assert r["ok"], r
    assert r["thickness_change_pct"] == pytest.approx(100.0 * P0 / E, rel=2e-3)
    # and the exact homogeneous solution of CalculiX's (Simo) hyperelastic law to print precision
    assert r["thickness_change_pct"] == pytest.approx(ccx.analytic_thickness_change_pct(0.0), rel=1e-5)
    assert r["diameter_change_pct"] == pytest.approx(ccx.analytic_diameter_change_pct(0.0), rel=1e-4)


@needs_ccx
def test_creep_matches_analytic(tmp_path):
    """Coarse 4 x 1 CAX8R disc, 20 s hold: thickness change within 1 % of the analytic solution."""
    r = ccx.run_calculix(tmp_path, nr=4, nz=1, cetol=1e-3, t_end=20.0, rn=0.02, timeout=120)
    assert r["ok"], r
    assert r["final_time_s"] == pytest.approx(20.0)
    assert r["thickness_change_pct"] > 40.0
    assert abs(r["rel_error"]) < 0.01, r["rel_error"]
    assert abs(r["diameter_rel_error"]) < 0.01, r["diameter_rel_error"]
