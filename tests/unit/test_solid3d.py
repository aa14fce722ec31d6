"""The 3D model with the linear solvers of fem/models/linear_solvers.py: the fallback to MUMPS when
the automatically chosen Krylov solve fails (the choice rule itself: test_linear_solvers.py).
Units: mm, N, MPa, s."""
import pytest

from fem.stepping.run import run_case
from fem.verification.cases import make_study

GEO3D = {"model": "3d", "mesh_size_mm": 0.5, "layers": 2}


def test_auto_falls_back_to_mumps_when_krylov_fails(tmp_path, monkeypatch):
    """With "auto" the run survives a failing Krylov solve: it switches to MUMPS (and says so in the
    summary), giving the MUMPS result. Forced here: the iterative solver chosen for a small disc
    and allowed 2 iterations."""
    from fem.models import linear_solvers
    load = [{"pressure_MPa": 5.19, "ramp_s": 0.0, "hold_s": 0.002}]
    num = {"quadrature_degree": 2}
    ref = run_case(make_study("m", geometry=GEO3D, load=load, numerics={**num, "linear_solver": "mumps"}),
                   tmp_path / "m", progress=False)
    monkeypatch.setattr(linear_solvers, "AUTO_ITERATIVE_MIN_DOFS", 0)
    monkeypatch.setattr(linear_solvers.LinearSolver, "KRYLOV_MAX_IT", 2)
    r = run_case(make_study("a", geometry=GEO3D, load=load, numerics=num), tmp_path / "a", progress=False)
    assert ref["linear_solver"] == "mumps" and ref["linear_solver_requested"] == "mumps"
    assert r["linear_solver_requested"] == "auto" and r["linear_solver"] == "mumps"
    assert "switched to MUMPS" in r["linear_solver_fallback"]
    assert r["krylov_iterations"]["max"] == 2 and "krylov_iterations" not in ref   # the failed gamg solve(s) only
    for k in ("thickness_change_pct", "diameter_change_pct", "platen_force_N"):
        assert r[k] == pytest.approx(ref[k], rel=1e-6), k
