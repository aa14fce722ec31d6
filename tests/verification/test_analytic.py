"""Verification of the axisymmetric solver against exact and analytic solutions (coarse meshes):
elastic compression, stress relaxation at a fixed gap, equilibrium of the platen force, and the
friction bounds. (Creep at constant force against its analytic solution, with the time-step and
mesh convergence: test_convergence.py.)

Each test states the requirement it checks and its tolerance. Units: mm, N, MPa, s.
"""
import math

import pytest

from fem.models.newton import solve_step
from fem.physics.platen import LoadConstraint, nominal_force_N
from fem.stepping.run import run_case
from fem.verification import analytic
from fem.verification.cases import make_study


def _run(tmp_path, name, **over):
    return run_case(make_study(name, **over), tmp_path / name, progress=False)


def _history(path):
    import csv
    with open(path) as f:
        return list(csv.DictReader(f))


# ---------------------------------------------------------------- 1. elastic, exact
@pytest.mark.parametrize("pressure,symmetric", [(5.19, True), (30.0, True), (17.79, False)])
def test_elastic_compression_matches_exact_homogeneous_solution(tmp_path, pressure, symmetric):
    """Requirement: elastic compression between frictionless platens reproduces the exact uniaxial
    solution of the hyperelastic law to < 1e-6 relative (thickness, diameter, force)."""
    s = make_study("elastic", li={"creep_A": 0.0},
                   geometry={"use_symmetry": symmetric, "mesh_size_mm": 0.125},
                   load=[{"pressure_MPa": pressure, "ramp_s": 0.0, "hold_s": 0.0}])
    r = run_case(s, tmp_path / "el", progress=False)
    lr, lz = analytic.elastic_uniaxial_stretches(s.li, pressure)
    exact_t, exact_d = 100 * (1 - lz), 100 * (lr - 1)
    assert abs(r["thickness_change_pct"] - exact_t) <= 1e-6 * exact_t
    assert abs(r["diameter_change_pct"] - exact_d) <= 1e-6 * exact_d
    F = nominal_force_N(pressure, 7.5)
    assert abs(r["platen_force_N"] - F) <= 1e-6 * F
    # sanity: the small-strain value is close (Poisson effect, E)
    assert exact_t == pytest.approx(100 * pressure / 7820.0, rel=0.02)


def test_elastic_law_is_equivalent_to_hencky_at_stack_pressures():
    """Requirement: the elastic law (Hencky deviatoric part, U(J) = K/2 (J - 1)^2 volumetric part) is close to
    isotropic Hencky elasticity: at 30 MPa the uniaxial elastic thickness and diameter changes
    agree with Hencky's within 0.3 % of themselves."""
    from scipy.optimize import brentq
    from fem.physics.materials import LiCreep
    m = LiCreep()
    P = 30.0
    lr, lz = analytic.elastic_uniaxial_stretches(m, P)
    ez = brentq(lambda e: m.youngs_modulus_MPa * e + P * math.exp(e), -0.1, 0.0)  # tau_z = E ln(lz) = -P lz
    assert 1 - lz == pytest.approx(1 - math.exp(ez), rel=3e-3)
    assert lr - 1 == pytest.approx(math.exp(-m.poisson_ratio * ez) - 1, rel=3e-3)


# ---------------------------------------------------------------- 3. relaxation at fixed gap
def test_stress_relaxation_at_fixed_gap_matches_norton(tmp_path):
    """Requirement: at a fixed platen gap the axial stress relaxes as the uniaxial Norton solution
    1/sigma^(n-1) - 1/sigma0^(n-1) = (n-1) E A t, within 1 %."""
    h0 = 0.5
    s = make_study("relax", load=[{"gap_mm": h0 * (1 - 1e-3), "ramp_s": 0.0, "hold_s": 2e-4}],
                   time={"max_creep_increment": 2e-6})
    r = run_case(s, tmp_path / "relax", progress=False)
    rows = _history(tmp_path / "relax" / "history.csv")
    sig = [float(x["force_N"]) / (math.pi * (float(x["diameter_mm"]) / 2) ** 2) for x in rows]
    t = [float(x["time_s"]) for x in rows]
    sigma0 = sig[1]  # after the instantaneous (elastic) step
    assert sigma0 == pytest.approx(7820.0 * 1e-3, rel=0.01)
    checked = 0
    for ti, si in zip(t[2:], sig[2:]):
        ref = analytic.relaxation_stress(s.li, sigma0, ti)
        assert si == pytest.approx(ref, rel=0.01), (ti, si, ref)
        checked += 1
    assert checked > 10
    assert sig[-1] < 0.3 * sigma0  # the check covers real relaxation, not just the start
    assert r["time_steps"] == len(rows) - 1


# ---------------------------------------------------------------- 4. equilibrium
def test_platen_force_equals_target_and_midplane_reaction(tmp_path):
    """Requirement: at every converged step the platen force equals its target to 1e-6 relative,
    and the mid-plane reaction balances it (global equilibrium, independent of the constraint)."""
    from meshes.disc_axisym import BOTTOM, load_mesh
    from fem.models.axisym import AxisymDiscModel
    from dolfinx import fem as dfem

    s = make_study("eq", platen={"friction": "coulomb", "mu": 0.2},
                   load=[{"pressure_MPa": 5.19, "ramp_s": 0.5, "hold_s": 2.0},
                         {"pressure_MPa": 10.0, "ramp_s": 0.0, "hold_s": 1.0}])
    run_case(s, tmp_path / "eq", progress=False)
    rows = _history(tmp_path / "eq" / "history.csv")
    ramp_end, t_end1 = 0.5, 2.5
    for row in rows[1:]:
        t, F = float(row["time_s"]), float(row["force_N"])
        P = 5.19 * min(t / ramp_end, 1.0) if t <= t_end1 + 1e-12 else 10.0
        if row["phase"].endswith("2/2"):
            P = 10.0
        target = nominal_force_N(P, 7.5)
        assert abs(F - target) <= 1e-6 * target, (t, F, target)

    msh, _, ft = load_mesh(s.geometry)
    m = AxisymDiscModel(msh, ft, s.geometry, s.li, s.platen)
    x0 = m.w.x.array.copy()
    F = nominal_force_N(17.79, 7.5)
    solve_step(m, 0.0, x0, LoadConstraint.force(F), x0, 0.0)
    r = m.assemble_residual()
    mid_z = dfem.locate_dofs_topological(m.W.sub(0).sub(1), 1, ft.find(BOTTOM))
    mid_reaction = 2 * math.pi * r[mid_z].sum()
    assert abs(mid_reaction - F) <= 1e-6 * F


# ---------------------------------------------------------------- 5. friction bounds
def test_coulomb_between_sticking_and_frictionless_and_monotone_in_mu(tmp_path):
    """Requirement: the Coulomb result lies between the sticking and frictionless bounds and the
    deformation decreases monotonically with mu."""
    load = [{"pressure_MPa": 5.19, "ramp_s": 0.0, "hold_s": 2.0}]
    res = {}
    for label, platen in [("free", {"friction": "frictionless"}), ("stick", {"friction": "sticking"}),
                          ("mu0.05", {"friction": "coulomb", "mu": 0.05}),
                          ("mu0.2", {"friction": "coulomb", "mu": 0.2}),
                          ("mu0.5", {"friction": "coulomb", "mu": 0.5})]:
        res[label] = _run(tmp_path, label, platen=platen, load=load)
    for key in ("thickness_change_pct", "diameter_change_pct"):
        seq = [res[k][key] for k in ("free", "mu0.05", "mu0.2", "mu0.5", "stick")]
        assert all(a > b for a, b in zip(seq, seq[1:])), (key, seq)
    # friction decides the answer: frictionless flattens, sticking barely moves
    assert res["free"]["thickness_change_pct"] > 20 * res["stick"]["thickness_change_pct"]
