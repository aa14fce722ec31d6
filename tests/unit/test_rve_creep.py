"""The periodic RVE creep solver (fem/rve/creep.py) against the elastic RVE (fem/rve/solve.py, an
independent UFL assembly of the same cell) and against the exact creep of a homogeneous Li cell.
Units: mm, MPa, s."""
import math

import numpy as np
import pytest
from mpi4py import MPI

from fem.physics.materials import GelNeoHookean, LiCreep, SoftVoid, TowElastic
from fem.rve.config import RveStudy
from fem.rve.creep import GRADED_FIRST, RveCreep, norton_return, substep_plans
from fem.rve.solve import effective_stiffness
from meshes.composite import CompositeGeometry
from meshes.homogenised import cloth_cell_geometry
from meshes.rve import LaminateCell, WeaveCell, load_mesh


def _weave(li):
    cg, _ = cloth_cell_geometry(CompositeGeometry(diameter_mm=15.0, mesh_size_mm=0.3, void_fraction=0.01), 0.3)
    cell = WeaveCell(cg)
    mesh, ct, _ = load_mesh(cell, MPI.COMM_SELF)
    st = RveStudy("t", cell, {"li": li, "gpe": GelNeoHookean(), "carbon": TowElastic(), "void": SoftVoid()})
    return mesh, ct, cell, st


def test_without_creep_the_cloth_cell_gives_the_elastic_rve_stiffness():
    """Each unit strain rate (one step) gives the column of the periodic stiffness of fem/rve/solve.py;
    a uniaxial-stress test (zz prescribed, the other five stress-free) gives the compliance S = C^-1.
    Exact (1e-9) with the full integration of the Li (bbar=False) and the linear pore (void_law="linear"),
    the same discretisation and law as the UFL path; the B-bar Li with the neo-Hookean pore (the
    defaults) is another discretisation: within 0.5 % of it (measured 0.13 % with the linear pore)."""
    mesh, ct, cell, st = _weave(LiCreep(creep_A=0.0))
    C = effective_stiffness(mesh, ct, cell.box, st.tag_materials(), st.fibre_direction(), bcs=("periodic",))["stiffness"]["periodic"]
    rb = RveCreep(mesh, ct, cell.box, st.tag_materials(), st.fibre_direction())
    for j in (0, 2):
        rate = np.zeros(6)
        rate[j] = 1e-3
        col = np.array(rb.run(["strain"] * 6, rate, np.zeros(6), 1.0, 1)["Sigma_MPa"][-1]) / 1e-3
        assert np.abs(col - C[:, j]).max() <= 5e-3 * abs(C[j, j])
    rc = RveCreep(mesh, ct, cell.box, st.tag_materials(), st.fibre_direction(), bbar=False, void_law="linear")
    for j in (0, 2, 4, 5):
        rate = np.zeros(6)
        rate[j] = 1e-3
        h = rc.run(["strain"] * 6, rate, np.zeros(6), 1.0, 1)
        assert np.abs(np.array(h["Sigma_MPa"][-1]) / 1e-3 - C[:, j]).max() <= 1e-9 * np.abs(C).max()
    ctrl = ["stress"] * 6
    ctrl[2] = "strain"
    rate = np.zeros(6)
    rate[2] = -1e-3
    h = rc.run(ctrl, rate, np.zeros(6), 1.0, 1)
    E, S = np.array(h["E"][-1]), np.array(h["Sigma_MPa"][-1])
    assert np.abs(np.delete(S, 2)).max() <= 1e-9 * abs(S[2])
    Sinv = np.linalg.inv(C)
    assert E[0] == pytest.approx(Sinv[0, 2] * S[2], rel=1e-8)
    assert E[2] == pytest.approx(-1e-3, rel=1e-12)


@pytest.mark.parametrize("graded", [False, True])
def test_homogeneous_li_cell_creeps_at_the_norton_rate(graded, monkeypatch):
    """A Li-only cell under a constant uniaxial mean stress -p (all six components stress-controlled):
    E_zz = -p/E - A p^n t and E_xx = nu p/E + A p^n t / 2 (isochoric creep; backward Euler is exact at
    constant stress), with the threshold stress sigma_y: A (p - sigma_y)^n. graded: every step taken
    with the graded plan only (the elastic jump, then creep sub-steps; substep_plans): the same exact
    creep strain whatever the sub-steps, and the run records the graded steps."""
    if graded:
        import fem.rve.creep as creep_mod
        monkeypatch.setattr(creep_mod, "substep_plans", lambda dt: iter([list(substep_plans(dt))[-1]]))
    li = LiCreep(creep_A=7.7e-3, creep_n=6.56, threshold_stress_MPa=0.2)
    cell = LaminateCell(("li",), (0.2,), mesh_size_mm=0.2)
    mesh, ct, _ = load_mesh(cell, MPI.COMM_SELF)
    st = RveStudy("li", cell, {"li": li, "gpe": GelNeoHookean(), "carbon": TowElastic(), "void": SoftVoid()})
    rc = RveCreep(mesh, ct, cell.box, st.tag_materials(), st.fibre_direction())
    p, t_end = 1.5, 10.0
    stress = np.zeros(6)
    stress[2] = -p
    h = rc.run(["stress"] * 6, np.zeros(6), stress, t_end, 2 if graded else 4)
    E = np.array(h["E"][-1])
    rate = li.creep_A * (p - 0.2) ** li.creep_n
    E_mod, nu = li.youngs_modulus_MPa, li.poisson_ratio
    assert E[2] == pytest.approx(-p / E_mod - rate * t_end, rel=1e-8)
    assert E[0] == pytest.approx(nu * p / E_mod + 0.5 * rate * t_end, rel=1e-8)
    assert h["li_creep_strain_mean"][-1] == pytest.approx(rate * t_end, rel=1e-8)
    if graded:
        assert h["graded_at_s"] == [5.0, 10.0] and h["substeps"][1] == len(list(substep_plans(5.0))[-1])
    else:
        assert "graded_at_s" not in h and set(h["substeps"]) == {1}


def test_substep_plans_halve_then_grade_from_an_elastic_jump():
    """The plans tried for one step (fem/rve/creep.py substep_plans): dt cut into 1 ... 64 equal sub-steps,
    then the graded plan: a zero-length sub-step (the elastic jump), sub-steps doubling from
    dt * GRADED_FIRST, the remainder last. Each plan covers dt exactly."""
    dt = 1.7
    plans = list(substep_plans(dt))
    assert [len(p) for p in plans[:7]] == [2 ** k for k in range(7)]
    for p in plans[:7]:
        assert set(p) == {dt / len(p)}
    g = plans[7]
    assert len(plans) == 8 and g[0] == 0.0 and g[1] == pytest.approx(dt * GRADED_FIRST, rel=1e-12)
    assert all(b == pytest.approx(2.0 * a, rel=1e-12) for a, b in zip(g[1:-2], g[2:-1]))
    assert g[-2] <= g[-1] < 4.0 * g[-2] + 1e-15
    for p in plans:
        assert sum(p) == pytest.approx(dt, rel=1e-14)


def test_norton_return_tangent_is_the_derivative():
    """The consistent tangent of the point return against central differences of the stress."""
    rng = np.random.default_rng(0)
    eps = rng.normal(scale=2e-3, size=(5, 6))
    epsc_n = rng.normal(scale=1e-3, size=(5, 6))
    epsc_n[:, :3] -= epsc_n[:, :3].mean(axis=1, keepdims=True)
    mu, K, A_dt, n, sy = 2833.0, 10860.0, 0.1 * 7.7e-3, 6.56, 0.3
    _, C, _, dp = norton_return(eps, epsc_n, mu, K, A_dt, n, sy)
    assert (dp > 0).all()
    h = 1e-8
    for k in range(6):
        d = np.zeros(6)
        d[k] = h
        sp_, *_ = norton_return(eps + d, epsc_n, mu, K, A_dt, n, sy)
        sm_, *_ = norton_return(eps - d, epsc_n, mu, K, A_dt, n, sy)
        num = (sp_ - sm_) / (2 * h)
        assert np.abs(num - C[:, :, k]).max() <= 1e-5 * np.abs(C).max()
    assert math.isfinite(C.sum())


def test_a_pore_cannot_lose_more_than_its_volume():
    """A pore-only cell under a hydrostatic mean stress of -30 MPa: with the neo-Hookean pore (the
    default, fem/rve/creep.py void_pressure: the resolved disc's SoftVoidLaw under hydrostatic
    deformation, at J = 1 + tr E) its volume ratio solves p(J) = -30 MPa, J = 0.30 (to 1e-8), while the
    linear small-strain pore gives tr E = -30 / K = -3.6, i.e. 3.6 times its volume lost: what the
    creep tables of TABLE_VERSION <= 3 let the cells' pores do once the Li around them crept.
    void_pressure: the linear pore for small tr, dp/dtr against central differences, C1 at J_min."""
    from scipy.optimize import brentq

    from fem.rve.backus import lame
    from fem.rve.creep import VOID_J_MIN, void_pressure
    void = SoftVoid()
    lam, mu = lame(void)
    K = lam + 2.0 * mu / 3.0
    p, dp = void_pressure(np.array([-1e-7]), mu, lam)
    assert p[0] == pytest.approx(-1e-7 * K, rel=1e-6) and dp[0] == pytest.approx(K, rel=1e-6)
    for tr in (-0.5, -0.9, -0.99, -1.5):
        h = 1e-7
        num = (void_pressure(tr + h, mu, lam)[0] - void_pressure(tr - h, mu, lam)[0]) / (2 * h)
        assert void_pressure(tr, mu, lam)[1] == pytest.approx(num, rel=1e-5)
    trm = VOID_J_MIN - 1.0
    assert void_pressure(trm - 1e-9, mu, lam)[0] == pytest.approx(void_pressure(trm + 1e-9, mu, lam)[0], rel=1e-6)
    J_exact = brentq(lambda J: (mu * (J ** (2 / 3) - 1) + lam * math.log(J)) / J + 30.0, 0.05, 1.0, xtol=1e-14)
    assert 0.25 < J_exact < 0.35
    cell = LaminateCell(("void",), (0.2,), mesh_size_mm=0.2)
    mesh, ct, _ = load_mesh(cell, MPI.COMM_SELF)
    st = RveStudy("void", cell, {"li": LiCreep(), "gpe": GelNeoHookean(), "carbon": TowElastic(), "void": void})
    stress = np.array([-30.0, -30.0, -30.0, 0.0, 0.0, 0.0])
    for law, tr_expected in (("neo-hookean", J_exact - 1.0), ("linear", -30.0 / K)):
        rc = RveCreep(mesh, ct, cell.box, st.tag_materials(), st.fibre_direction(), void_law=law)
        h = rc.run(["stress"] * 6, np.zeros(6), stress, 1.0, 1, max_newton=30)
        E = np.array(h["E"][-1])
        assert E[:3].sum() == pytest.approx(tr_expected, rel=1e-8), law
        assert np.array(h["Sigma_MPa"][-1]) == pytest.approx(stress, abs=1e-8)
