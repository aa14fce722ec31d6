"""Benchmark of the axisymmetric path (not a test): `make bench`.

Cases: 15 mm x 0.5 mm Li disc, constant nominal pressure 5 MPa held 600 s, frictionless and
Coulomb mu = 0.2, at two mesh sizes. Reports dofs, steps, Newton iterations per step, wall time
(after the JIT), microseconds per dof per Newton iteration, and the error against the analytic
constant-force creep solution where one exists (frictionless). Writes
results/bench/<date>/bench.json and bench.md.
"""
from __future__ import annotations

import datetime
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import dolfinx_solver  # noqa: E402,F401

from fem import analytic  # noqa: E402
from fem.io import atomic_write_text  # noqa: E402
from fem.run import run_case  # noqa: E402
from fem.study import parse_study  # noqa: E402

P, HOLD = 5.0, 600.0


def study(mesh_size, friction, mu=0.0, hold=HOLD):
    d = {"geometry": {"model": "axisymmetric", "diameter_mm": 15.0, "thickness_mm": 0.5, "mesh_size_mm": mesh_size},
         "li": {"youngs_modulus_MPa": 7820.0, "poisson_ratio": 0.381, "creep_A": 7.7e-3, "creep_n": 6.56},
         "platen": {"friction": friction, **({"mu": mu} if friction == "coulomb" else {})},
         "load": [{"pressure_MPa": P, "ramp_s": 0.0, "hold_s": hold}],
         "output": {"fields": False}}
    return parse_study(d, name=f"{friction}_h{mesh_size}")


def main():
    out = ROOT / "results" / "bench" / datetime.date.today().isoformat()
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    run_case(study(0.125, "coulomb", 0.2, hold=0.1), out / "warmup", progress=False)  # JIT + mesh cache
    jit = time.perf_counter() - t0
    rows = []
    for h in (0.0625, 0.03125):
        for fr, mu in (("frictionless", 0.0), ("coulomb", 0.2)):
            s = study(h, fr, mu)
            t = time.perf_counter()
            r = run_case(s, out / s.name, progress=False)
            wall = time.perf_counter() - t
            row = {"case": s.name, "mesh_size_mm": h, "friction": fr, "mu": mu, "dofs": r["dofs"],
                   "steps": r["time_steps"], "rejected": r["rejected_steps"],
                   "newton_iterations": r["newton_iterations"],
                   "newton_per_step": r["newton_iterations"] / r["time_steps"],
                   "wall_s": wall, "us_per_dof_per_newton": 1e6 * wall / (r["dofs"] * r["newton_iterations"]),
                   "thickness_change_pct": r["thickness_change_pct"],
                   "diameter_change_pct": r["diameter_change_pct"]}
            if fr == "frictionless":
                te, de = analytic.creep_changes_pct(s.li, P, HOLD)
                row["thickness_error_rel"] = (r["thickness_change_pct"] - te) / te
                row["diameter_error_rel"] = (r["diameter_change_pct"] - de) / de
            rows.append(row)
            print(json.dumps(row), flush=True)
    meta = {"date": datetime.datetime.now().isoformat(timespec="seconds"), "cpus": os.cpu_count(),
            "first_run_incl_jit_s": jit, "pressure_MPa": P, "hold_s": HOLD}
    atomic_write_text(out / "bench.json", json.dumps({"meta": meta, "cases": rows}, indent=2) + "\n")
    cols = ["case", "dofs", "steps", "rejected", "newton_per_step", "wall_s", "us_per_dof_per_newton",
            "thickness_change_pct", "diameter_change_pct", "thickness_error_rel"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        lines.append("| " + " | ".join(f"{r.get(c, ''):.4g}" if isinstance(r.get(c), float) else str(r.get(c, ""))
                                       for c in cols) + " |")
    md = f"# Axisymmetric benchmark {meta['date']}\n\nwarm-up run incl. JIT: {jit:.1f} s\n\n" + "\n".join(lines) + "\n"
    atomic_write_text(out / "bench.md", md)
    print(md)
    print(f"written: {out}/bench.json, {out}/bench.md")


if __name__ == "__main__":
    main()
