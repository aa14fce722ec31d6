"""Serial vs MPI: `python -m fem run` under `mpiexec -n 2` gives the serial results (coarse meshes,
few steps): the summary numbers (3D, sticking platen; the iterative solver on 2 processes against
serial MUMPS with Coulomb friction), and the field files that process 0 gathers from the owned parts
(fem/stepping/outputs.py write_fields_vtk) for the bare disc and the composite.

Units: mm, N, MPa, s.
"""
import json
import re

import numpy as np
import pytest

from fem.verification.cases import BASE_3D_TOML, composite_study, mpiexec, run_cli
from fem.workflows.sweep import to_toml


@pytest.mark.skipif(mpiexec() is None, reason="no mpiexec")
def test_mpi_two_processes_give_the_serial_summary(tmp_path):
    """Requirement: `python -m fem run` under `mpiexec -n 2` gives the serial summary numbers to
    1e-6 relative (3D, sticking platen, creep)."""
    toml = BASE_3D_TOML.replace('friction = "coulomb"\nmu = 0.2', 'friction = "sticking"').replace(
        "hold_s = 600.0", "hold_s = 0.2") + "[numerics]\nquadrature_degree = 2\n"
    study = tmp_path / "s.toml"
    study.write_text(toml)
    out = {n: json.loads((run_cli(study, tmp_path / f"n{n}", n) / "summary.json").read_text()) for n in (1, 2)}
    assert out[2]["mpi_processes"] == 2
    assert out[1]["time_steps"] == out[2]["time_steps"]
    for k in ("thickness_change_pct", "diameter_change_pct", "platen_force_N", "max_equivalent_creep_strain"):
        assert out[2][k] == pytest.approx(out[1][k], rel=1e-6, abs=1e-12), k
    assert out[1]["thickness_change_pct"] > 0.0


@pytest.mark.skipif(mpiexec() is None, reason="no mpiexec")
def test_gamg_under_mpi_gives_the_mumps_summary(tmp_path):
    """Requirement: the iterative solver ([numerics] linear_solver = "gamg": FGMRES, Schur field
    split, GAMG with rigid-body near-nullspace) on 2 MPI processes gives the serial MUMPS summary
    to 1e-6 relative (3D, Coulomb platen, creep), and reports its Krylov iterations."""
    toml = BASE_3D_TOML.replace("hold_s = 600.0", "hold_s = 0.2") + "[numerics]\nquadrature_degree = 2\n"
    out = {}
    for solver, n in (("mumps", 1), ("gamg", 2)):
        study = tmp_path / f"{solver}.toml"
        study.write_text(toml + f'linear_solver = "{solver}"\n')
        out[solver] = json.loads((run_cli(study, tmp_path / solver, n) / "summary.json").read_text())
    assert "krylov_iterations" not in out["mumps"]
    k = out["gamg"]["krylov_iterations"]
    assert k["solver"] == "gamg" and 0 < k["per_solve_mean"] <= k["max"]
    assert out["gamg"]["mpi_processes"] == 2 and out["gamg"]["time_steps"] == out["mumps"]["time_steps"]
    for key in ("thickness_change_pct", "diameter_change_pct", "platen_force_N", "max_equivalent_creep_strain"):
        assert out["gamg"][key] == pytest.approx(out["mumps"][key], rel=1e-6, abs=1e-12), key
    assert out["mumps"]["thickness_change_pct"] > 0.0


def _order(keys):
    """Row order that sorts the rows of keys (n, 3) lexicographically."""
    return np.lexsort(np.asarray(keys).T[::-1])


@pytest.mark.skipif(mpiexec() is None, reason="no mpiexec")
def test_fields_on_two_processes_match_serial(tmp_path):
    """Requirement: `python -m fem run` with [output] fields = true under `mpiexec -n 2` writes
    fields.pvd + fields/*.vtu with the serial mesh and values: same points and cells, displacement
    at each point to 1e-6 relative, the cell arrays to 1e-6, the same time steps."""
    toml = BASE_3D_TOML.replace('friction = "coulomb"\nmu = 0.2', 'friction = "sticking"').replace(
        "ramp_s = 1.0", "ramp_s = 0.0").replace(
        "hold_s = 600.0", "hold_s = 0.05") + "[numerics]\nquadrature_degree = 2\n[output]\nfields = true\n"
    a = _serial_vs_two_processes(tmp_path, toml)
    assert np.all(a.cell_data["material_id"][0] == 1)
    assert a.cell_data["von_mises_MPa"][0].max() > 0.0


@pytest.mark.skipif(mpiexec() is None, reason="no mpiexec")
def test_composite_fields_and_phase_pressures_on_two_processes(tmp_path):
    """The composite (coarse 3 mm quarter disc: five phases, separate Li and gel pressure fields,
    fixed pressure dofs outside each phase, ghosts on the phase interfaces) under `mpiexec -n 2`:
    the same fields and per-phase results as the serial run (1e-6)."""
    d = composite_study("cmp", load=[{"pressure_MPa": 5.19, "ramp_s": 0.0, "hold_s": 0.05}], output={"fields": True},
               as_dict=True)
    a = _serial_vs_two_processes(tmp_path, to_toml(d), phases=True)
    assert set(np.unique(a.cell_data["material_id"][0])) == {1, 2, 3, 4, 5}
    p = a.point_data["hydrostatic_pressure_MPa"]
    assert p.max() > 0.0   # compression (the field is -p, positive in compression)


def _serial_vs_two_processes(tmp_path, toml, phases=False):
    """Run the study serially and on 2 processes; compare the last field files (and with phases the
    per-phase summary); return the serial mesh."""
    meshio = pytest.importorskip("meshio")
    study = tmp_path / "s.toml"
    study.write_text(toml)
    out = {}
    for n in (1, 2):
        d = run_cli(study, tmp_path / f"n{n}", n, timeout=600)
        pvd = (d / "fields.pvd").read_text()
        files = re.findall(r'file="([^"]+)"', pvd)
        assert files and all((d / f).is_file() for f in files)
        assert not list(d.glob(".staging*")) and not list(d.glob(".old*"))
        out[n] = (re.findall(r'timestep="([^"]+)"', pvd), meshio.read(d / files[-1]))
    (t1, a), (t2, b) = out[1], out[2]
    assert len(t1) == len(t2) > 1
    assert np.allclose(np.array(t1, float), np.array(t2, float), rtol=1e-9)
    assert len(a.points) == len(b.points)
    assert len(a.cells) == len(b.cells) == 1 and a.cells[0].type == b.cells[0].type == "tetra"
    assert len(a.cells[0].data) == len(b.cells[0].data)

    # points matched by their (rounded) reference coordinates
    ia, ib = _order(np.round(a.points, 9)), _order(np.round(b.points, 9))
    np.testing.assert_allclose(b.points[ib], a.points[ia], atol=1e-12)
    ua, ub = a.point_data["displacement"][ia], b.point_data["displacement"][ib]
    scale = np.abs(ua).max()
    assert scale > 0.0
    np.testing.assert_allclose(ub, ua, rtol=1e-6, atol=1e-6 * scale)
    pa, pb = a.point_data["hydrostatic_pressure_MPa"][ia], b.point_data["hydrostatic_pressure_MPa"][ib]
    np.testing.assert_allclose(pb, pa, rtol=1e-6, atol=1e-6 * np.abs(pa).max())

    # cells: the same tetrahedra (matched by centroid), carrying the same cell values
    ca, cb = a.points[a.cells[0].data].mean(axis=1), b.points[b.cells[0].data].mean(axis=1)
    ja, jb = _order(np.round(ca, 9)), _order(np.round(cb, 9))
    np.testing.assert_allclose(cb[jb], ca[ja], atol=1e-12)
    for k in ("material_id", "von_mises_MPa", "equivalent_creep_strain"):
        va, vb = a.cell_data[k][0], b.cell_data[k][0]
        np.testing.assert_allclose(np.sort(vb), np.sort(va), rtol=1e-6, atol=1e-6 * np.abs(va).max(), err_msg=k)
        np.testing.assert_allclose(vb[jb], va[ja], rtol=1e-6, atol=1e-6 * np.abs(va).max(), err_msg=k)
    if phases:
        sa, sb = (json.loads((tmp_path / f"n{n}" / "summary.json").read_text())["phases"] for n in (1, 2))
        assert set(sa) == set(sb)
        for name in sa:
            for k, v in sa[name].items():
                assert sb[name][k] == pytest.approx(v, rel=1e-6, abs=1e-9), (name, k)
    return a
