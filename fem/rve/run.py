"""`python -m fem run` for `[geometry] model = "rve"`: mesh the cell (meshes/rve.py), compute the
effective stiffness (fem/rve/solve.py) and write out/summary.json. Serial; no time stepping.

summary.json: `effective_stiffness_MPa` (6x6, periodic RVE, Voigt order xx yy zz yz xz xy,
engineering shear, z through the thickness), `voigt_order`, `invariants` (diagonal, bulk-type
averages, engineering constants), with `bounds` = true also `kubc_stiffness_MPa`,
`subc_stiffness_MPa`, their invariants and `bounds_check`; for a laminate `backus_stiffness_MPa`
and `backus_rel_error` (max |C - C_Backus| / max |C_Backus|); `mesh` (cells, nodes, sizes, volumes),
`dofs`, `independent_dofs`, checks (`mean_strain_error`, `asymmetry_rel`), timings, `fingerprint`,
`parameters`.
"""
from __future__ import annotations

import platform
import sys
import time
from pathlib import Path

import numpy as np

from fem import __version__


def compute(study, progress=None) -> dict:
    """The summary dict of an RVE study (no files written)."""
    import dolfinx_solver  # noqa: F401
    from mpi4py import MPI

    from fem.rve.backus import VOIGT, laminate_stiffness, material_stiffness
    from fem.rve.solve import BOUNDARY_CONDITIONS, effective_stiffness, invariants
    from meshes.rve import LaminateCell, load_mesh

    say = progress or (lambda s: None)
    t0 = time.perf_counter()
    cell = study.cell
    say(f"{study.name}: meshing the {study.microstructure} cell (mesh size {study.mesh_size_mm:g} mm)")
    mesh, cell_tags, report = load_mesh(cell, MPI.COMM_SELF)
    t_mesh = time.perf_counter() - t0
    bcs = BOUNDARY_CONDITIONS if study.bounds else ("periodic",)
    say(f"  {report['n_tets']} tets; solving {', '.join(bcs)} (P{study.element_degree})")
    res = effective_stiffness(mesh, cell_tags, cell.box, study.tag_materials(), study.fibre_direction(),
                              degree=study.element_degree, bcs=bcs, progress=say)
    C = res["stiffness"]["periodic"]
    s = {"model": "rve", "microstructure": study.microstructure, "voigt_order": list(VOIGT),
         "effective_stiffness_MPa": C.tolist(), "invariants": invariants(C),
         "cell_box_mm": list(cell.box), "element_degree": study.element_degree,
         "dofs": res["dofs"], "independent_dofs": res["independent_dofs"],
         "mesh": {"cells": res["cells"], "nodes": res["nodes"], "mesh_size_mm": study.mesh_size_mm,
                  "tets_gmsh": report.get("n_tets"), "quality_sicn": report.get("quality_sicn"),
                  "mesh_volume_rel_error": res["mesh_volume_rel_error"],
                  "periodic_faces": report.get("periodic_faces")},
         "mean_strain_error": res["mean_strain_error"], "asymmetry_rel": res["asymmetry_rel"],
         "mesh_s": t_mesh, "assembly_s": res["assembly_s"], "solve_s": res["solve_s"]}
    if "kubc" in res["stiffness"]:
        s["kubc_stiffness_MPa"] = res["stiffness"]["kubc"].tolist()
        s["subc_stiffness_MPa"] = res["stiffness"]["subc"].tolist()
        s["kubc_invariants"] = invariants(res["stiffness"]["kubc"])
        s["subc_invariants"] = invariants(res["stiffness"]["subc"])
        s["bounds_check"] = res["bounds_check"]
        s["subc_support_reaction_rel"] = res["subc_support_reaction_rel"]
    if isinstance(cell, LaminateCell):
        mats = [material_stiffness(study.materials[m]) for m in cell.layer_materials]
        B = laminate_stiffness(mats, cell.layer_thickness_mm)
        s["backus_stiffness_MPa"] = B.tolist()
        s["backus_rel_error"] = float(np.abs(C - B).max() / np.abs(B).max())
        s["volume_fractions"] = cell.volume_fractions()
    else:
        s["design"] = report.get("design")
        s["mesh"]["mesh_sizes_mm"] = report.get("mesh_sizes_mm")
        s["mesh"]["volumes_mm3"] = {"geometry": report.get("achieved_volumes_mm3"), "mesh": report.get("mesh_volumes_mm3"),
                                    "target": (report.get("design") or {}).get("target_volumes_mm3")}
        vt = sum(report["mesh_volumes_mm3"].values())
        s["volume_fractions"] = {k: v / vt for k, v in report["mesh_volumes_mm3"].items()}
    s.update({"wall_time_s": time.perf_counter() - t0, "fingerprint": study.fingerprint(),
              "parameters": study.to_dict(), "version": __version__, "python": platform.python_version(),
              "host": platform.node()})
    return s


def run_rve_cli(study, out: Path, quiet: bool = False) -> int:
    """Run an RVE study into `out` (summary.json); exit code of `python -m fem run`."""
    from fem.stepping.outputs import atomic_write_text
    from fem.workflows import strict_json

    say = (lambda s: None) if quiet else (lambda s: print(f"[rve] {s.strip()}", flush=True))   # "[": sweep progress
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        print(f"error: --out {out}: cannot create the output directory ({e.strerror or e})", file=sys.stderr)
        return 2
    try:
        s = compute(study, progress=say)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (RuntimeError, ValueError) as e:
        print(f"error: solve failed: {' '.join(str(e).split())}", file=sys.stderr)
        return 1
    try:
        atomic_write_text(out / "summary.json", strict_json.dumps(s) + "\n")
    except OSError as e:
        print(f"error: cannot write {out / 'summary.json'} ({e.strerror or e})", file=sys.stderr)
        return 2
    if not quiet:
        C = np.asarray(s["effective_stiffness_MPa"])
        print(f"\n{study.name}: effective stiffness (MPa; xx yy zz yz xz xy, engineering shear):")
        for row in C:
            print("  " + " ".join(f"{v:11.5g}" for v in row))
        if "bounds_check" in s:
            inv = s["invariants"], s["kubc_invariants"], s["subc_invariants"]
            print("  SUBC <= periodic <= KUBC: " + ", ".join(
                f"{k} {inv[2][k]:.5g} <= {inv[0][k]:.5g} <= {inv[1][k]:.5g}" for k in ("C_zzzz", "C_xzxz", "C_xyxy", "bulk_voigt_MPa")
                if k in inv[0]))
            b = s["bounds_check"]
            print(f"  smallest eigenvalues (rel.): KUBC - periodic {b['min_eig_kubc_minus_periodic_rel']:.3g}, "
                  f"periodic - SUBC {b['min_eig_periodic_minus_subc_rel']:.3g}")
        if "backus_rel_error" in s:
            print(f"  Backus (exact laminate) relative error {s['backus_rel_error']:.2e}")
        print(f"{s['dofs']} dofs, {s['mesh']['cells']} cells, wall time {s['wall_time_s']:.1f} s\nresults: {out}/summary.json")
    return 0
