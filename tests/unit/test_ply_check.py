"""fem/rve/ply_check.py: the fitted ply law under a creep test at constant stress (the law side; the
cell side is the RVE creep solver of tests/unit/test_rve_creep.py). Units: MPa, s."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fem.rve import ply_fit
from fem.rve.ply_check import law_creep

ROOT = Path(__file__).resolve().parents[2]
FIT = ROOT / "studies" / "data" / "plyfit_9cb6a4be8cc83326.json"   # the literature-Li table's fit


def test_point_law_reproduces_the_stored_fit_curves():
    """point_law(fit) is the law the fit reported: every curve's final stress as stored (1e-9)."""
    fit = json.loads(FIT.read_text())
    table = json.loads((ROOT / fit["table"]).read_text())
    law = ply_fit.point_law(fit)
    for c, stored in zip(table["curves"], fit["curves"]):
        model = ply_fit.model_curve(law, c)
        assert model[-1, c["component"]] == pytest.approx(stored["final_stress_law_MPa"], rel=1e-9)


def test_creep_test_without_creep_is_the_elastic_compliance():
    """With the branch's creep and the closure switched off the held stress gives the elastic strain:
    confined E_zz = -S / C33 of the total stiffness, unconfined the compliance's column (1e-9)."""
    fit = json.loads(FIT.read_text())
    fit["parameters"] = dict(fit["parameters"], log10_A_b=-300.0, log10_B=-300.0)
    law = ply_fit.point_law(fit)
    C = ply_fit.mandel_to_voigt(law.Cs) + law.K_b * np.outer(ply_fit.M, ply_fit.M) \
        + ply_fit.mandel_to_voigt(np.einsum("k,kij->ij", 2.0 * np.broadcast_to(law.mu_k, (4,)), ply_fit.HILL_PROJECTORS))
    S = 30.0
    conf = law_creep(fit, "confined", S, 10.0, 5)
    assert conf["E"][-1][2] == pytest.approx(-S / C[2, 2], rel=1e-9)
    unc = law_creep(fit, "unconfined", S, 10.0, 5)
    assert np.allclose(unc["E"][-1], -S * np.linalg.inv(C)[:, 2], rtol=1e-9, atol=1e-14)
    assert conf["pore_closure"][-1] == 0.0


def test_creep_test_creeps_and_closes_pores():
    """With the fitted constants the through-thickness strain grows in the hold and the pores close."""
    fit = json.loads(FIT.read_text())
    r = law_creep(fit, "confined", 30.0, 61.0, 61)
    ez = np.asarray(r["E"])[:, 2]
    assert np.all(np.diff(ez[1:]) < 0.0) and ez[-1] < 1.05 * ez[1]
    assert 0.0 < r["pore_closure"][-1] <= 1.0


@pytest.mark.parametrize("args, field", [(["--stress", "0"], "--stress"), (["--steps", "1"], "--steps")])
def test_bad_input_is_one_line(args, field):
    p = subprocess.run([sys.executable, "-m", "fem.rve.ply_check", "studies/composite_glicfc_homogenised_creep.toml",
                        *args], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert p.stderr.count("\n") == 1 and p.stderr.startswith(f"error: {field}")
