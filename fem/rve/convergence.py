"""Mesh-convergence table of an RVE sweep (e.g. `make sweep STUDY=studies/composite_rve.toml`):

    .venv/bin/python -m fem.rve.convergence results/composite_rve [--markdown]

reads every <case>/summary.json with `effective_stiffness_MPa` under the folder and prints, per
mesh size (coarse to fine): dofs, the diagonal terms and C_xxyy, C_xxzz of the periodic RVE (MPa),
the relative change of each against the finest mesh, and the KUBC / SUBC zz and xy terms. Units: MPa.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

TERMS = (("xx", 0, 0), ("yy", 1, 1), ("zz", 2, 2), ("yz", 3, 3), ("xz", 4, 4), ("xy", 5, 5),
         ("xxyy", 0, 1), ("xxzz", 0, 2))


def rows(folder: str | Path) -> list[dict]:
    out = []
    for f in sorted(Path(folder).glob("*/summary.json")):
        try:
            s = json.loads(f.read_text())
        except (OSError, ValueError):
            continue
        if "effective_stiffness_MPa" not in s:
            continue
        C = s["effective_stiffness_MPa"]
        r = {"case": f.parent.name, "mesh_size_mm": s["mesh"]["mesh_size_mm"], "degree": s.get("element_degree"),
             "dofs": s["dofs"], "cells": s["mesh"]["cells"], "wall_s": s.get("wall_time_s")}
        r.update({f"C_{n}": C[i][j] for n, i, j in TERMS})
        for bc in ("kubc", "subc"):
            if f"{bc}_stiffness_MPa" in s:
                B = s[f"{bc}_stiffness_MPa"]
                r[f"{bc}_zz"], r[f"{bc}_xy"] = B[2][2], B[5][5]
        out.append(r)
    out.sort(key=lambda r: (-r["mesh_size_mm"], r["dofs"]))
    if out:
        fine = out[-1]
        for r in out:
            r["max_rel_change_vs_finest"] = max(abs(r[f"C_{n}"] / fine[f"C_{n}"] - 1.0) for n, i, j in TERMS[:6])
    return out


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    rs = rows(argv[0])
    if not rs:
        print(f"error: no RVE summary.json under {argv[0]}", file=sys.stderr)
        return 1
    cols = ["mesh_size_mm", "degree", "dofs"] + [f"C_{n}" for n, _, _ in TERMS] + \
           ["kubc_zz", "subc_zz", "kubc_xy", "subc_xy", "max_rel_change_vs_finest", "wall_s"]
    fmt = lambda v: f"{v:.6g}" if isinstance(v, float) else str(v)   # noqa: E731
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for r in rs:
        print("| " + " | ".join(fmt(r.get(c, "")) for c in cols) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
