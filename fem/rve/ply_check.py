"""The fitted ply law OUTSIDE its table: a creep test at constant stress, the regime of the disc's
hold, on the periodic RVE cell (fem/rve/creep.py) and on the law at one point (fem/rve/ply_fit.py),
side by side. Units: mm, MPa, s.

The tables (fem/rve/ply_tables.py) load the cell at constant strain RATES (1e-4 to 1e-2 /s) and, since
session 12, hold 10 and 30 MPa confined for 61 s (CREEP_TESTS, fitted too); a disc between platens holds
a STRESS for a minute, and its ply creeps at 1e-5 to 1e-3 /s. For any other stress, mode or hold the
fit says nothing about that path, so this check loads both the cell and the law with the
through-thickness mean stress -S held from the first step (the cell's mixed control: applied in one
step of t_end / steps, then held) for t_end s, in two modes:
    confined     E_xx = E_yy = 0 and no shear (the ply in a wide disc: its tows hold the plane)
    unconfined   every other mean stress 0 (a bound: the plane free)
and reports the through-thickness strain of both at the end, their relative difference and the Li's
mean creep strain in the cell. The cell costs 2-5 min on one core at 0.3 mm (not in `make test`).

    python -m fem.rve.ply_check STUDY [--stress 30] [--mode confined|unconfined] [--hold 61] [--steps 61]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from fem.rve.ply_tables import CREEP_MODES as MODES  # the confined / unconfined controls


def law_creep(fit: dict, mode: str, stress_MPa: float, t_end: float, steps: int) -> dict:
    """The fitted law's strain history under the creep test (Voigt, engineering shear)."""
    from fem.rve.ply_fit import held_stress_strain, point_law
    closure = [0.0]
    strain = held_stress_strain(point_law(fit), MODES[mode], 2, stress_MPa, t_end, steps, closure=closure)
    return {"t_s": np.linspace(0.0, t_end, steps + 1).tolist(), "E": strain.tolist(),
            "pore_closure": (np.asarray(closure) / max(fit.get("porosity", 0.0), 1e-300)).tolist()}


def cell_creep(composite, materials: dict, mesh_size_mm: float, mode: str, stress_MPa: float, t_end: float,
               steps: int, progress=None, pores: str = "neo-hookean") -> dict:
    """The RVE cell of the table (its pores) under the same creep test."""
    from fem.rve.ply_tables import cell_creep_solver
    rc, _, _ = cell_creep_solver(composite, materials, mesh_size_mm, pores)
    target = np.zeros(6)
    target[2] = -stress_MPa
    return rc.run(MODES[mode], np.zeros(6), target, t_end, steps, progress=progress, rtol=1e-8)


def main(argv=None) -> int:
    from fem.rve import ply_fit, ply_tables
    from fem.stepping.outputs import atomic_write_text
    from fem.study import StudyError, parse_study, read_study_toml
    from fem.workflows.sweep import first_values
    ap = argparse.ArgumentParser(prog="python -m fem.rve.ply_check", description=__doc__.splitlines()[0])
    ap.add_argument("study", help="a composite_homogenised study with ply_law = \"rve_creep\" (its table and fit)")
    ap.add_argument("--stress", type=float, default=30.0, help="through-thickness compression held, MPa (0.1-200)")
    ap.add_argument("--mode", choices=sorted(MODES), default="confined")
    ap.add_argument("--hold", type=float, default=61.0, help="duration, s (0.1-1e5)")
    ap.add_argument("--steps", type=int, default=61, help="uniform steps (2-2000)")
    ap.add_argument("--out", default=None, help="default: results/ply_check/<study>_<mode>_<stress>MPa.json")
    a = ap.parse_args(argv)
    for name, v, lo, hi in (("--stress", a.stress, 0.1, 200.0), ("--hold", a.hold, 0.1, 1e5), ("--steps", a.steps, 2, 2000)):
        if not lo <= v <= hi:
            print(f"error: {name} {v}: must be {lo:g} <= {name[2:]} <= {hi:g}", file=sys.stderr)
            return 2
    try:
        data = first_values(read_study_toml(a.study))
        study = parse_study(data, name=Path(a.study).stem)
    except StudyError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if study.model != "composite_homogenised" or study.geometry.ply_law != "rve_creep":
        print(f"error: {a.study}: [geometry] must have model = \"composite_homogenised\" and ply_law = \"rve_creep\"",
              file=sys.stderr)
        return 2
    mats = {"li": study.li, **study.materials}
    tp = ply_tables.disc_table_path(study.geometry, mats)   # exists: parse_study refuses a rve_creep study without it
    fit = ply_fit.fitted_ply(tp, mats)
    law = law_creep(fit, a.mode, a.stress, a.hold, a.steps)
    print(f"law:  E_zz {law['E'][-1][2]:.6g} after {a.hold:g} s at -{a.stress:g} MPa ({a.mode}), "
          f"pore closure {100 * law['pore_closure'][-1]:.1f} %", flush=True)
    t0 = time.perf_counter()
    cell = cell_creep(study.geometry.composite, mats, study.geometry.ply_rve_mesh_size_mm, a.mode, a.stress, a.hold,
                      a.steps, progress=lambda s: print(s, flush=True), pores=study.geometry.ply_rve_pores)
    ez_law, ez_cell = law["E"][-1][2], cell["E"][-1][2]
    out = {"study": str(a.study), "table": str(tp), "mode": a.mode, "stress_MPa": a.stress, "hold_s": a.hold,
           "steps": a.steps, "law": law, "cell": cell, "E_zz_law": ez_law, "E_zz_cell": ez_cell,
           "rel_difference": (ez_law - ez_cell) / abs(ez_cell), "cell_wall_s": time.perf_counter() - t0}
    print(f"cell: E_zz {ez_cell:.6g}, Li mean creep strain {cell['li_creep_strain_mean'][-1]:.4g} "
          f"({out['cell_wall_s']:.0f} s); law - cell: {100 * out['rel_difference']:+.1f} % of the cell's strain")
    path = Path(a.out) if a.out else Path("results/ply_check") / f"{Path(a.study).stem}_{a.mode}_{a.stress:g}MPa.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(out) + "\n")
    print(f"written: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
