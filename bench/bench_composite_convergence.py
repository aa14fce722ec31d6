"""Mesh convergence of the composite (G-LiCFC) model's elastic response (not a test; `make bench`).

3 mm quarter composite disc (meshes/composite.py defaults from the paper's masses, void fraction
0.01), frictionless platens, 5.19 MPa applied at once, no creep (A = 0): thickness and diameter
change, mean von Mises stress in the tows, GPE volume change and pore closure for mesh sizes
0.3, 0.2, 0.15 and 0.1 mm. Writes results/bench/<date>/composite_convergence.{json,md}.
BENCH_CONV_SIZES (comma separated, mm) overrides the sizes.
"""
from __future__ import annotations

import datetime
import json
import os
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main():
    import dolfinx_solver  # noqa: F401
    from fem.stepping.outputs import atomic_write_text
    from fem.stepping.run import run_case
    from fem.study import parse_study

    out = ROOT / "results" / "bench" / datetime.date.today().isoformat()
    out.mkdir(parents=True, exist_ok=True)
    sizes = [float(v) for v in os.environ.get("BENCH_CONV_SIZES", "0.3,0.2,0.15,0.1").split(",")]
    rows = []
    for h in sizes:
        d = {"geometry": {"model": "composite", "diameter_mm": 3.0, "mesh_size_mm": h},
             "composite": {"void_fraction": 0.01},
             "li": {"youngs_modulus_MPa": 7820.0, "poisson_ratio": 0.381, "creep_A": 0.0, "creep_n": 6.56},
             "platen": {"friction": "frictionless"},
             "load": [{"pressure_MPa": 5.19, "ramp_s": 0.0, "hold_s": 1.0}], "output": {"fields": False}}
        t0 = time.perf_counter()
        s = run_case(parse_study(d, name=f"conv_h{h}"), out / f"composite_conv_h{h}", progress=False)
        ph = s["phases"]
        rows.append({"mesh_size_mm": h, "cells": s["cells"], "dofs": s["dofs"], "wall_s": time.perf_counter() - t0,
                     "thickness_change_pct": s["thickness_change_pct"], "diameter_change_pct": s["diameter_change_pct"],
                     "tow_mean_von_mises_MPa": ph["carbon"]["mean_von_mises_MPa"],
                     "gpe_volume_change_pct": ph["gpe"]["volume_change_pct"],
                     "void_closure_pct": ph["void"]["void_closure_pct"]})
        print(json.dumps(rows[-1]), flush=True)
    atomic_write_text(out / "composite_convergence.json", json.dumps(rows, indent=2) + "\n")
    cols = list(rows[0])
    md = ("# Composite elastic response vs mesh size (3 mm disc, 5.19 MPa, frictionless, no creep)\n\n| "
          + " | ".join(cols) + " |\n|" + "---|" * len(cols) + "\n"
          + "\n".join("| " + " | ".join(f"{r[c]:.5g}" if isinstance(r[c], float) else str(r[c]) for c in cols) + " |"
                      for r in rows) + "\n")
    atomic_write_text(out / "composite_convergence.md", md)
    print(md)


if __name__ == "__main__":
    main()
