"""Composite phases: the transversely isotropic tow law against its 6x6 stiffness, the gel and
pore laws against closed forms, and the multi-material 3D model (see also tests/test_model3d.py)."""
import dolfinx_solver  # noqa: F401
import numpy as np
import pytest
import ufl
from dolfinx import fem, mesh as dmesh
from mpi4py import MPI

from fem.physics.laws import GelLaw, SoftVoidLaw, TowLaw
from fem.physics.materials import GelNeoHookean, SoftVoid, TowElastic

VOIGT = [(0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1)]


@pytest.fixture(scope="module")
def one_cell():
    return dmesh.create_box(MPI.COMM_SELF, [[0, 0, 0], [1, 1, 1]], [1, 1, 1], dmesh.CellType.tetrahedron)


def _eval(msh, expr):
    pts = np.array([[0.25, 0.25, 0.25]])
    return fem.Expression(expr, pts).eval(msh, np.array([0], dtype=np.int32)).reshape(expr.ufl_shape)


def _rotation(a):
    a = np.asarray(a, float) / np.linalg.norm(a)
    t = np.cross(a, [0.3, 0.9, 0.1])
    t /= np.linalg.norm(t)
    return np.array([a, t, np.cross(a, t)])   # rows: local axes 1 (fibre), 2, 3 in global coordinates


@pytest.mark.parametrize("a", [(1.0, 0.0, 0.0), (0.3, -0.5, 0.8)])
def test_tow_law_matches_6x6_stiffness(one_cell, a):
    """Small strain: sigma = C : eps, with C the 6x6 stiffness rotated to the fibre direction a."""
    mat = TowElastic()
    C6 = mat.stiffness()
    Q = _rotation(a)
    rng = np.random.default_rng(1)
    for _ in range(3):
        e_loc = rng.normal(size=6) * 1e-7       # local strain, engineering shear
        eps_loc = np.zeros((3, 3))
        for k, (i, j) in enumerate(VOIGT):
            eps_loc[i, j] = eps_loc[j, i] = e_loc[k] if i == j else 0.5 * e_loc[k]
        s_loc = C6 @ e_loc
        sig_loc = np.zeros((3, 3))
        for k, (i, j) in enumerate(VOIGT):
            sig_loc[i, j] = sig_loc[j, i] = s_loc[k]
        eps = Q.T @ eps_loc @ Q
        F = ufl.as_matrix((np.eye(3) + eps).tolist())
        law = TowLaw(one_cell, mat, F, ufl.as_vector(list(Q[0])))
        sig = _eval(one_cell, law.sigma)
        ref = Q.T @ sig_loc @ Q
        assert np.abs(sig - ref).max() <= 1e-6 * np.abs(ref).max()
        # fibre stress = a . sigma a
        assert abs(_eval(one_cell, law.fibre_stress) - sig_loc[0, 0]) <= 1e-6 * np.abs(ref).max()


def test_tow_engineering_constants(one_cell):
    """Uniaxial stress along and across the fibre gives E_L and E_T (compliance of the 6x6)."""
    mat = TowElastic()
    S = np.linalg.inv(mat.stiffness())
    assert S[0, 0] == pytest.approx(1 / mat.E_L_MPa, rel=1e-12)
    assert S[1, 1] == pytest.approx(1 / mat.E_T_MPa, rel=1e-12)
    assert S[5, 5] == pytest.approx(1 / mat.G_LT_MPa, rel=1e-12)
    assert -S[0, 1] / S[0, 0] == pytest.approx(mat.nu_LT, rel=1e-12)
    # a pure rotation gives no stress (frame indifference of the St Venant-Kirchhoff form)
    c, s = np.cos(0.7), np.sin(0.7)
    Rm = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1.0]])
    law = TowLaw(one_cell, mat, ufl.as_matrix(Rm.tolist()), ufl.as_vector([1.0, 0.0, 0.0]))
    assert np.abs(_eval(one_cell, law.sigma)).max() < 1e-9


def test_gel_and_void_laws(one_cell):
    """Gel: simple shear gives sigma_xy = mu * gamma (neo-Hookean, exact); pressure field passes through.
    Pore: hydrostatic stretch J gives sigma = lambda ln J / J I (compressible neo-Hookean, mu (J^2/3 - 1)/J)."""
    g = GelNeoHookean(shear_modulus_MPa=1.5, bulk_modulus_MPa=100.0)
    gamma = 0.3
    F = ufl.as_matrix([[1.0, gamma, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    p = fem.Constant(one_cell, -2.0)
    law = GelLaw(one_cell, g, F, p)
    sig = _eval(one_cell, law.sigma)
    assert sig[0, 1] == pytest.approx(1.5 * gamma, rel=1e-12)
    assert np.trace(sig) / 3 == pytest.approx(-2.0, rel=1e-12)
    v = SoftVoid(youngs_modulus_MPa=2.0, poisson_ratio=0.3)
    lam = 2.0 * 0.3 / (1.3 * 0.4)
    mu = 2.0 / 2.6
    st = 0.8
    law = SoftVoidLaw(one_cell, v, ufl.as_matrix((st * np.eye(3)).tolist()))
    J = st ** 3
    assert _eval(one_cell, law.sigma)[0, 0] == pytest.approx((mu * (st * st - 1) + lam * np.log(J)) / J, rel=1e-12)


# ---------------------------------------------------------------------- the multi-material model
import json  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402

import meshio  # noqa: E402

import os  # noqa: E402
from pathlib import Path  # noqa: E402

from fem.workflows.report import write_report  # noqa: E402
from fem.stepping.run import run_case  # noqa: E402
from fem.study import parse_study  # noqa: E402
from fem.workflows.sweep import run_sweep, to_toml  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

# smallest composite that builds quickly: 3 mm quarter disc, ~1.5k tets (~7k dofs)
COARSE = {"model": "composite", "diameter_mm": 3.0, "mesh_size_mm": 0.3}
LI = {"youngs_modulus_MPa": 7820.0, "poisson_ratio": 0.381, "creep_A": 0.955, "creep_n": 6.56,
      "threshold_stress_MPa": 0.28}


def _study(name, li=LI, load=None, platen=None, as_dict=False, **tables):
    d = {"geometry": dict(COARSE), "composite": {"void_fraction": 0.01}, "li": dict(li),
         "platen": platen or {"friction": "frictionless"},
         "load": load or [{"pressure_MPa": 5.19, "ramp_s": 0.0, "hold_s": 1.0}], "output": {"fields": False}}
    for k, v in tables.items():
        d[k] = {**d.get(k, {}), **v}
    return d if as_dict else parse_study(d, name=name)


def test_identical_phases_give_the_homogeneous_elastic_solution(tmp_path):
    """Verification of the multi-material assembly: when every phase has the elastic constants of
    Li (tows isotropic, gel and pores neo-Hookean with mu, K of Li; no creep) a frictionless disc
    compresses homogeneously: thickness change sigma/E, diameter change nu sigma/E (small strain;
    the laws differ only at O(strain^2), 7e-4 relative here). The stress is the force over the
    MESHED area: the faceted rim of this coarse mesh (8 segments per quarter) has 0.6 % less area
    than pi R^2."""
    E, nu = 7820.0, 0.381
    mu, K = E / (2 * (1 + nu)), E / (3 * (1 - 2 * nu))
    st = _study("same", li={**LI, "creep_A": 0.0},
                carbon={"isotropic": True, "E_T_MPa": E, "nu_TT": nu},
                gpe={"shear_modulus_MPa": mu, "bulk_modulus_MPa": K},
                void={"youngs_modulus_MPa": E, "poisson_ratio": nu})
    s = run_case(st, tmp_path / "same", progress=False)
    assert s["platen_force_N"] == pytest.approx(5.19 * np.pi * 1.5 ** 2, rel=1e-6)
    area = sum(p["volume0_mm3"] for k, p in s["phases"].items() if k != "outline") / st.geometry.thickness_mm
    assert area == pytest.approx(np.pi * 1.5 ** 2, rel=1e-2)
    sig = s["platen_force_N"] / area
    assert s["thickness_change_pct"] == pytest.approx(100 * sig / E, rel=3e-3)
    assert s["diameter_change_pct"] == pytest.approx(100 * nu * sig / E, rel=3e-3)
    # every phase carries the same uniaxial stress on average. (Not pointwise: the triangulated
    # cylinder of a Gmsh tet mesh has tilted facets, where the homogeneous state is not traction-free;
    # its pointwise von Mises deviates by up to 5 % in the cells at the rim of this coarse mesh.)
    for name, ph in s["phases"].items():
        if name == "outline":
            continue
        assert ph["mean_von_mises_MPa"] == pytest.approx(sig, rel=1e-2), name


def test_composite_creep_run_with_phase_results(tmp_path):
    """The real phases at 5.19 MPa: the run completes with the platen force on target, reports the
    per-phase results, and writes 3D fields with a material-id cell array."""
    d = _study("cmp", load=[{"pressure_MPa": 5.19, "ramp_s": 0.5, "hold_s": 0.5}],
               platen={"friction": "coulomb", "mu": 0.28}, output={"fields": True}, as_dict=True)
    study = tmp_path / "cmp.toml"
    study.write_text(to_toml(d))
    assert run_sweep(study, jobs=1, root=tmp_path, stream=open(os.devnull, "w")) == 0   # one case: "base"
    s = json.loads((tmp_path / "cmp" / "base" / "summary.json").read_text())
    assert s["final_time_s"] == pytest.approx(1.0)
    assert s["platen_force_N"] == pytest.approx(5.19 * np.pi * 1.5 ** 2, rel=1e-6)
    ph = s["phases"]
    assert set(ph) == {"li", "carbon", "gpe", "void", "outline"}
    # the outline of the element vertices is within the P2 outline, and close to it on this mild run
    assert 0.0 < ph["outline"]["diameter_change_vertices_pct"] <= s["diameter_change_pct"] + 1e-9
    assert ph["outline"]["diameter_change_vertices_pct"] == pytest.approx(s["diameter_change_pct"], rel=0.2)
    assert ph["li"]["max_equivalent_creep_strain"] > 0.0
    assert ph["void"]["void_closure_pct"] > 0.0
    # each u-p phase has its own pressure field, so its volume change is the one its pressure
    # implies, int p/K dV0 / V0 (a shared Li/gel field let them trade volume: 1e-2 pp here)
    for name in ("li", "gpe"):
        assert ph[name]["volume_change_pct"] == pytest.approx(ph[name]["pressure_volume_change_pct"], abs=1e-5), name
    assert ph["li"]["pressure_volume_change_pct"] < 0.0 and ph["gpe"]["pressure_volume_change_pct"] < 0.0
    # the stiff cloth keeps its outline: its rim moves far less than the Li and gel around it
    assert ph["carbon"]["max_radius_change_pct"] < ph["gpe"]["max_radius_change_pct"]
    fr = s["composite"]["volume_fractions"]
    for k, v in fr.items():
        assert v["achieved"] == pytest.approx(v["target"], rel=2e-2), k
    # the report matches the G-LiCFC measurement at 5.19 MPa and renders the 3D disc
    rep = write_report(study, root=tmp_path, measured=ROOT / "studies" / "data" / "fig4_measured.csv")
    text = rep.read_text()
    row = [ln for ln in text.splitlines() if ln.startswith("| g_licfc | 5.19 | base |")]
    assert row and f"{s['diameter_change_pct']:.2f}" in row[0], text
    assert "## Per phase" in text and (tmp_path / "cmp" / "render_3d.png").exists()
    m = meshio.read(sorted((tmp_path / "cmp" / "base" / "fields").glob("*.vtu"))[-1])
    ids = np.unique(m.cell_data["material_id"][0])
    assert set(ids) == {1, 2, 3, 4, 5}
    assert m.point_data["displacement"].shape[1] == 3
    # ParaView (where installed, as in CI) opens the 3D series and finds the material id for Threshold
    if shutil.which("pvpython"):
        from test_paraview import PV_SCRIPT
        script = tmp_path / "check.py"
        script.write_text(PV_SCRIPT)
        p = subprocess.run(["pvpython", "--force-offscreen-rendering", str(script),
                            str(tmp_path / "cmp" / "base" / "fields.pvd")], capture_output=True, text=True, timeout=300)
        line = [x for x in p.stdout.splitlines() if x.startswith("JSON")]
        assert p.returncode == 0 and line, p.stdout + p.stderr
        info = json.loads(line[0][4:])
        assert {"material_id", "equivalent_creep_strain", "von_mises_MPa"} <= set(info["cell_arrays"])
        assert info["cells"] == s["cells"] and info["ranges"]["material_id"] == [1.0, 5.0]
