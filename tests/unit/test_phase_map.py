"""The phase map of a resolved composite run (fem/workflows/phase_map.py) on synthetic snapshots with
known displacement fields: an affine in-plane spreading gives every phase and both tow families the
same strain and no sliding; a tow family moved across its fibres gives exactly that sliding."""
import json

import numpy as np
import pytest

from fem.workflows import phase_map as pm


def _box(n=(8, 8, 6), size=(2.0, 2.0, 0.3)):
    """Structured tetrahedral mesh of [0, Lx] x [0, Ly] x [0, Lz] (6 tets per brick) with phases by
    cell centre: gel skins (z < 0.05 or > 0.25), warp tow along x (0.25 < y < 0.75, z < 0.1), weft tow
    along y (1.25 < x < 1.75, z > 0.2), Li elsewhere: a Li film between the tows, so that, as in the
    resolved disc, the two families share no node."""
    nx, ny, nz = n
    xs, ys, zs = (np.linspace(0.0, L, k + 1) for L, k in zip(size, n))
    X, Y, Z = np.meshgrid(xs, ys, zs, indexing="ij")
    pts = np.column_stack([X.ravel(), Y.ravel(), Z.ravel()])
    idx = np.arange(pts.shape[0]).reshape(nx + 1, ny + 1, nz + 1)
    tets = []
    for i in range(nx):
        for j in range(ny):
            for k in range(nz):
                v = [idx[i + a, j + b, k + c] for c in (0, 1) for b in (0, 1) for a in (0, 1)]
                for t in ((0, 1, 3, 7), (0, 1, 5, 7), (0, 2, 3, 7), (0, 2, 6, 7), (0, 4, 5, 7), (0, 4, 6, 7)):
                    tets.append([v[q] for q in t])
    tets = np.array(tets)
    cen = pts[tets].mean(axis=1)
    mat = np.ones(len(tets), int)
    mat[(cen[:, 1] > 0.25) & (cen[:, 1] < 0.75) & (cen[:, 2] < 0.1)] = 2
    mat[(cen[:, 0] > 1.25) & (cen[:, 0] < 1.75) & (cen[:, 2] > 0.2)] = 5
    mat[(cen[:, 2] < 0.05) | (cen[:, 2] > 0.25)] = 3
    return pts, tets, mat, cen


def test_affine_spreading_gives_one_strain_and_no_sliding():
    pts, tets, mat, cen = _box()
    e = 0.013
    u = np.column_stack([e * pts[:, 0], e * pts[:, 1], -2.0 * e * pts[:, 2]])
    res = pm.phase_map(pts, tets, mat, cen[:, 2], u, n_bands=4, n_rings=3)
    total = sum(p["volume_mm3"] for p in res["phases"].values())
    assert total == pytest.approx(2.0 * 2.0 * 0.3, rel=1e-12)
    for p in res["phases"].values():
        assert p["radial_strain_pct"] == pytest.approx(100 * e, rel=1e-12)
    for f in res["tow_families"].values():
        assert f["along_pct"] == pytest.approx(100 * e, rel=1e-12)
        assert f["across_pct"] == pytest.approx(100 * e, rel=1e-12)
        assert abs(f["sliding_pct"]) < 1e-12
    # creep = cell height: each band's mean lies inside its band, the bands hold all the Li
    li_vol = res["phases"]["Li"]["volume_mm3"]
    assert sum(b["volume_mm3"] for b in res["li_creep_by_height"]) == pytest.approx(li_vol, rel=1e-12)
    assert sum(r["volume_mm3"] for r in res["li_creep_by_radius"]) == pytest.approx(li_vol, rel=1e-12)
    for b in res["li_creep_by_height"]:
        if b["volume_mm3"] > 0:
            assert b["z_mm"][0] - 1e-12 <= b["mean_creep_strain"] <= b["z_mm"][1] + 1e-12


def test_bonded_crossing_cells_are_a_phase_of_their_own():
    """Cells tagged 6 (meshes/common.py CROSSING, [crossing] law = "bonded") are mapped as "bonded
    crossings": their volume leaves the Li's, and they follow the affine field like every phase."""
    pts, tets, mat, cen = _box()
    film = (mat == 1) & (cen[:, 2] > 0.1) & (cen[:, 2] < 0.2) & (cen[:, 0] > 1.25) & (cen[:, 0] < 1.75)
    li_before = pm.phase_map(pts, tets, mat, cen[:, 2], np.zeros_like(pts))["phases"]["Li"]["volume_mm3"]
    mat = mat.copy()
    mat[film] = 6
    e = 0.01
    res = pm.phase_map(pts, tets, mat, cen[:, 2], np.column_stack([e * pts[:, 0], e * pts[:, 1], 0 * pts[:, 2]]))
    bonded = res["phases"]["bonded crossings"]
    assert bonded["volume_mm3"] > 0.0
    assert bonded["volume_mm3"] + res["phases"]["Li"]["volume_mm3"] == pytest.approx(li_before, rel=1e-12)
    assert bonded["radial_strain_pct"] == pytest.approx(100 * e, rel=1e-12)


def test_tow_family_moved_across_its_fibres_is_sliding():
    pts, tets, mat, cen = _box()
    e, delta = 0.004, 0.03
    u = np.column_stack([e * pts[:, 0], e * pts[:, 1], np.zeros(len(pts))])
    weft = np.unique(tets[mat == 5])
    u[weft, 0] += delta * pts[weft, 0]            # the weft tow (fibres along y) carried along x
    res = pm.phase_map(pts, tets, mat, np.zeros(len(tets)), u)
    weft_f, warp_f = res["tow_families"]["weft tows"], res["tow_families"]["warp tows"]
    assert weft_f["along_pct"] == pytest.approx(100 * e, rel=1e-12)
    assert weft_f["across_pct"] == pytest.approx(100 * (e + delta), rel=1e-12)
    assert weft_f["sliding_pct"] == pytest.approx(100 * delta, rel=1e-10)
    assert abs(warp_f["sliding_pct"]) < 1e-12      # the families share no node (Li film between)
    assert res["phases"]["weft tows"]["radial_strain_pct"] > 100 * e


def _write_run(tmp_path, pts, cells, cell_type, mat, creep, u):
    import meshio
    (tmp_path / "fields").mkdir()
    for k, t in enumerate((0.0, 61.0)):
        meshio.write(tmp_path / "fields" / f"step_{k:04d}.vtu",
                     meshio.Mesh(pts, [(cell_type, cells)], point_data={"displacement": u * (k > 0)},
                                 cell_data={"material_id": [mat], "equivalent_creep_strain": [creep]}))
    entries = "\n".join(f'    <DataSet timestep="{t}" group="" part="0" file="fields/step_{k:04d}.vtu"/>'
                        for k, t in enumerate((0.0, 61.0)))
    (tmp_path / "fields.pvd").write_text('<?xml version="1.0"?>\n<VTKFile type="Collection" version="0.1">\n'
                                         f"  <Collection>\n{entries}\n  </Collection>\n</VTKFile>\n")


def test_cli_maps_the_last_snapshot_and_writes_both_files(tmp_path, capsys):
    pts, tets, mat, cen = _box(n=(4, 4, 3))
    u = np.column_stack([0.02 * pts[:, 0], 0.02 * pts[:, 1], np.zeros(len(pts))])
    _write_run(tmp_path, pts, tets, "tetra", mat, cen[:, 2], u)
    assert pm.main([str(tmp_path)]) == 0
    res = json.loads((tmp_path / "phase_map.json").read_text())
    assert res["time_s"] == 61.0 and res["snapshot"].endswith("step_0001.vtu")
    assert res["phases"]["Li"]["radial_strain_pct"] == pytest.approx(2.0, rel=1e-9)   # the last, not the first
    assert "| warp tows |" in (tmp_path / "phase_map.md").read_text()


def test_bad_run_folders_are_one_line_errors(tmp_path, capsys):
    assert pm.main([str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: RUN = ") and "fields.pvd" in err and err.count("\n") == 1
    # an axisymmetric-like snapshot (triangles, one material): refused with a one-line error
    tri_pts = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    run = tmp_path / "axisym"
    run.mkdir()
    _write_run(run, tri_pts, np.array([[0, 1, 2]]), "triangle", np.array([1]), np.array([0.1]), np.zeros((3, 3)))
    assert pm.main([str(run)]) == 2
    err = capsys.readouterr().err
    assert "not a 3D composite snapshot" in err and err.count("\n") == 1
    # a bare-Li 3D snapshot (no tows): refused
    pts, tets, mat, cen = _box(n=(2, 2, 2))
    run = tmp_path / "bare"
    run.mkdir()
    _write_run(run, pts, tets, "tetra", np.ones(len(tets), int), cen[:, 2], np.zeros_like(pts))
    assert pm.main([str(run)]) == 2
    assert "not a resolved composite run" in capsys.readouterr().err
