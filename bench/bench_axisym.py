"""Benchmark suite of the axisymmetric path (not a test): `make bench`.

Cases (15 mm x 0.5 mm Li disc, mid-plane symmetry; units mm, N, MPa, s):
  A. frictionless, constant force 5 MPa, 600 s, Norton A = 1e-5 MPa^-n s^-1, n = 6.56 (the
     CalculiX reference case of issue 5) at three mesh sizes, default trapezoidal integrator
     with error control; on the middle mesh also a tighter tolerance and the first-order
     backward Euler with the old fixed creep-increment cap, for comparison;
  B. the same with Coulomb friction mu = 0.2 (time error against a time_tolerance = 1e-4 run);
  C. a load history 5.19 -> 17.79 MPa (literature A = 7.7e-3, mu = 0.2, 60 s holds);
  D. CalculiX (CAX8R, *CREEP LAW=NORTON, *VISCO) on the case-A problem when `ccx` is installed,
     and the time ratio at equal accuracy: in-process (our run only) and process to process
     (`python -m fem run` as a user starts it: interpreter, imports, cached forms and numba
     kernels, the run and its files; best of 3), side by side in one bench run.
For each case: dofs, time steps, rejected steps, Newton iterations, linear solves, wall time
split into mesh, setup (+JIT, cached), assembly, linear solve, constitutive update, friction,
I/O, microseconds per dof per Newton iteration, and the error against the exact homogeneous
solution (case A). The cold-start JIT cost is measured in a subprocess with an empty cache.
Writes results/bench/<date>/bench.json and bench.md.

Environment: BENCH_QUICK=1 runs only the coarse mesh of each case (a smoke run);
BENCH_CASES=AD (letters) runs a subset of the cases.
"""
from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
import dolfinx_solver  # noqa: E402,F401

import numpy as np  # noqa: E402

from fem.verification import analytic  # noqa: E402
from fem.stepping.outputs import atomic_write_text  # noqa: E402
from fem.stepping.run import run_case  # noqa: E402
from fem.study import parse_study  # noqa: E402
from fem.physics.creep_point import kernel_threads  # noqa: E402

P, HOLD, A_REF = 5.0, 600.0, 1e-5
MESHES = (0.125, 0.0625, 0.03125)       # mm; 0.125 ~ CalculiX 4 x 60 (full thickness), 0.0625 ~ 8 x 120
# CalculiX reference mesh of issue 5: 60 radial x 4 axial CAX8R over the half thickness, 849 nodes
# (radial size 0.125 mm, axial 0.0625 mm); compared with our h = 0.125 mesh (P2 triangles)
CCX_MESH = (60, 4)
CCX_CETOL = 1e-4   # gives -0.02 % thickness error; CETOL does not limit its steps above ~1e-5
ISSUE_ERROR = 5e-4  # issue 15: the process-to-process ratio "at <= 0.05 % error" (thickness, relative)


def study(name, mesh_size, friction="frictionless", mu=0.0, A=A_REF, load=None, time_settings=None):
    return parse_study(study_dict(mesh_size, friction, mu, A, load, time_settings), name=name)


def study_dict(mesh_size, friction="frictionless", mu=0.0, A=A_REF, load=None, time_settings=None):
    return {"geometry": {"model": "axisymmetric", "diameter_mm": 15.0, "thickness_mm": 0.5, "mesh_size_mm": mesh_size},
         "li": {"youngs_modulus_MPa": 7820.0, "poisson_ratio": 0.381, "creep_A": A, "creep_n": 6.56},
         "platen": {"friction": friction, **({"mu": mu} if friction == "coulomb" else {})},
         "load": load or [{"pressure_MPa": P, "ramp_s": 0.0, "hold_s": HOLD}],
         "time": time_settings or {},
         "output": {"fields": False}}


def run(s, out):
    t = time.perf_counter()
    r = run_case(s, out / s.name, progress=False)
    wall = time.perf_counter() - t
    tm = r["timings_s"]
    row = {"case": s.name, "mesh_size_mm": s.geometry.mesh_size_mm, "friction": s.platen.friction,
           "integrator": s.time.integrator, "time_tolerance": s.time.time_tolerance,
           "dofs": r["dofs"], "steps": r["time_steps"], "rejected": r["rejected_steps"],
           "newton_iterations": r["newton_iterations"], "newton_per_step": r["newton_iterations_per_step"],
           "linear_solves": r["linear_solves"], "wall_s": wall,
           "us_per_dof_per_newton": 1e6 * wall / (r["dofs"] * max(r["newton_iterations"], 1)),
           # the kernel target of issue 15: assembly (residual + Jacobian) plus constitutive update
           # (return map, stress, tangent, state commit) per unknown and Newton iteration
           "kernel_us_per_dof_per_newton": 1e6 * (tm.get("assembly", 0.0) + tm.get("constitutive", 0.0))
           / (r["dofs"] * max(r["newton_iterations"], 1)),
           "linear_solver": r.get("linear_solver"),
           "thickness_change_pct": r["thickness_change_pct"], "diameter_change_pct": r["diameter_change_pct"],
           **{f"t_{k}_s": v for k, v in tm.items()}}
    return row


def process_seconds(d: dict, out: Path) -> tuple[float, dict]:
    """Wall time of `python -m fem run` on the study, process to process (interpreter start, imports,
    cached forms and kernels, mesh from the cache, the run, the output files), and its summary."""
    from fem.workflows.sweep import to_toml
    out.mkdir(parents=True, exist_ok=True)
    toml = out / "study.toml"
    toml.write_text(to_toml(d))
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "fem", "run", str(toml), "--out", str(out / "run"), "--quiet", "--restart"],
                   check=True, cwd=ROOT, capture_output=True)
    wall = time.perf_counter() - t
    return wall, json.loads((out / "run" / "summary.json").read_text())


def process_best_of_3(tol: float, out: Path) -> tuple[list, dict]:
    """Three process-to-process runs of case A at mesh 0.125 mm and time_tolerance `tol`: their wall
    times (s) and the last summary."""
    walls = []
    for _ in range(3):
        w, summ = process_seconds(study_dict(0.125, time_settings={"time_tolerance": tol}), out)
        walls.append(w)
    return walls, summ


def cold_jit_seconds() -> float:
    """Setup time of a first model with an empty form cache (fresh subprocess)."""
    code = ("import sys, dolfinx_solver, json, time\n"
            "from fem.stepping.run import run_case\nfrom fem.study import parse_study\n"
            "d = {'geometry': {'model': 'axisymmetric', 'diameter_mm': 15.0, 'thickness_mm': 0.5, 'mesh_size_mm': 0.25},"
            " 'li': {'youngs_modulus_MPa': 7820.0, 'poisson_ratio': 0.381, 'creep_A': 1e-5, 'creep_n': 6.56},"
            " 'platen': {'friction': 'frictionless'}, 'load': [{'pressure_MPa': 5.0, 'ramp_s': 0.0, 'hold_s': 0.0}],"
            " 'output': {'fields': False}}\n"
            "r = run_case(parse_study(d), sys.argv[1], progress=False)\n"
            "print(json.dumps(r['timings_s']))\n")
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, XDG_CACHE_HOME=tmp)
        out = subprocess.run([sys.executable, "-c", code, str(Path(tmp) / "run")], env=env, capture_output=True,
                             text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["setup_and_jit"]


def main():
    quick = bool(os.environ.get("BENCH_QUICK"))
    cases = os.environ.get("BENCH_CASES", "ABCD").upper()
    meshes = MESHES[:1] if quick else MESHES
    out = ROOT / "results" / "bench" / datetime.date.today().isoformat()
    out.mkdir(parents=True, exist_ok=True)
    from fem import aot
    print(f"kernels: {aot.build(quiet=True)}", flush=True)   # the ahead-of-time kernels (as make does)
    t0 = time.perf_counter()
    run_case(study("warmup", 0.125, "coulomb", 0.2, load=[{"pressure_MPa": P, "ramp_s": 0.0, "hold_s": 0.1}]),
             out / "warmup", progress=False)   # JIT (cached) + mesh cache
    warm = time.perf_counter() - t0
    cold = cold_jit_seconds()
    print(f"cold-start form compilation (empty cache): {cold:.1f} s; warm-up run {warm:.1f} s", flush=True)

    rows = []

    def record(row):
        rows.append(row)
        keep = ("case", "dofs", "steps", "rejected", "newton_per_step", "wall_s", "thickness_change_pct",
                "thickness_error_rel")
        print(json.dumps({k: row[k] for k in keep if k in row}), flush=True)

    mat = study("x", 0.125).li
    t_exact, d_exact = analytic.creep_changes_exact_pct(mat, P, HOLD)
    t_plain, _ = analytic.creep_changes_pct(mat, P, HOLD)

    def with_error(row):
        row["thickness_error_rel"] = (row["thickness_change_pct"] - t_exact) / t_exact
        row["diameter_error_rel"] = (row["diameter_change_pct"] - d_exact) / d_exact
        row["thickness_error_vs_rigid_plastic_rel"] = (row["thickness_change_pct"] - t_plain) / t_plain
        return row

    # A. frictionless, analytic reference
    for h in (meshes if "A" in cases else ()):
        record(with_error(run(study(f"A_frictionless_h{h}", h), out)))
    if "A" in cases:   # the same meshes with a serial creep kernel (one thread; the rows above use all cores)
        os.environ["FEM_KERNEL_THREADS"] = "1"
        try:
            for h in meshes:
                record(with_error(run(study(f"A_frictionless_h{h}_serial", h), out)))
        finally:
            os.environ.pop("FEM_KERNEL_THREADS", None)
    if not quick and "A" in cases:
        record(with_error(run(study("A_frictionless_h0.0625_tol1e-3", 0.0625, time_settings={"time_tolerance": 1e-3}), out)))
        record(with_error(run(study("A_frictionless_h0.0625_BE_cap0.01", 0.0625, time_settings={
            "integrator": "backward_euler", "time_tolerance": 0.0, "max_creep_increment": 0.01}), out)))
    # B. Coulomb
    for h in (meshes if "B" in cases else ()):
        record(run(study(f"B_coulomb_h{h}", h, "coulomb", 0.2), out))
    if not quick and "B" in cases:
        ref = run(study("B_coulomb_h0.0625_tol1e-4", 0.0625, "coulomb", 0.2, time_settings={"time_tolerance": 1e-4}), out)
        record(ref)
        for r in rows:
            if r["case"] == "B_coulomb_h0.0625":
                r["thickness_error_rel"] = (r["thickness_change_pct"] - ref["thickness_change_pct"]) / ref["thickness_change_pct"]
                r["diameter_error_rel"] = (r["diameter_change_pct"] - ref["diameter_change_pct"]) / ref["diameter_change_pct"]
    # C. load history
    hist = [{"pressure_MPa": 5.19, "ramp_s": 1.0, "hold_s": 60.0}, {"pressure_MPa": 17.79, "ramp_s": 1.0, "hold_s": 60.0}]
    if "C" in cases:
        record(run(study("C_history_5.19_17.79_h0.0625" if not quick else "C_history_h0.125",
                         0.0625 if not quick else 0.125, "coulomb", 0.2, A=7.7e-3, load=hist), out))

    # cost per Newton iteration vs dofs (case A meshes)
    scaling = None
    a_rows = [r for r in rows if r["case"].startswith("A_frictionless_h") and "_" not in r["case"][len("A_frictionless_h"):]]
    if len(a_rows) >= 2:
        n = np.log([r["dofs"] for r in a_rows])
        c = np.log([r["wall_s"] / r["newton_iterations"] for r in a_rows])
        scaling = float(np.polyfit(n, c, 1)[0])

    # D. CalculiX on the case-A problem, and our run at equal (or better) accuracy
    ccx_rows = []
    from fem.verification import calculix
    have_ccx = calculix.ccx_available() and not quick and "D" in cases
    if have_ccx:
        nr, nz = CCX_MESH
        tol_ours = None
        # equal cores side by side: CalculiX on 1 thread against our run with a serial creep
        # kernel, then 2 threads (OMP_NUM_THREADS, CCX_NPROC_*) against 2 kernel threads
        for threads in (1, 2):
            c = calculix.run_calculix(out / f"ccx_nr{nr}_nz{nz}_ce{CCX_CETOL:g}_t{threads}", nr, nz, cetol=CCX_CETOL,
                                      threads=threads)
            c = {k: v for k, v in c.items() if not isinstance(v, (list, dict))}
            if not c.get("ok"):
                raise RuntimeError(f"CalculiX run failed: {c.get('error')}")
            c.update({"case": f"D_calculix_{nr}x{nz}_cetol{CCX_CETOL:g}", "cetol": CCX_CETOL, "threads": threads})
            # CalculiX's error against the exact solution of *its* law (Simo neo-Hookean elasticity;
            # 67.25497 % vs 67.25305 % for ours: the two laws differ by 3e-5 relative at 600 s)
            c["thickness_error_rel"] = (c["thickness_change_pct"] - c["analytic_pct"]) / c["analytic_pct"]
            os.environ["FEM_KERNEL_THREADS"] = str(threads)
            try:
                # ours at equal accuracy: the loosest tolerance whose error is not larger than CalculiX's
                for tol in ((1e-2, 3e-3, 1e-3) if tol_ours is None else (tol_ours,)):
                    ours = with_error(run(study(f"D_ours_h0.125_tol{tol:g}_t{threads}", 0.125,
                                                time_settings={"time_tolerance": tol}), out))
                    record(ours)
                    if abs(ours["thickness_error_rel"]) <= abs(c["thickness_error_rel"]):
                        break
                tol_ours = ours["time_tolerance"]
                c["ours_case"] = ours["case"]
                c["ours_wall_s"] = ours["wall_s"]
                # the same run as a user starts it, process to process, right after CalculiX (best of 3)
                pw, summ = process_best_of_3(tol_ours, out / f"{ours['case']}_process")
                # the issue's criterion (issue 15): process to process at <= 0.05 % error, with the
                # loosest of the tolerances above that meets it
                for tol in (1e-2, 3e-3, 1e-3):
                    pw2, summ2 = process_best_of_3(tol, out / f"D_ours_h0.125_tol{tol:g}_t{threads}_issue_process")
                    err2 = (summ2["thickness_change_pct"] - t_exact) / t_exact
                    if abs(err2) <= ISSUE_ERROR:
                        break
            finally:
                os.environ.pop("FEM_KERNEL_THREADS", None)
            c["ours_process_wall_s"] = min(pw)
            c["ours_process_walls_s"] = pw
            c["process_ratio_ccx_over_ours"] = c["wall_s"] / c["ours_process_wall_s"]
            c["ours_process_thickness_error_rel"] = (summ["thickness_change_pct"] - t_exact) / t_exact
            c["ours_process_kernels"] = summ.get("kernels")
            c["issue_time_tolerance"] = tol
            c["issue_process_wall_s"] = min(pw2)
            c["issue_process_thickness_error_rel"] = err2
            c["issue_process_ratio_ccx_over_ours"] = c["wall_s"] / min(pw2)
            c["time_ratio_ccx_over_ours"] = c["wall_s"] / ours["wall_s"]
            c["cpu_ratio_ccx_over_ours"] = c.get("cpu_s", c["wall_s"]) / ours["wall_s"]
            c["agreement_thickness_rel"] = (ours["thickness_change_pct"] - c["thickness_change_pct"]) / c["thickness_change_pct"]
            c["agreement_diameter_rel"] = (ours["diameter_change_pct"] - c["diameter_change_pct"]) / c["diameter_change_pct"]
            ccx_rows.append(c)
            print(json.dumps({k: c.get(k) for k in ("case", "threads", "wall_s", "ours_wall_s", "ours_process_wall_s",
                                                    "process_ratio_ccx_over_ours", "thickness_error_rel",
                                                    "ours_process_thickness_error_rel")}), flush=True)

    meta = {"date": datetime.datetime.now().isoformat(timespec="seconds"), "cpus": os.cpu_count(),
            "cold_jit_s": cold, "warmup_run_s": warm, "pressure_MPa": P, "hold_s": HOLD, "creep_A_case_A": A_REF,
            "exact_thickness_change_pct": t_exact, "exact_diameter_change_pct": d_exact,
            "rigid_plastic_thickness_change_pct": t_plain,
            "newton_cost_exponent_vs_dofs": scaling, "calculix": have_ccx, "quick": quick,
            "kernel_threads": kernel_threads()}
    name = "bench" if cases == "ABCD" else f"bench_{cases}"
    atomic_write_text(out / f"{name}.json", json.dumps({"meta": meta, "cases": rows, "calculix": ccx_rows},
                                                     indent=2, default=float) + "\n")
    md = _markdown(meta, rows, ccx_rows)
    atomic_write_text(out / f"{name}.md", md)
    print(md)
    print(f"written: {out}/{name}.json, {out}/{name}.md")


def _fmt(v):
    if isinstance(v, float):
        return f"{v:.4g}"
    return "" if v is None else str(v)


def _markdown(meta, rows, ccx_rows):
    cols = ["case", "dofs", "steps", "rejected", "newton_per_step", "linear_solves", "wall_s",
            "us_per_dof_per_newton", "kernel_us_per_dof_per_newton", "thickness_change_pct", "diameter_change_pct",
            "thickness_error_rel", "diameter_error_rel"]
    tcols = ["case", "t_mesh_s", "t_setup_and_jit_s", "t_assembly_s", "t_solve_s", "t_constitutive_s",
             "t_friction_s", "t_io_s", "wall_s"]
    lines = [f"# Axisymmetric benchmark {meta['date']} ({meta['cpus']} CPUs, creep kernel on "
             f"{meta.get('kernel_threads', 1)} threads unless the case says _serial or _t1)", "",
             f"cold-start form compilation (empty cache): {meta['cold_jit_s']:.1f} s; "
             f"exact homogeneous solution (case A): thickness {meta['exact_thickness_change_pct']:.5f} %, "
             f"diameter {meta['exact_diameter_change_pct']:.5f} % (elasticity-free formula: "
             f"{meta['rigid_plastic_thickness_change_pct']:.5f} %)", ""]
    if meta["newton_cost_exponent_vs_dofs"] is not None:
        lines += [f"cost per Newton iteration ~ N^{meta['newton_cost_exponent_vs_dofs']:.2f} over the case-A meshes", ""]
    for cs in (cols, tcols):
        lines += ["| " + " | ".join(cs) + " |", "|" + "---|" * len(cs)]
        lines += ["| " + " | ".join(_fmt(r.get(c)) for c in cs) + " |" for r in rows]
        lines.append("")
    if ccx_rows:
        cc = ["case", "threads", "nodes", "increments", "cutbacks", "wall_s", "cpu_s", "thickness_change_pct",
              "thickness_error_rel", "ours_case", "ours_wall_s", "time_ratio_ccx_over_ours", "cpu_ratio_ccx_over_ours",
              "ours_process_wall_s", "process_ratio_ccx_over_ours", "ours_process_thickness_error_rel",
              "ours_process_kernels", "issue_time_tolerance", "issue_process_wall_s",
              "issue_process_thickness_error_rel", "issue_process_ratio_ccx_over_ours",
              "agreement_thickness_rel", "agreement_diameter_rel"]
        lines += ["## CalculiX", "", "| " + " | ".join(cc) + " |", "|" + "---|" * len(cc)]
        lines += ["| " + " | ".join(_fmt(r.get(c)) for c in cc) + " |" for r in ccx_rows]
        lines.append("")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
