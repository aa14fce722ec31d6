"""3D field output (fem/stepping/outputs.py write_fields_vtk) under MPI: process 0 gathers the owned parts and
writes the same VTU/PVD files as a serial run (coarse bare-Li quarter disc, few steps).

Units: mm, N, MPa, s.
"""
import re

import numpy as np
import pytest

from conftest import BASE_3D_TOML, mpiexec, run_cli


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
    from fem.workflows.sweep import to_toml
    from test_composite import _study
    d = _study("cmp", load=[{"pressure_MPa": 5.19, "ramp_s": 0.0, "hold_s": 0.05}], output={"fields": True},
               as_dict=True)
    a = _serial_vs_two_processes(tmp_path, to_toml(d), phases=True)
    assert set(np.unique(a.cell_data["material_id"][0])) == {1, 2, 3, 4, 5}
    p = a.point_data["hydrostatic_pressure_MPa"]
    assert p.max() > 0.0   # compression (the field is -p, positive in compression)


def _serial_vs_two_processes(tmp_path, toml, phases=False):
    """Run the study serially and on 2 processes; compare the last field files (and with phases the
    per-phase summary); return the serial mesh."""
    import json
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
