"""Benchmark of the 3D linear solvers on real Newton systems (not a test): part of `make bench`.

Each case runs a study with the direct solver until its K-th linear-solver call (a Newton system of
the creeping disc, Dirichlet rows already eliminated, friction linearisation included), then solves
that one system with a random right-hand side (zero on the constrained rows) by:
  * MUMPS (LU; "setup" = factorisation),
  * linear_solver = "gamg" (FGMRES, Schur field split, p-multigrid on the P2 displacement block),
  * the same with "-li3d_pmg 0" (GAMG directly on the P2 block),
at KRYLOV_RTOL (fem/models/linear_solvers.py), and records iterations, setup and solve seconds and the true
relative residual. Cases (studies built from studies/fig4_bare_li_3d_calibrated.toml and case F of
bench/bench_3d.py): bare-Li quarter disc at 0.5 mm / 2 layers and at 0.25 mm / 4 layers (17.79 MPa
ramp), the 3 mm and the 15 mm composite quarter disc (5.19 MPa). Serial. Writes
results/bench/<date>/bench_linear.{json,md}. BENCH_LINEAR_CASES selects cases by name (comma list).
"""
from __future__ import annotations

import datetime
import json
import os
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

import dolfinx_solver  # noqa: E402,F401
import numpy as np  # noqa: E402
from petsc4py import PETSc  # noqa: E402


class _Done(Exception):
    pass


def _bare(mesh: float, layers: int) -> str:
    d = (ROOT / "studies" / "fig4_bare_li_3d_calibrated.toml").read_text()
    d = d.replace("mesh_size_mm = 0.5", f"mesh_size_mm = {mesh}").replace("layers = 2", f"layers = {layers}")
    return d.replace("hold_s = 60.0", "hold_s = 0.01")


def _composite() -> str:
    from bench_3d import COMPOSITE, _calibrated   # bench/ is on sys.path: the folder of the script that runs
    return COMPOSITE.format(solver="mumps", **_calibrated())


def _composite_15mm() -> str:
    return _composite().replace("diameter_mm = 3.0", "diameter_mm = 15.0")


CASES = {"bare_li_h0.5_l2": (lambda: _bare(0.5, 2), 8), "bare_li_h0.25_l4": (lambda: _bare(0.25, 4), 8),
         "composite_3mm_h0.3": (_composite, 60), "composite_15mm_h0.3": (_composite_15mm, 4)}
VARIANTS = [("mumps", {"ksp_type": "preonly", "pc_type": "lu", "pc_factor_mat_solver_type": "mumps"}, "mumps"),
            ("gamg p-multigrid", {}, "gamg"), ("gamg on P2 (-li3d_pmg 0)", {"pmg": "0"}, "gamg")]


def _solve_variants(solver, A, operator) -> list[dict]:
    """solver: the model's LinearSolver; operator: the unpatched LinearSolver.operator (builds the KSP
    of solver.kind for the matrix A)."""
    model = solver.model
    opts = PETSc.Options()
    rows = []
    for label, extra, kind in VARIANTS:
        for k in list(opts.getAll()):
            if k.startswith("li3d_"):
                opts.delValue(k)
        if kind == "gamg":   # BENCH_LINEAR_OPTIONS="fieldsplit_u_pc_type=lu,...": extra li3d_ options (experiments)
            extra = {**extra, **dict(kv.split("=", 1) for kv in os.environ.get("BENCH_LINEAR_OPTIONS", "").split(",") if kv)}
        for k, v in extra.items():
            opts["li3d_" + k] = v
        solver._ksp, solver._pmg, solver.kind = None, None, kind
        t0 = time.perf_counter()
        operator(solver, A)
        ksp = solver._ksp
        ksp.setUp()
        t_setup = time.perf_counter() - t0
        b = A.createVecLeft()
        b.array[:] = np.random.default_rng(0).standard_normal(b.array.size)
        b.array[model.constrained_owned] = 0.0
        x = A.createVecRight()
        t0 = time.perf_counter()
        ksp.solve(b, x)
        t_solve = time.perf_counter() - t0
        r = A.createVecLeft()
        A.mult(x, r)
        r.axpy(-1.0, b)
        rows.append({"solver": label, "iterations": ksp.getIterationNumber(), "reason": ksp.getConvergedReason(),
                     "setup_s": t_setup, "solve_s": t_solve, "rel_residual": r.norm() / b.norm()})
    return rows


def run_case(name: str, tmp: Path) -> dict:
    from fem.models.linear_solvers import LinearSolver
    from fem.stepping.run import run_case as run
    from fem.study import load_study
    text, call = CASES[name]
    study = tmp / f"{name}.toml"
    study.write_text(text())
    orig = LinearSolver.operator
    seen = {"n": 0}
    result = {}

    def patched(self, A):
        seen["n"] += 1
        if seen["n"] == call:
            result["dofs"] = A.getSize()[0]
            result["rows"] = _solve_variants(self, A, orig)
            raise _Done
        return orig(self, A)

    LinearSolver.operator = patched
    try:
        run(load_study(study), tmp / name, progress=False, restart=True)
    except _Done:
        pass
    finally:
        LinearSolver.operator = orig
    return {"case": name, "newton_system": call, **result}


def main():
    from fem.stepping.outputs import atomic_write_text
    out = ROOT / "results" / "bench" / datetime.date.today().isoformat()
    tmp = out / "linear"
    tmp.mkdir(parents=True, exist_ok=True)
    names = os.environ.get("BENCH_LINEAR_CASES", ",".join(CASES)).split(",")
    results = []
    for name in names:
        r = run_case(name, tmp)
        results.append(r)
        for row in r.get("rows", []):
            print(f"{name:22s} {r.get('dofs', 0):7d} dofs  {row['solver']:26s} its {row['iterations']:4d} "
                  f"setup {row['setup_s']:7.2f} s  solve {row['solve_s']:7.2f} s  res {row['rel_residual']:.1e}",
                  flush=True)
    atomic_write_text(out / "bench_linear.json", json.dumps(results, indent=2) + "\n")
    md = ["| case | dofs | solver | Krylov its | setup s | solve s | true rel. residual |", "|---|---|---|---|---|---|---|"]
    for r in results:
        for row in r.get("rows", []):
            md.append(f"| {r['case']} | {r['dofs']} | {row['solver']} | {row['iterations']} | {row['setup_s']:.2f} | "
                      f"{row['solve_s']:.2f} | {row['rel_residual']:.1e} |")
    atomic_write_text(out / "bench_linear.md", "\n".join(md) + "\n")


if __name__ == "__main__":
    main()
