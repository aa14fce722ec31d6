"""3D mesh builders: bare-Li quarter disc (meshes.disc_3d) and G-LiCFC composite (meshes.composite).

Coarse and fast: the composite is checked on 5 mm quarter discs (same areal loadings as the paper's
15 mm disc); the full default quarter disc is checked through the analytic volume solve only."""
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import ufl
from mpi4py import MPI

import dolfinx
from meshes import composite as C
from meshes import disc_3d as D


def _assemble(form, mesh):
    return mesh.comm.allreduce(dolfinx.fem.assemble_scalar(dolfinx.fem.form(form)), op=MPI.SUM)


def _tags(tags, comm):
    return set(np.unique(np.concatenate(comm.allgather(np.unique(tags.values)))).tolist())


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("mesh3d")


# ---- bare Li disc ------------------------------------------------------------------------------
DISC = D.Disc3DGeometry(mesh_size_mm=0.4, layers=2)


def test_disc3d_volume_and_tags(cache):
    mesh, ct, ft = D.load_mesh(DISC, cache_dir=cache)
    R, H = DISC.radius_mm, DISC.height_mm
    assert mesh.geometry.dim == 3 and mesh.topology.cell_name() == "tetrahedron"
    vol = _assemble(1.0 * ufl.dx(domain=mesh), mesh)
    assert vol == pytest.approx(math.pi * R ** 2 * H / 4, rel=1e-3)
    assert _tags(ct, mesh.comm) == {D.LI}
    assert _tags(ft, mesh.comm) == {D.BOTTOM, D.TOP, D.RIM, D.SYM_X, D.SYM_Y}
    ds = ufl.Measure("ds", domain=mesh, subdomain_data=ft)
    area = {k: _assemble(1.0 * ds(k), mesh) for k in (D.BOTTOM, D.TOP, D.RIM, D.SYM_X, D.SYM_Y)}
    assert area[D.TOP] == pytest.approx(math.pi * R ** 2 / 4, rel=1e-3)
    assert area[D.BOTTOM] == pytest.approx(area[D.TOP], rel=1e-12)
    assert area[D.SYM_X] == pytest.approx(R * H, rel=1e-9)
    assert area[D.SYM_Y] == pytest.approx(R * H, rel=1e-9)
    assert area[D.RIM] == pytest.approx(math.pi * R * H / 2, rel=1e-3)
    z = mesh.geometry.x[:, 2]
    assert z.min() >= -1e-12 and z.max() <= H + 1e-12


def test_disc3d_layers_and_full_disc(tmp_path):
    g = D.Disc3DGeometry(use_symmetry=False, layers=4, platen_refinement=4, platen_zone_mm=0.05)
    dz = g.layer_heights()
    assert sum(dz) == pytest.approx(g.height_mm)
    fine = g.height_mm / g.layers / g.platen_refinement  # the platen zone layers are at most this thick
    assert dz[0] <= fine + 1e-12 and dz[-1] <= fine + 1e-12 and max(dz) > 3 * fine
    assert sum(dz[:2]) == pytest.approx(0.05)
    full = D.Disc3DGeometry(quarter=False, mesh_size_mm=1.0, layers=1, rim_refinement=2.0)
    rep = D.build_msh(full, tmp_path / "full.msh")
    assert rep["n_tets"] > 0 and (tmp_path / "full.msh").exists()


@pytest.mark.parametrize("kwargs, field", [
    ({"mesh_size_mm": 0.0}, "mesh_size_mm"),
    ({"thickness_mm": -0.5}, "thickness_mm"),
    ({"layers": 0}, "layers"),
    ({"rim_refinement": 0.5}, "rim_refinement"),
    ({"platen_refinement": 2.0, "platen_zone_mm": 0.3}, "platen_zone_mm"),
])
def test_disc3d_bad_input(kwargs, field):
    with pytest.raises(D.GeometryError) as e:
        D.Disc3DGeometry(**kwargs)
    assert field in str(e.value) and "\n" not in str(e.value)


# ---- composite ---------------------------------------------------------------------------------
SETS = {
    "defaults_5mm": {"diameter_mm": 5.0},
    "fine_weave_more_li": {"diameter_mm": 5.0, "tow_pitch_mm": 0.8, "tow_width_mm": 0.55, "fiber_volume_fraction": 0.5,
                           "void_fraction": 0.03, "li_mass_mg": 25.0},
    "width_solved_symmetric": {"diameter_mm": 5.0, "tow_width_mm": None, "tow_height_mm": 0.1, "gpe_mass_mg": 20.0,
                               "void_fraction": 0.0, "use_symmetry": True},
}


def test_composite_default_derivation():
    g = C.CompositeGeometry()
    assert C.GPE_DENSITY == pytest.approx(17.0 / (5 / 1.77 + 5 / 1.33 + 7 / 1.52))
    t = C.target_volumes(g)
    A = math.pi * 7.5 ** 2 / 4
    assert t["fibre"] == pytest.approx(21.6 / 1.78 / 4)
    assert t["carbon"] == pytest.approx(t["fibre"] / 0.6)
    assert t["li"] + t["li_in_tows"] == pytest.approx(17.3 / 0.534 / 4)
    assert t["gpe"] == pytest.approx(27.8 / C.GPE_DENSITY / 4)
    assert t["void"] / (t["carbon"] + t["li"] + t["void"]) == pytest.approx(0.02)
    w, h, hist = C.solve_tow_dimension(g)
    d = g.derived(w, h)
    assert w == 0.75 and 0.05 < h < 0.15 and abs(hist[-1]["rel_error"]) < 1e-6
    assert d["cloth_thickness_mm"] < d["li_region_thickness_mm"] - 2 * g.tow_gap_mm
    assert d["li_region_thickness_mm"] * A == pytest.approx(t["carbon"] + t["li"] + t["void"])
    assert set(C.DEFAULT_SOURCES) <= {f for f in g.__dataclass_fields__}


@pytest.mark.parametrize("name", list(SETS))
def test_composite_volumes_within_2_percent(name):
    g = C.CompositeGeometry(**SETS[name])
    rep = C.geometry_report(g)
    assert rep["max_rel_error"] < 0.02, rep["rel_error"]
    for k, v in rep["volume_fractions"].items():
        assert abs(v["achieved"] - v["target"]) <= 0.02 * max(v["target"], 1e-3), (k, v)
    assert abs(rep["box_volume_check"]) < 1e-2
    tgt = C.target_volumes(g)
    assert rep["achieved_volumes_mm3"]["carbon"] == pytest.approx(tgt["carbon"], rel=1e-3)


def test_composite_coarse_mesh_loads(cache):
    g = C.CompositeGeometry(diameter_mm=5.0, mesh_size_mm=0.2)
    mesh, ct, ft, rep = C.load_mesh(g, cache_dir=cache)
    assert (cache / f"composite_{g.key()}.json").exists()
    assert json.loads((cache / f"composite_{g.key()}.json").read_text())["key"] == g.key()
    assert _tags(ct, mesh.comm) == {C.LI, C.CARBON_WARP, C.GPE, C.VOID, C.CARBON_WEFT}
    assert _tags(ft, mesh.comm) == {C.BOTTOM, C.TOP, C.RIM, C.SYM_X, C.SYM_Y, C.VOID_SURFACE}
    assert rep["n_tets"] == mesh.topology.index_map(3).size_global < 60000
    s = rep["solved"]
    vol = _assemble(1.0 * ufl.dx(domain=mesh), mesh)
    assert vol == pytest.approx(math.pi * g.radius_mm ** 2 / 4 * (s["z_top_mm"] - s["z_bottom_mm"]), rel=5e-3)
    dx = ufl.Measure("dx", domain=mesh, subdomain_data=ct)
    v_carbon = _assemble(1.0 * dx(C.CARBON_WARP) + 1.0 * dx(C.CARBON_WEFT), mesh)
    assert v_carbon == pytest.approx(rep["mesh_volumes_mm3"]["carbon"], rel=1e-9)
    # the fibre direction of weft tows points along y, tilted by the crimp
    V = dolfinx.fem.functionspace(mesh, ("DG", 0, (3,)))
    t = dolfinx.fem.Function(V)
    cells = ct.find(C.CARBON_WEFT)
    t.interpolate(C.tangent_function(rep, C.CARBON_WEFT), cells0=cells)
    tv = t.x.array.reshape(-1, 3)[cells]
    assert np.allclose(np.linalg.norm(tv, axis=1), 1.0) and np.all(tv[:, 1] > 0.9) and np.allclose(tv[:, 0], 0.0)


@pytest.mark.skipif(shutil.which("mpiexec", path=str(Path(sys.executable).parent)) is None, reason="no mpiexec")
def test_meshes_load_under_mpi(cache):
    """Both builders' meshes load distributed over 2 ranks (built here on rank 0 if not cached)."""
    code = f"""
import dolfinx_solver
from mpi4py import MPI
from meshes import composite as C, disc_3d as D
m, ct, ft = D.load_mesh(D.Disc3DGeometry(mesh_size_mm=0.4, layers=2), cache_dir={str(cache)!r})
mc, ctc, ftc, rep = C.load_mesh(C.CompositeGeometry(diameter_mm=5.0, mesh_size_mm=0.2), cache_dir={str(cache)!r})
n = [x.topology.index_map(3).size_local for x in (m, mc)]
n_all = MPI.COMM_WORLD.allgather(n)
if MPI.COMM_WORLD.rank == 0:
    assert all(k[0] > 0 and k[1] > 0 for k in n_all), n_all
    assert sum(k[1] for k in n_all) == rep["n_tets"], (n_all, rep["n_tets"])
    print("OK", n_all)
"""
    mpiexec = str(Path(sys.executable).parent / "mpiexec")
    r = subprocess.run([mpiexec, "-n", "2", sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and "OK" in r.stdout, r.stdout + r.stderr


@pytest.mark.parametrize("kwargs, field", [
    ({"tow_width_mm": 1.1}, "tow_width_mm"),                       # tows wider than the pitch
    ({"gpe_thickness_mm": -0.01}, "gpe_thickness_mm"),
    ({"void_fraction": 1.0}, "void_fraction"),
    ({"void_fraction": -0.1}, "void_fraction"),
    ({"void_fraction": 0.3}, "void_fraction"),                     # pores do not fit the windows
    ({"mesh_size_mm": 0.0}, "mesh_size_mm"),
    ({"diameter_mm": -5.0}, "diameter_mm"),
    ({"tow_pitch_mm": 0.0}, "tow_pitch_mm"),
    ({"li_mass_mg": 8.0}, "li_mass_mg"),                           # Li does not fill the cloth
    ({"li_mass_mg": 120.0}, "li_mass_mg"),                         # overlayer beyond li_overlayer_max_mm
    ({"li_mass_mg": 3.0, "void_fraction": 0.0}, "li_mass_mg"),     # less Li than the tows hold
    ({"cfc_mass_mg": 200.0, "li_mass_mg": 200.0}, "cfc_mass_mg"),  # tow height >= width
    ({"fiber_volume_fraction": 0.0}, "fiber_volume_fraction"),
    ({"crimp_amplitude_mm": 0.01}, "crimp_amplitude_mm"),          # crossing tows would overlap
    ({"tow_width_mm": None}, "tow_height_mm"),                     # nothing left to solve from
    ({"diameter_mm": 1.0}, "diameter_mm"),                         # no room for a pore
    ({"diameter_mm": 20.0}, "diameter_mm"),                        # larger than the reference disc
])
def test_composite_bad_input(kwargs, field):
    with pytest.raises(C.GeometryError) as e:
        C.CompositeGeometry(**kwargs)
    msg = str(e.value)
    assert msg.startswith(field) and "\n" not in msg, msg
    assert isinstance(e.value, ValueError)
