"""Creeping flow of the Li in a periodic cell (fem/rve/ply_flow.py, on the creep solver of
fem/rve/creep.py) against the exact power-law plane Poiseuille flow of a Li slab between no-slip
faces, and the locking of that solver without the B-bar Li. Units: mm, MPa, s."""
from pathlib import Path

import pytest
from mpi4py import MPI

from fem.physics.materials import GelNeoHookean, LiCreep, SoftVoid, TowElastic
from fem.rve.config import RveStudy
from fem.rve.creep import RveCreep
from fem.rve.ply_flow import CellFlow, kappa_channel
from meshes.rve import LaminateCell, load_mesh

H = 0.2   # mm


def _slab_flow(h, bbar=True, n=6.56):
    cell = LaminateCell(("li",), (H,), mesh_size_mm=h)
    mesh, ct, _ = load_mesh(cell, MPI.COMM_SELF)
    st = RveStudy("li", cell, {"li": LiCreep(creep_A=7.7e-3, creep_n=n), "gpe": GelNeoHookean(),
                               "carbon": TowElastic(), "void": SoftVoid()})
    rc = RveCreep(mesh, ct, cell.box, st.tag_materials(), st.fibre_direction(), bbar=bbar)
    return CellFlow(rc).steady("x", 10.0)


def test_kappa_channel_closed_form():
    """n = 1: the Newtonian plane Poiseuille flux G H^3 / (12 eta) with eta = 1 / (3 A)."""
    assert kappa_channel(1.0) == pytest.approx(3.0 / 12.0, rel=1e-14)


def test_slab_flow_converges_to_the_power_law_poiseuille_flux():
    """B-bar Li: the flux error shrinks from 18 % (4 P2 elements across) to 3 % (8 across), more
    than 4x per halving; the cross flux is nil. Measured: -18.2 % and -3.0 %."""
    coarse, fine = _slab_flow(0.05), _slab_flow(0.025)
    e_c, e_f = coarse["ratio_to_channel"] - 1.0, fine["ratio_to_channel"] - 1.0
    assert abs(e_f) <= 0.04
    assert abs(e_c) >= 4.0 * abs(e_f)
    assert abs(fine["q_cross_mm_per_s"]) <= 1e-3 * fine["q_mm_per_s"]


def test_without_bbar_the_cell_locks_in_creep_flow():
    """The full integration of the Li's bulk term (four points per P2 tetrahedron, P2-P1disc) locks
    once the Li flows: the flux stays at a third of the exact one (measured -67.8 % at 4 and -67.7 %
    at 8 elements across), which is why the RVE creep tables use the B-bar Li (TABLE_VERSION 3)."""
    locked = _slab_flow(0.05, bbar=False)
    assert locked["ratio_to_channel"] - 1.0 <= -0.5


def test_cli_refuses_bad_input_in_one_line():
    """A study without a cloth, a mesh size, mode, faces or pressure out of range: one line on stderr,
    exit 2, no traceback."""
    import subprocess
    import sys
    for args, field in ((["studies/fig4_bare_li.toml"], "[geometry] model"),
                        (["studies/composite_glicfc_homogenised_creep.toml", "--mesh-size", "5"], "--mesh-size"),
                        (["studies/composite_glicfc_homogenised_creep.toml", "--mode", "drift"], "--mode"),
                        (["studies/composite_glicfc_homogenised_creep.toml", "--faces", "sticky"], "--faces"),
                        (["studies/composite_glicfc_homogenised_creep.toml", "--pressure", "0"], "--pressure")):
        p = subprocess.run([sys.executable, "-m", "fem.rve.ply_flow", *args], capture_output=True, text=True,
                           cwd=Path(__file__).resolve().parents[2], timeout=120)
        assert p.returncode == 2
        assert field in p.stderr and "Traceback" not in p.stderr
        assert len(p.stderr.strip().splitlines()) == 1


def test_slipping_faces_give_the_half_channel_flux():
    """faces = "slip" (fem/rve/periodic.py "periodic_slip"): a laminate Li 0.1 / held carbon 0.05 /
    Li 0.1 mm whose outer faces slide is two half channels, each half of a no-slip channel 0.2 mm
    thick, so kappa = kappa_channel (2 h / H)^(n + 2) exactly (H = 0.25 mm the cell). 4 P2 elements
    across each Li layer (8 across the equivalent channel: -3 % in the slab test above). The same
    laminate with no-slip faces is two full 0.1 mm channels: 2^(n+1) = 190x less flux."""
    from fem.rve.ply_flow import held_tags_for
    n = 6.56
    cell = LaminateCell(("li", "carbon", "li"), (0.1, 0.05, 0.1), mesh_size_mm=0.025)
    mesh, ct, _ = load_mesh(cell, MPI.COMM_SELF)
    st = RveStudy("li", cell, {"li": LiCreep(creep_A=7.7e-3, creep_n=n), "gpe": GelNeoHookean(),
                               "carbon": TowElastic(), "void": SoftVoid()})
    rc = RveCreep(mesh, ct, cell.box, st.tag_materials(), st.fibre_direction(), bbar=True)
    slip = CellFlow(rc, held_tags_for("through", "x"), faces="slip").steady("x", 10.0)
    exact = kappa_channel(n) * (0.2 / 0.25) ** (n + 2.0)
    assert slip["kappa"] == pytest.approx(exact, rel=0.05)
    noslip = CellFlow(rc, held_tags_for("through", "x"), faces="noslip").steady("x", 10.0)
    assert slip["kappa"] > 100.0 * noslip["kappa"]
    with pytest.raises(ValueError, match="faces"):
        CellFlow(rc, faces="sticky")


def test_sliding_mode_carries_the_free_tows_with_the_li():
    """mode "sliding" holds only the tows along the flow: the others move with the Li (their mean
    displacement within 20 % of the Li's) and the Li moves farther than through the held cloth
    ("through": free tows none). Coarse 0.6 mm weave cell, calibrated Li, G 20 MPa/mm held 61 s."""
    from fem.rve.ply_flow import held_tags_for
    from fem.rve.ply_tables import cell_creep_solver
    from meshes.common import CARBON_WARP, CARBON_WEFT
    from meshes.composite import CompositeGeometry
    assert held_tags_for("sliding", "x") == (CARBON_WARP,) and held_tags_for("sliding", "y") == (CARBON_WEFT,)
    mats = {"li": LiCreep(creep_A=1.18565e-7), "gpe": GelNeoHookean(), "carbon": TowElastic(), "void": SoftVoid()}
    rc, _, _ = cell_creep_solver(CompositeGeometry(diameter_mm=15.0, mesh_size_mm=0.3, void_fraction=0.01), mats, 0.6)
    through = CellFlow(rc, held_tags_for("through", "x")).transient("x", 20.0, 61.0, steps=12)["history"][-1]
    sliding = CellFlow(rc, held_tags_for("sliding", "x")).transient("x", 20.0, 61.0, steps=12)["history"][-1]
    assert through["free_tow_displacement_mm"] == 0.0
    assert sliding["free_tow_displacement_mm"] == pytest.approx(sliding["li_displacement_mm"], rel=0.2)
    assert sliding["li_displacement_mm"] > 2.0 * through["li_displacement_mm"] > 0.0
    with pytest.raises(ValueError, match="mode"):
        held_tags_for("drift", "x")
