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


def _stored_fit() -> dict:
    """The stored fit of the literature-Li table (the creep study's), found as the disc finds it."""
    from fem.rve.ply_tables import disc_table_path
    from fem.study import parse_study, read_study_toml
    from fem.workflows.sweep import first_values
    st = parse_study(first_values(read_study_toml(ROOT / "studies" / "composite_glicfc_homogenised_creep.toml")))
    mats = {"li": st.li, **st.materials}
    return ply_fit.fitted_ply(ROOT / disc_table_path(st.geometry, mats), mats,
                              progress=lambda s: pytest.fail(f"refitting: {s}"))


def test_point_law_reproduces_the_stored_fit_curves():
    """point_law(fit) is the law the fit reported: every curve's final stress (creep curves: final
    strain) as stored (1e-9)."""
    fit = _stored_fit()
    table = json.loads((ROOT / fit["table"]).read_text())
    law = ply_fit.point_law(fit)
    curves = ply_fit.fit_curves(table)
    assert len(curves) == len(fit["curves"])
    for c, stored in zip(curves, fit["curves"]):
        if c.get("kind") == "creep":
            got, want = ply_fit.creep_model(law, c)[-1, c["component"]], stored["final_strain_law"]
        else:
            got, want = ply_fit.model_curve(law, c)[-1, c["component"]], stored["final_stress_law_MPa"]
        assert got == pytest.approx(want, rel=1e-9)


def test_creep_test_without_creep_is_the_elastic_compliance():
    """With the branches' creep and the closure switched off the held stress gives the elastic strain:
    confined E_zz = -S / C33 of the total stiffness, unconfined the compliance's column (1e-9)."""
    fit = _stored_fit()
    off = {k: -300.0 for k in ("log10_A_b", "log10_A_b2", "log10_B") if k in fit["parameters"]}
    fit["parameters"] = dict(fit["parameters"], **off)
    law = ply_fit.point_law(fit)
    mu = np.broadcast_to(law.mu_k, (4,)) * (1.0 + (law.mu_b2 / law.mu_b if law.branches == 2 else 0.0))
    C = ply_fit.mandel_to_voigt(law.Cs) + law.K_b * np.outer(ply_fit.M, ply_fit.M) \
        + ply_fit.mandel_to_voigt(np.einsum("k,kij->ij", 2.0 * mu, ply_fit.HILL_PROJECTORS))
    S = 30.0
    conf = law_creep(fit, "confined", S, 10.0, 5)
    assert conf["E"][-1][2] == pytest.approx(-S / C[2, 2], rel=1e-9)
    unc = law_creep(fit, "unconfined", S, 10.0, 5)
    assert np.allclose(unc["E"][-1], -S * np.linalg.inv(C)[:, 2], rtol=1e-9, atol=1e-14)
    assert conf["pore_closure"][-1] == 0.0


def test_creep_test_creeps_and_closes_pores():
    """With the fitted constants the through-thickness strain grows in the hold, by at least half as
    much as the cell's after its first second (the table's 30 MPa creep curve: +3.1 %; the FIT_VERSION 9
    law +2.5 %, the FIT_VERSION 10 law +7.8 %: within its 3.25 % of the curve's strain, below the cell
    at 1 s and above it at 61 s), and the pores close."""
    fit = _stored_fit()
    r = law_creep(fit, "confined", 30.0, 61.0, 61)
    ez = np.asarray(r["E"])[:, 2]
    cell = next(c for c in json.loads((ROOT / fit["table"]).read_text())["creep_curves"] if c["stress_MPa"] == 30.0)
    cell_growth = cell["E"][-1][2] / cell["E"][1][2] - 1.0
    assert cell_growth > 0.01
    assert np.all(np.diff(ez[1:]) < 0.0) and ez[-1] / ez[1] - 1.0 > 0.5 * cell_growth
    assert 0.0 < r["pore_closure"][-1] <= 1.0


@pytest.mark.parametrize("args, field", [(["--stress", "0"], "--stress"), (["--steps", "1"], "--steps")])
def test_bad_input_is_one_line(args, field):
    p = subprocess.run([sys.executable, "-m", "fem.rve.ply_check", "studies/composite_glicfc_homogenised_creep.toml",
                        *args], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert p.stderr.count("\n") == 1 and p.stderr.startswith(f"error: {field}")
