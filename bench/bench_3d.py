"""Benchmark of the 3D path, serial vs MPI (not a test): part of `make bench`.

Case E: 3D quarter disc, 15 mm x 0.5 mm, frictionless, constant force 5 MPa, 600 s, Norton
A = 1e-5 MPa^-n s^-1, n = 6.56 (the axisymmetric case A), run by `python -m fem run` with
`mpiexec -n 1` and `-n 2`. Records dofs, steps, Newton iterations, wall time and its split, the
speed-up, the largest relative difference of the summary numbers between the two runs, and the
error against the exact homogeneous solution. Writes results/bench/<date>/bench_3d.{json,md}.
Environment: BENCH3D_MESH (in-plane size, mm; default 0.5) and BENCH3D_LAYERS (default 2).

Case F: the G-LiCFC composite (meshes/composite.py defaults from the paper's masses, fem/models/solid3d.py
multi-material), 3 mm quarter disc, mesh 0.3 mm, 5.19 MPa (1 s ramp, 60 s hold), Li creep law and
friction read from studies/fig4_bare_li_calibrated.toml: cells, dofs, peak memory, Gmsh time, steps,
Newton iterations per step, Krylov iterations per solve, wall time and its split. Serial, once per
linear solver in BENCH3D_SOLVERS (default "mumps,gamg"); BENCH3D_TIMEOUT (s, default 3600) stops a run.
BENCH3D_COMPOSITE=0 skips it. Writes results/bench/<date>/bench_3d_composite.{json,md}.
"""
from __future__ import annotations

import datetime
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

STUDY = """
[geometry]
model = "3d"
diameter_mm = 15.0
thickness_mm = 0.5
mesh_size_mm = {mesh}
layers = {layers}
[li]
youngs_modulus_MPa = 7820.0
poisson_ratio = 0.381
creep_A = 1e-5
creep_n = 6.56
[platen]
friction = "frictionless"
[[load]]
pressure_MPa = 5.0
ramp_s = 0.0
hold_s = 600.0
[numerics]
quadrature_degree = 2
[output]
fields = false
"""
KEYS = ("thickness_change_pct", "diameter_change_pct", "platen_force_N", "max_equivalent_creep_strain")


def main():
    import dolfinx_solver  # noqa: F401
    from fem.verification import analytic
    from fem.stepping.outputs import atomic_write_text
    from fem.physics.materials import LiCreep

    out = ROOT / "results" / "bench" / datetime.date.today().isoformat()
    out.mkdir(parents=True, exist_ok=True)
    mesh, layers = float(os.environ.get("BENCH3D_MESH", 0.5)), int(os.environ.get("BENCH3D_LAYERS", 2))
    study = out / "bench_3d.toml"
    study.write_text(STUDY.format(mesh=mesh, layers=layers))
    mpiexec = str(Path(sys.executable).parent / "mpiexec")
    if not Path(mpiexec).exists():
        mpiexec = shutil.which("mpiexec")
    t_exact, d_exact = analytic.creep_changes_exact_pct(LiCreep(creep_A=1e-5), 5.0, 600.0)
    rows = []
    for n in (1, 2):
        run_dir = out / f"E_3d_n{n}"
        cmd = [sys.executable, "-m", "fem", "run", str(study), "--out", str(run_dir), "--quiet", "--restart"]
        if mpiexec:
            cmd = [mpiexec, "-n", str(n)] + cmd
        elif n > 1:
            break
        t0 = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, check=True)
        wall = time.perf_counter() - t0
        s = json.loads((run_dir / "summary.json").read_text())
        row = {"case": f"E_3d_h{mesh}_l{layers}_n{n}", "processes": n, "dofs": s["dofs"], "cells": s["cells"],
               "steps": s["time_steps"], "rejected": s["rejected_steps"],
               "newton_per_step": s["newton_iterations_per_step"], "linear_solves": s["linear_solves"],
               "wall_s": wall, "solver_wall_s": s["wall_time_s"],
               **{k: s[k] for k in KEYS},
               "thickness_error_rel": (s["thickness_change_pct"] - t_exact) / t_exact,
               "diameter_error_rel": (s["diameter_change_pct"] - d_exact) / d_exact,
               **{f"t_{k}_s": v for k, v in s["timings_s"].items()}}
        rows.append(row)
        print(json.dumps({k: row[k] for k in ("case", "dofs", "steps", "newton_per_step", "wall_s",
                                              "thickness_change_pct", "thickness_error_rel")}), flush=True)
    meta = {"date": datetime.datetime.now().isoformat(timespec="seconds"), "cpus": os.cpu_count()}
    if len(rows) == 2:
        meta["speedup_n2"] = rows[0]["solver_wall_s"] / rows[1]["solver_wall_s"]
        meta["max_rel_difference_n1_n2"] = max(abs(rows[1][k] - rows[0][k]) / max(abs(rows[0][k]), 1e-300)
                                               for k in KEYS)
    atomic_write_text(out / "bench_3d.json", json.dumps({"meta": meta, "cases": rows}, indent=2) + "\n")
    cols = ["case", "dofs", "cells", "steps", "rejected", "newton_per_step", "linear_solves", "solver_wall_s",
            "t_assembly_s", "t_solve_s", "t_constitutive_s", "thickness_change_pct", "thickness_error_rel",
            "diameter_error_rel"]
    lines = [f"# 3D benchmark {meta['date']} ({meta['cpus']} CPUs)", ""]
    if "speedup_n2" in meta:
        lines += [f"speed-up with 2 processes: {meta['speedup_n2']:.2f}; largest relative difference of "
                  f"the summary numbers n=1 vs n=2: {meta['max_rel_difference_n1_n2']:.2e}", ""]
    lines += ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(f"{r[c]:.4g}" if isinstance(r[c], float) else str(r[c]) for c in cols) + " |"
              for r in rows]
    md = "\n".join(lines) + "\n"
    atomic_write_text(out / "bench_3d.md", md)
    print(md)


COMPOSITE = """
[geometry]
model = "composite"
diameter_mm = 3.0
mesh_size_mm = 0.3
[composite]
void_fraction = 0.01
[li]
youngs_modulus_MPa = 7820.0
poisson_ratio = 0.381
creep_A = {creep_A}
creep_n = {creep_n}
threshold_stress_MPa = {sigma_y}
[platen]
friction = "coulomb"
mu = {mu}
slip_floor_mm = 1e-4
[[load]]
pressure_MPa = 5.19
ramp_s = 1.0
hold_s = 60.0
[numerics]
linear_solver = "{solver}"
[output]
fields = false
"""


def _calibrated() -> dict:
    """Li creep law and platen friction of the calibrated bare-Li study (the blind-prediction inputs)."""
    import tomllib
    d = tomllib.loads((ROOT / "studies" / "fig4_bare_li_calibrated.toml").read_text())
    return {"creep_A": d["li"]["creep_A"], "creep_n": d["li"]["creep_n"],
            "sigma_y": d["li"].get("threshold_stress_MPa", 0.0), "mu": d["platen"]["mu"]}


def composite():
    import resource

    from fem.stepping.outputs import atomic_write_text

    out = ROOT / "results" / "bench" / datetime.date.today().isoformat()
    out.mkdir(parents=True, exist_ok=True)
    solvers = os.environ.get("BENCH3D_SOLVERS", "mumps,gamg").split(",")
    rows = []
    for solver in solvers:
        study = out / f"bench_3d_composite_{solver}.toml"
        study.write_text(COMPOSITE.format(solver=solver, **_calibrated()))
        run_dir = out / f"F_composite_{solver}"
        env = {**os.environ, "FEM_MESH_CACHE": str(out / "mesh_cache_F")}   # count the Gmsh build
        shutil.rmtree(out / "mesh_cache_F", ignore_errors=True)
        t0 = time.perf_counter()
        p = subprocess.run([sys.executable, "-m", "fem", "run", str(study), "--out", str(run_dir), "--quiet",
                            "--restart"], cwd=ROOT, env=env, timeout=float(os.environ.get("BENCH3D_TIMEOUT", 3600)))
        wall = time.perf_counter() - t0
        if p.returncode != 0:
            rows.append({"case": f"F_composite_3mm_h0.3_5.19MPa_{solver}", "status": f"failed (exit {p.returncode})"})
            continue
        peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
        s = json.loads((run_dir / "summary.json").read_text())
        rep = json.loads(next((out / "mesh_cache_F").glob("composite_*.json")).read_text())
        k = s.get("krylov_iterations")
        rows.append({"case": f"F_composite_3mm_h0.3_5.19MPa_{solver}", "status": "ok", "cells": s["cells"],
                     "dofs": s["dofs"], "peak_memory_MiB": peak_mib,
                     "gmsh_s": rep["occ_fragment_s"] + rep["gmsh_mesh_s"] + rep["solve_s"],
                     "steps": s["time_steps"], "rejected": s["rejected_steps"],
                     "newton_per_step": s["newton_iterations_per_step"],
                     "krylov_per_solve": "n/a (direct)" if k is None else k["per_solve_mean"],
                     "krylov_max": "n/a" if k is None else k["max"], "wall_s": wall, "solver_wall_s": s["wall_time_s"],
                     "thickness_change_pct": s["thickness_change_pct"], "diameter_change_pct": s["diameter_change_pct"],
                     **{f"t_{k}_s": v for k, v in s["timings_s"].items()}})
    atomic_write_text(out / "bench_3d_composite.json", json.dumps(rows, indent=2) + "\n")
    cols = ["case", "status", "cells", "dofs", "peak_memory_MiB", "gmsh_s", "steps", "rejected", "newton_per_step",
            "krylov_per_solve", "krylov_max", "solver_wall_s", "t_assembly_s", "t_solve_s", "thickness_change_pct",
            "diameter_change_pct"]
    md = "| " + " | ".join(cols) + " |\n|" + "---|" * len(cols) + "\n"
    for row in rows:
        md += "| " + " | ".join(f"{row[c]:.4g}" if isinstance(row.get(c), float) else str(row.get(c, ""))
                                for c in cols) + " |\n"
    atomic_write_text(out / "bench_3d_composite.md", md)
    print(md)


if __name__ == "__main__":
    main()
    if os.environ.get("BENCH3D_COMPOSITE", "1") != "0":
        composite()
