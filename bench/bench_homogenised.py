"""Wall time of the homogenised G-LiCFC disc (not a test; `make bench`): the blind study's four
pressures with the elastic cloth ply (studies/composite_glicfc_homogenised.toml) and, where its
creep table exists, with the RVE-fitted creep ply (studies/composite_glicfc_homogenised_creep.toml),
each case run fresh in one process. Targets of issue 18: 60 s per disc, 5 min for the four pressures.
Writes results/bench/<date>/bench_homogenised.{json,md}. Units: s, %.
"""
from __future__ import annotations

import datetime
import json
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STUDIES = ("studies/composite_glicfc_homogenised.toml", "studies/composite_glicfc_homogenised_creep.toml")


def main():
    import dolfinx_solver  # noqa: F401
    from fem.stepping.outputs import atomic_write_text
    from fem.stepping.run import run_case
    from fem.study import StudyError
    from fem.workflows.sweep import load_sweep

    out = ROOT / "results" / "bench" / datetime.date.today().isoformat()
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for path in STUDIES:
        try:
            name, cases = load_sweep(ROOT / path)
        except StudyError as e:   # e.g. the creep table is missing: make ply-tables
            rows.append({"study": path, "case": "-", "status": f"skipped: {e}"})
            continue
        for c in cases:
            t0 = time.perf_counter()
            s = run_case(c.study, out / f"homogenised_{name}_{c.name}", progress=False, restart=True)
            rows.append({"study": path, "case": c.name, "status": "ok", "dofs": s["dofs"], "steps": s["time_steps"],
                         "wall_s": time.perf_counter() - t0, "thickness_change_pct": s["thickness_change_pct"],
                         "diameter_change_pct": s["diameter_change_pct"]})
            print(json.dumps(rows[-1]), flush=True)
    atomic_write_text(out / "bench_homogenised.json", json.dumps(rows, indent=2) + "\n")
    cols = ["study", "case", "status", "dofs", "steps", "wall_s", "thickness_change_pct", "diameter_change_pct"]
    md = ("# Homogenised G-LiCFC disc: wall time per pressure (one process)\n\n| " + " | ".join(cols) + " |\n|"
          + "---|" * len(cols) + "\n"
          + "\n".join("| " + " | ".join(f"{r[k]:.4g}" if isinstance(r.get(k), float) else str(r.get(k, "")) for k in cols)
                      + " |" for r in rows) + "\n")
    atomic_write_text(out / "bench_homogenised.md", md)
    print(f"written: {out}/bench_homogenised.md")


if __name__ == "__main__":
    main()
