"""Rim contact (fem/models/rim_contact.py): no node of the free surface passes through a platen in
the Fig. 4 cases (literature creep law, 60 s holds, axisymmetric, 0.125 mm mesh), the gap of every
free-surface node checked after every step; without rim contact the same cases do penetrate (the
check can fail). Units: mm, MPa, s."""
import numpy as np
import pytest

from fem.models.axisym import AxisymDiscModel
import csv
from fem.stepping.run import run_case
from fem.study import parse_study

# penetration allowed: the active-set tolerance (1e-6 of the 0.5 mm thickness) with round-off
GAP_TOL_MM = 1e-6 * 0.5 * 1.01


def _fig4(load, friction):
    return {"geometry": {"model": "axisymmetric", "diameter_mm": 15.0, "thickness_mm": 0.5, "mesh_size_mm": 0.125,
                         "rim_refinement": 4.0, "rim_zone_mm": 0.5},
            "li": {"youngs_modulus_MPa": 7820.0, "poisson_ratio": 0.381, "creep_A": 7.7e-3, "creep_n": 6.56,
                   "temperature_K": 299.0},
            "platen": friction, "load": load, "output": {"fields": False}}


SEQ = [{"pressure_MPa": p, "ramp_s": 1.0, "hold_s": 60.0} for p in (5.19, 10.0, 17.79)]
CASES = {
    # one fresh sample per pressure, the highest of the Fig. 4 sweep (studies/fig4_bare_li.toml)
    "fresh_30MPa_mu0.2": _fig4([{"pressure_MPa": 30.0, "ramp_s": 1.0, "hold_s": 60.0}],
                               {"friction": "coulomb", "mu": 0.2}),
    # sequential holds as the demo (studies/demo_bare_li.toml), Coulomb and the Tresca cap
    "sequential_mu0.2": _fig4(SEQ, {"friction": "coulomb", "mu": 0.2}),
    "sequential_tresca_m0.5": _fig4(SEQ, {"friction": "coulomb", "mu": 0.2, "tresca_m": 0.5}),
}


class Penetrated(Exception):
    """Raised by a patched commit once a rim node is more than 1 um through the platen: the run that
    shows that the check can fail stops there (the rest of it would show nothing more)."""


def _gaps(history):
    with open(history) as f:
        rows = [r for r in csv.DictReader(line for line in f if not line.startswith("#"))]
    rows = [{k: float(r[k]) for k in ("min_rim_gap_mm", "rim_contact_nodes")} for r in rows]
    return np.array([r["min_rim_gap_mm"] for r in rows]), np.array([r["rim_contact_nodes"] for r in rows])


@pytest.mark.parametrize("name", sorted(CASES))
def test_no_rim_node_passes_a_platen(tmp_path, name):
    """After every step the gap of every free-surface node to the platen plane is >= -1e-6 of the
    thickness; the rim does reach the platen in these cases (nodes are held on it)."""
    s = run_case(parse_study(CASES[name], name=name), tmp_path / name, progress=False)
    gaps, held = _gaps(tmp_path / name / "history.csv")
    assert gaps.min() >= -GAP_TOL_MM, gaps.min()
    assert held.max() >= 1, "the rim never reached the platen: the check would be empty"
    assert s["rim_contact"]["min_gap_mm"] >= -GAP_TOL_MM


def test_without_rim_contact_the_rim_penetrates(tmp_path, monkeypatch):
    """The check can fail: with rim contact switched off the rim of the 30 MPa case passes through
    the platen by more than 1 um."""
    monkeypatch.setattr(AxisymDiscModel, "rim_marker", None)
    from fem.models.base import DiscModel
    seen = []
    orig = DiscModel.commit_state

    def commit(self, rate=None):   # the penetration of the side nodes, measured independently
        from dolfinx import fem as dfem
        from meshes.common import RIM
        zd = dfem.locate_dofs_topological(self.W.sub(0).sub(1), 1, self.facet_tags.find(RIM))
        z = self.w.x.array[zd]
        node_z = {int(d): i for i, d in enumerate(self.node_dofs[:, 1])}
        Z = self.node_coords[[node_z[int(d)] for d in zd], 1]
        seen.append(float(np.max(Z + z - (self.geo.height_mm - self.delta))))
        if seen[-1] > 1e-3:
            raise Penetrated(seen[-1])
        return orig(self, rate)

    monkeypatch.setattr(DiscModel, "commit_state", commit)
    name = "fresh_30MPa_mu0.2"
    with pytest.raises(Penetrated):   # a run without 1 um of penetration ends normally and fails here
        run_case(parse_study(CASES[name], name=name), tmp_path / name, progress=False)


CASE_3D = {"geometry": {"model": "3d", "diameter_mm": 3.0, "thickness_mm": 0.5, "mesh_size_mm": 0.25, "layers": 2},
           "li": {"youngs_modulus_MPa": 7810.0, "poisson_ratio": 0.38, "temperature_K": 298.0, "law": "anand"},
           "platen": {"friction": "coulomb", "mu": 0.5},
           "load": [{"pressure_MPa": 17.79, "ramp_s": 1.0, "hold_s": 0.2}], "output": {"fields": False}}


def test_3d_rim_is_held_on_the_platen(tmp_path, monkeypatch):
    """3D quarter disc (3 mm, Anand law, mu 0.5, 17.79 MPa): the rim reaches the platen during the ramp
    (from ~29 % thinning), and no free-surface node passes it; with rim contact off it does."""
    from fem.models.solid3d import Disc3DModel
    run_case(parse_study(CASE_3D, name="r3d"), tmp_path / "on", progress=False)
    gaps, held = _gaps(tmp_path / "on" / "history.csv")
    assert held.max() >= 1 and gaps.min() >= -GAP_TOL_MM, (held.max(), gaps.min())
    # the same on 2 MPI processes (the active set and its release test are collective)
    from fem.verification.cases import mpiexec, run_cli
    from fem.workflows.sweep import to_toml
    if mpiexec() is not None:
        (tmp_path / "r3d.toml").write_text(to_toml(CASE_3D))
        gaps2, held2 = _gaps(run_cli(tmp_path / "r3d.toml", tmp_path / "n2", processes=2) / "history.csv")
        assert np.array_equal(held2, held) and np.allclose(gaps2, gaps, rtol=1e-6, atol=1e-9)
    import fem.models.rim_contact as rc
    seen = []
    orig = Disc3DModel.commit_state

    def commit(self, rate=None):   # penetration of the candidates, measured with contact switched off
        seen.append(float(rc.penetration_mm(self).max(initial=-1.0)))
        if seen[-1] > 1e-3:
            raise Penetrated(seen[-1])
        return orig(self, rate)

    monkeypatch.setattr(rc, "updated_set", lambda model: model.rim_active.copy())   # never add a node
    monkeypatch.setattr(Disc3DModel, "commit_state", commit)
    with pytest.raises(Penetrated):
        run_case(parse_study(CASE_3D, name="r3d"), tmp_path / "off", progress=False)
