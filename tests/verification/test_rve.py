"""Periodic RVE (fem/rve, meshes/rve.py; issue 17): exact verification on coarse meshes.

* Laminates (layers normal to z, periodic in x and y, z faces following the macroscopic strain):
  the FE effective stiffness equals the exact layered-medium (Backus) average of
  fem/rve/backus.py to 1e-6 relative, entry by entry, for two and three isotropic phases at a
  1:1e3 stiffness contrast (including the nearly incompressible gel, K/mu = 2000) and for an
  anisotropic (transversely isotropic tow) layer. The exact field is piecewise linear, so every
  conforming mesh and both P1 and P2 must reproduce it to round-off.
* Bounds: on one mesh, x^T C_SUBC x <= x^T C_periodic x <= x^T C_KUBC x for every test strain x
  (the admissible spaces are nested: fem/rve/solve.py), for the laminate and the weave cell.
* The command line: `python -m fem run` writes summary.json with effective_stiffness_MPa (6x6) and
  the mesh size/dofs; bad RVE input gives one line and exit 2.
Units: mm, MPa.
"""
import json
import subprocess
import sys

import numpy as np
import pytest

from fem.cli import main
from fem.rve.backus import isotropic_laminate, isotropic_stiffness, lame, laminate_stiffness, material_stiffness
from fem.study import StudyError, parse_study
from fem.verification.cases import ROOT

LI = {"youngs_modulus_MPa": 7820.0, "poisson_ratio": 0.381}
SOFT = {"youngs_modulus_MPa": 7.82, "poisson_ratio": 0.3}     # 1:1e3 against Li


def laminate(materials, thicknesses, mesh_size=0.1, degree=2, **tables):
    return {"geometry": {"model": "rve", "mesh_size_mm": mesh_size},
            "rve": {"microstructure": "laminate", "layer_materials": list(materials),
                    "layer_thickness_mm": list(thicknesses), "element_degree": degree},
            "li": LI, **tables}


def run(d):
    from fem.rve.run import compute
    return compute(parse_study(d, name="rve_test"))


def rel_entrywise(C, B):
    """max over the entries of |C - B| / |B|, entries with |B| > 1e-12 max|B| (others: / max|B|)."""
    C, B = np.asarray(C), np.asarray(B)
    scale = np.where(np.abs(B) > 1e-12 * np.abs(B).max(), np.abs(B), np.abs(B).max())
    return float((np.abs(C - B) / scale).max())


def test_backus_formulas_agree_and_reduce_to_the_material():
    """The general (anisotropic) Backus average equals the isotropic closed form, and a stack of one
    material is that material; the laminate's zz/yz/xz terms are the Reuss-type and xy the Voigt-type averages."""
    lam, mu, t = [1000.0, 1.0, 50.0], [500.0, 0.3, 20.0], [0.1, 0.25, 0.05]
    Cs = [isotropic_stiffness(a, b) for a, b in zip(lam, mu)]
    B = laminate_stiffness(Cs, t)
    assert np.allclose(B, isotropic_laminate(lam, mu, t), rtol=1e-13, atol=1e-12 * np.abs(B).max())
    f = np.array(t) / sum(t)
    assert B[2, 2] == pytest.approx(1.0 / np.sum(f / (np.array(lam) + 2 * np.array(mu))), rel=1e-13)
    assert B[4, 4] == pytest.approx(1.0 / np.sum(f / np.array(mu)), rel=1e-13)
    assert B[5, 5] == pytest.approx(np.sum(f * np.array(mu)), rel=1e-13)
    C1 = isotropic_stiffness(3.0, 2.0)
    assert np.allclose(laminate_stiffness([C1, C1], [0.2, 0.7]), C1, rtol=1e-14)


@pytest.mark.parametrize("case", ["two_phases_P2", "three_phases_P2", "three_phases_P1", "with_tow_layer"])
def test_laminate_rve_reproduces_the_backus_average(case):
    """Requirement (issue 17): the laminate RVE matches the exact Backus average to 1e-6 relative
    (here entry by entry), for two and three phases of very different stiffness."""
    if case == "two_phases_P2":
        d = laminate(["li", "void"], [0.1, 0.15], mesh_size=0.1, void=SOFT)
    elif case.startswith("three_phases"):
        # Li / gel (mu 1, K 2000: nearly incompressible) / soft: shear moduli 2831 : 1 : 3.0
        d = laminate(["void", "li", "gpe", "li"], [0.05, 0.1, 0.04, 0.06], mesh_size=0.08,
                     degree=1 if case.endswith("P1") else 2, void=SOFT)
    else:
        d = laminate(["li", "carbon", "gpe"], [0.1, 0.08, 0.05], mesh_size=0.1)
    s = run(d)
    C, B = np.array(s["effective_stiffness_MPa"]), np.array(s["backus_stiffness_MPa"])
    err = rel_entrywise(C, B)
    assert err < 1e-6, (err, C, B)
    assert s["backus_rel_error"] < 1e-6
    assert s["mean_strain_error"]["periodic"] < 1e-8
    # the contrast is real: the series (zz) and parallel (xy) terms differ by orders of magnitude
    if case != "with_tow_layer":
        assert B[5, 5] / B[4, 4] > 10.0
    # periodic between KUBC and SUBC (Loewner order, all test strains), strictly for the laminate
    b = s["bounds_check"]
    assert b["min_eig_kubc_minus_periodic_rel"] > -1e-9 and b["min_eig_periodic_minus_subc_rel"] > -1e-9
    K, S = np.array(s["kubc_stiffness_MPa"]), np.array(s["subc_stiffness_MPa"])
    assert np.linalg.eigvalsh(K - C).max() > 1e-3 * np.abs(C).max()   # KUBC is not the laminate answer
    for i in (2, 4, 5):
        assert S[i, i] <= C[i, i] * (1 + 1e-9) and C[i, i] <= K[i, i] * (1 + 1e-9)


def test_laminate_materials_are_the_small_strain_constants_of_the_study():
    """Layer stiffnesses come from the study tables: gel lambda = K - 2 mu/3, Li and pores from E, nu,
    the tow from TowElastic.stiffness() with the fibres along x."""
    st = parse_study(laminate(["li", "gpe", "carbon"], [0.1, 0.1, 0.1], gpe={"shear_modulus_MPa": 2.0,
                                                                             "bulk_modulus_MPa": 100.0}))
    lam, mu = lame(st.materials["gpe"])
    assert (lam, mu) == pytest.approx((100.0 - 4.0 / 3.0, 2.0))
    assert np.allclose(material_stiffness(st.materials["carbon"]), st.materials["carbon"].stiffness())
    E, nu = LI["youngs_modulus_MPa"], LI["poisson_ratio"]
    assert lame(st.materials["li"]) == pytest.approx((E * nu / ((1 + nu) * (1 - 2 * nu)), E / (2 * (1 + nu))))


WEAVE = {"geometry": {"model": "rve", "mesh_size_mm": 0.3}, "rve": {"microstructure": "weave", "element_degree": 2},
         "composite": {"void_fraction": 0.01}}


def test_weave_rve_lies_between_kubc_and_subc():
    """Requirement (issue 17): one plain-weave cell (2 x 2 tow pitches, tows + Li + gel skins + pores)
    on a coarse periodic mesh: C_SUBC <= C_periodic <= C_KUBC in the Loewner order (smallest
    eigenvalues of the differences >= -1e-9 relative), so also for the zz, xz, xy diagonal terms
    and the hydrostatic (bulk-type) energy; the mean strain equals the prescribed one."""
    s = run(WEAVE)
    C, K, S = (np.array(s[k]) for k in ("effective_stiffness_MPa", "kubc_stiffness_MPa", "subc_stiffness_MPa"))
    b = s["bounds_check"]
    assert b["min_eig_kubc_minus_periodic_rel"] > -1e-9, b
    assert b["min_eig_periodic_minus_subc_rel"] > -1e-9, b
    for i in range(6):
        assert S[i, i] <= C[i, i] * (1 + 1e-9) <= K[i, i] * (1 + 2e-9)
    inv = s["invariants"], s["kubc_invariants"], s["subc_invariants"]
    assert inv[2]["bulk_voigt_MPa"] <= inv[0]["bulk_voigt_MPa"] <= inv[1]["bulk_voigt_MPa"]
    assert inv[2]["bulk_reuss_MPa"] <= inv[0]["bulk_reuss_MPa"] <= inv[1]["bulk_reuss_MPa"]
    assert s["mean_strain_error"]["periodic"] < 1e-8 and s["asymmetry_rel"]["periodic"] < 1e-8
    # the bounds are not trivially tight: KUBC stiffens the in-plane shear of the cell
    assert K[5, 5] > C[5, 5] > S[5, 5] > 0
    # the weave is stiff in plane (tows) and soft through the thickness (gel skins in series)
    assert C[0, 0] > 2 * C[2, 2] and abs(C[0, 0] / C[1, 1] - 1) < 0.15
    assert s["mesh"]["periodic_faces"]["x"] > 1 and s["dofs"] > 1000


def test_rve_command_line_writes_the_stiffness_and_refuses_bad_input(tmp_path, capsys):
    d = laminate(["li", "void"], [0.1, 0.1], mesh_size=0.1, degree=1, void=SOFT)
    from fem.workflows.sweep import to_toml
    p = tmp_path / "lam.toml"
    p.write_text(to_toml(d))
    assert main(["validate", str(p)]) == 0
    assert main(["run", str(p), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    s = json.loads((tmp_path / "out" / "summary.json").read_text())
    C = np.array(s["effective_stiffness_MPa"])
    assert C.shape == (6, 6) and s["voigt_order"] == ["xx", "yy", "zz", "yz", "xz", "xy"]
    assert s["dofs"] > 0 and s["mesh"]["cells"] > 0 and s["mesh"]["mesh_size_mm"] == 0.1
    assert s["backus_rel_error"] < 1e-6 and s["fingerprint"] == parse_study(d).fingerprint()
    capsys.readouterr()
    bad = [({"layer_materials": ["li", "steel"]}, "layer_materials"),
           ({"layer_thickness_mm": [0.1]}, "layer_thickness_mm"),
           ({"layer_thickness_mm": [0.1, -0.2]}, "layer_thickness_mm"),
           ({"layer_materials": "li"}, "layer_materials"),
           ({"microstructure": "twill"}, "microstructure"),
           ({"element_degree": 3}, "element_degree")]
    for change, key in bad:
        q = tmp_path / "bad.toml"
        q.write_text(to_toml({**d, "rve": {**d["rve"], **change}}))
        assert main(["validate", str(q)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "[rve]" in err[0] and key in err[0], err
    with pytest.raises(StudyError, match=r"\[composite\]"):
        parse_study({**d, "composite": {"void_fraction": 0.0}})
    with pytest.raises(StudyError, match=r"\[rve\]"):       # [rve] with a disc model
        parse_study({"geometry": {"model": "axisymmetric"}, "rve": {}})
    q = tmp_path / "bad.toml"
    q.write_text(to_toml({**d, "rve": {**d["rve"], "layer_materials": ["li", "wood"]}}))
    r = subprocess.run([sys.executable, "-m", "fem", "run", str(q), "--out", str(tmp_path / "o2")],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "layer_materials" in r.stderr, r.stderr


def test_periodic_prolongation_ties_faces_edges_and_corners():
    """fem/rve/periodic.py on a 3 x 3 x 3 grid of the unit box: x = 1 nodes take the dofs of x = 0,
    y = 1 those of y = 0, the four vertical edges share the dofs of the edge x = y = 0, z faces are
    fixed ("periodic_slip": only their z dofs); KUBC keeps the interior node only; a mesh whose faces
    do not match is refused."""
    from fem.rve.periodic import node_master, prolongation
    g = np.linspace(0.0, 1.0, 3)
    X = np.array([(x, y, z) for z in g for y in g for x in g])
    box = (0.0, 0.0, 0.0, 1.0, 1.0, 1.0)
    idx = {tuple(p): i for i, p in enumerate(X)}
    m = node_master(X, box, 1e-9, "periodic")
    for (x, y) in ((1.0, 0.0), (0.0, 1.0), (1.0, 1.0)):
        assert m[idx[(x, y, 0.5)]] == idx[(0.0, 0.0, 0.5)]
    assert m[idx[(1.0, 0.5, 0.5)]] == idx[(0.0, 0.5, 0.5)] and m[idx[(0.5, 1.0, 0.5)]] == idx[(0.5, 0.0, 0.5)]
    assert all(m[i] == -1 for i, p in enumerate(X) if p[2] in (0.0, 1.0))
    P, info = prolongation(X, box, 1e-9, "periodic")
    assert info["independent_dofs"] == 3 * 4 and P.shape == (81, 12)   # (0,0), (0.5,0), (0,0.5), (0.5,0.5) at z = 0.5
    assert np.allclose(P.sum(axis=1).A.ravel(), [0 if p[2] in (0.0, 1.0) else 1 for p in X for _ in range(3)])
    Pk, ik = prolongation(X, box, 1e-9, "kubc")
    assert ik["independent_dofs"] == 3
    Pf, iff = prolongation(X, box, 1e-9, "free")
    assert iff["independent_dofs"] == 81 - 6
    # slipping z faces: their x and y dofs tied periodically like the interior's, their z dofs fixed; a
    # uniform in-plane translation is then a displacement of the cell (it is not with "periodic")
    Ps, isl = prolongation(X, box, 1e-9, "periodic_slip")
    assert isl["independent_dofs"] == 2 * 4 * 3 + 4 and isl["fixed_dofs"] == 18
    for c, row_sums in ((0, [1] * 27), (1, [1] * 27), (2, [0 if p[2] in (0.0, 1.0) else 1 for p in X])):
        assert np.allclose(Ps.sum(axis=1).A.ravel()[c::3], row_sums)
    assert (np.asarray(Ps.sum(axis=0)).ravel() > 0).all()              # no empty column
    shift = np.zeros(81)
    shift[0::3] = 1.0
    for PP, representable in ((Ps, True), (P, False)):
        y = np.linalg.lstsq(PP.toarray(), shift, rcond=None)[0]
        assert (np.linalg.norm(PP @ y - shift) < 1e-12) == representable
    Y = X.copy()
    Y[idx[(1.0, 0.5, 0.5)], 1] += 1e-3      # a face node without an image
    with pytest.raises(ValueError, match="not periodic"):
        node_master(Y, box, 1e-9, "periodic")
