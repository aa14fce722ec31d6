"""Unit tests: pointwise creep return map, mesh builder tags and cache, resume after interrupt."""
import json
import math

import numpy as np
import pytest
from scipy.optimize import brentq

from conftest import make_study
from fem.physics.laws import solve_creep_increment
from fem.stepping.run import Interrupted, run_case


def test_creep_increment_matches_bracketed_root():
    rng = np.random.default_rng(0)
    q = rng.uniform(0.0, 40.0, 200)
    mub = rng.uniform(2000.0, 3000.0, 200)
    for dtA, n, sy in [(1e-6, 6.56, 0.0), (1e-2, 6.56, 0.0), (10.0, 3.0, 0.8), (0.0, 6.56, 0.0)]:
        dp = solve_creep_increment(q, mub, dtA, n, sy)
        for qi, mi, di in zip(q, mub, dp):
            if qi <= sy or dtA == 0.0:
                assert di == 0.0
                continue
            g = lambda x: x - dtA * max(qi - 3 * mi * x - sy, 0.0) ** n  # noqa: E731
            ref = brentq(g, 0.0, (qi - sy) / (3 * mi), xtol=1e-300, rtol=1e-15)
            assert di == pytest.approx(ref, rel=1e-10, abs=1e-300)
            assert 0.0 <= di <= qi / (3 * mi)


def test_mesh_tags_area_and_cache(tmp_path):
    from meshes.disc_axisym import AXIS, BOTTOM, RIM, TOP, AxisymDiscGeometry, cached_msh, load_mesh
    import ufl
    from dolfinx import fem

    geo = AxisymDiscGeometry(mesh_size_mm=0.125, rim_refinement=2.0)
    p1 = cached_msh(geo, tmp_path)
    mtime = p1.stat().st_mtime_ns
    assert cached_msh(geo, tmp_path) == p1 and p1.stat().st_mtime_ns == mtime  # reused, not rebuilt
    assert cached_msh(AxisymDiscGeometry(mesh_size_mm=0.1), tmp_path) != p1
    msh, ct, ft = load_mesh(geo, cache_dir=tmp_path)
    area = fem.assemble_scalar(fem.form(1.0 * ufl.dx(domain=msh)))
    assert area == pytest.approx(7.5 * 0.25, rel=1e-12)
    ds = ufl.Measure("ds", domain=msh, subdomain_data=ft)
    lengths = {t: fem.assemble_scalar(fem.form(1.0 * ds(t))) for t in (BOTTOM, TOP, AXIS, RIM)}
    assert lengths[BOTTOM] == pytest.approx(7.5) and lengths[TOP] == pytest.approx(7.5)
    assert lengths[AXIS] == pytest.approx(0.25) and lengths[RIM] == pytest.approx(0.25)
    # grading: the rim band is finer than the interior
    x = msh.geometry.x
    assert np.sum(x[:, 0] > 7.0) > 1.5 * np.sum((x[:, 0] > 3.0) & (x[:, 0] < 3.5))


def test_interrupt_then_resume_gives_identical_result(tmp_path):
    """An interrupted run keeps a checkpoint, leaves earlier results intact, and resumes to the
    same answer as an uninterrupted run."""
    kw = dict(platen={"friction": "coulomb", "mu": 0.2}, output={"fields": True},
              load=[{"pressure_MPa": 5.19, "ramp_s": 0.5, "hold_s": 5.0}])
    ref = run_case(make_study("r", **kw), tmp_path / "ref", progress=False)
    out = tmp_path / "run"
    out.mkdir()
    (out / "summary.json").write_text('{"old": 1}')
    with pytest.raises(Interrupted):
        run_case(make_study("r", **kw), out, progress=False, stop_after_steps=7)
    assert (out / "checkpoint.npz").exists()
    assert json.loads((out / "summary.json").read_text()) == {"old": 1}
    res = run_case(make_study("r", **kw), out, progress=False)
    assert not (out / "checkpoint.npz").exists()
    for k in ("thickness_change_pct", "diameter_change_pct", "platen_force_N", "time_steps", "newton_iterations"):
        assert res[k] == pytest.approx(ref[k], rel=1e-10), k
    assert (out / "fields.pvd").exists() and len(list((out / "fields").glob("*.vtu"))) >= 3
    # a checkpoint from a different study is not used
    with pytest.raises(Interrupted):
        run_case(make_study("r", **kw), out, progress=False, stop_after_steps=3)
    kw2 = dict(kw, load=[{"pressure_MPa": 6.0, "ramp_s": 0.5, "hold_s": 5.0}])
    other = run_case(make_study("r", **kw2), out, progress=False)
    assert other["platen_force_N"] == pytest.approx(6.0 * math.pi * 7.5 ** 2, rel=1e-9)


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
