"""Creep response tables of the G-LiCFC ply (issue 18 item 1): the periodic RVE of the Li region of
the disc (cloth + Li overlayers + pores, no gel skins: one plain-weave cell, meshes/rve.py WeaveCell)
loaded at constant strain rate in four modes and three rates, by fem/rve/creep.py. The effective ply
law (fem/rve/ply_fit.py) is fitted to these curves. Units: mm, MPa, s.

Five modes (Voigt xx yy zz yz xz xy, engineering shear; strain prescribed at the rate, or stress-free):
    confined    E_zz = -r t, the other five strains 0                 (to E_zz = -0.3 %)
    unconfined  E_zz = -r t, the other five stresses 0                (to -2 %)
    shear_xz    gamma_xz = r t, the other five stresses 0  (transverse shear, to 2 %)
    shear_xy    gamma_xy = r t, the other five stresses 0  (in-plane shear along the tows, to 2 %)
    inplane_xx  E_xx = -r t, the other five stresses 0      (compression along the warp tows, to -0.3 %;
                without it C11 - C12 is not identified: the other modes see only C11 + C12 and C66)
at r = 1e-4, 1e-3, 1e-2 /s, 30 uniform steps each (a 1 s tightening of a 0.36 mm disc by 1 % is
1e-2 /s; the holds creep at 1e-5 to 1e-3 /s). And two CREEP curves, the disc's regime (since session
12): the through-thickness mean stress held at 10 and 30 MPa for 61 s, confined (CREEP_TESTS;
`creep_curves`; `--add-creep` adds them to an existing table, 4-7 min on one core at 0.2 mm).

`make ply-tables` writes studies/data/ply_creep_<name>.json (versioned: the fit and the tests read
it, and `make test` does not rebuild it): the cell, the materials, the mesh, and per curve the time,
mean strain and mean stress histories. The cell's element size is the study's `[geometry]
ply_rve_mesh_size_mm` (0.2 mm by default: 25-60 min on one core; 0.3 mm: 15-35 min, not converged in plane,
docs/verification.md).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import platform
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

MODES = {
    "confined": (["strain"] * 6, 2, -1.0, 0.003),
    "unconfined": (["stress", "stress", "strain", "stress", "stress", "stress"], 2, -1.0, 0.02),
    "shear_xz": (["stress", "stress", "stress", "stress", "strain", "stress"], 4, 1.0, 0.02),
    "shear_xy": (["stress", "stress", "stress", "stress", "stress", "strain"], 5, 1.0, 0.02),
    "inplane_xx": (["strain", "stress", "stress", "stress", "stress", "stress"], 0, -1.0, 0.003),
}
RATES = (1e-4, 1e-3, 1e-2)
# Creep curves (the disc's regime: a held stress, not a strain rate): the through-thickness mean stress
# -S applied in the first step and held for CREEP_HOLD_S in CREEP_STEPS uniform steps, the other
# components as CREEP_MODES says (confined: the ply in a wide disc, its tows holding the plane).
CREEP_MODES = {"confined": ["strain", "strain", "stress", "strain", "strain", "strain"],
               "unconfined": ["stress"] * 6}
CREEP_TESTS = (("confined", 10.0), ("confined", 30.0))   # (mode, S in MPa)
CREEP_HOLD_S, CREEP_STEPS = 61.0, 61
STEPS = 30
DATA_DIR = Path("studies/data")
TABLE_VERSION = 3   # 3: the Li is B-bar (P2-P0) in the cell, which locked in creep flow before (fem/rve/creep.py)


def loadings(modes=MODES, rates=RATES):
    """The table's curves: (curve head {mode, rate_per_s, control, component}, the six strain rates
    (1/s, the loaded one signed), t_end (s)) for every mode and rate."""
    for mode, (control, j, sign, strain) in modes.items():
        for r in rates:
            rate = np.zeros(6)
            rate[j] = sign * r
            yield {"mode": mode, "rate_per_s": r, "control": control, "component": j}, rate, strain / r


def creep_curves(rc, tests=CREEP_TESTS, hold_s: float = CREEP_HOLD_S, steps: int = CREEP_STEPS,
                 progress=None) -> list[dict]:
    """The cell (an RveCreep) under the creep tests: per test its head {mode "<mode>_creep",
    stress_MPa, control, component 2, kind "creep"} and the history (t_s, E, Sigma_MPa, ...)."""
    say = progress or (lambda s: None)
    out = []
    for mode, S in tests:
        t1 = time.perf_counter()
        target = np.zeros(6)
        target[2] = -S
        # the whole stress in the first step: the neo-Hookean pores stiffen as they close, Newton may need
        # more iterations than a strain-rate step (the literature-Li cell at 30 MPa failed with 15, session 12)
        h = rc.run(CREEP_MODES[mode], np.zeros(6), target, hold_s, steps, rtol=1e-8, max_newton=40)
        out.append({"mode": f"{mode}_creep", "stress_MPa": S, "control": CREEP_MODES[mode], "component": 2,
                    "kind": "creep", **h})
        say(f"  {mode} creep at -{S:g} MPa for {hold_s:g} s: E_zz {h['E'][-1][2]:.4g}, "
            f"{time.perf_counter() - t1:.1f} s")
    return out


def li_region_cell(composite, mesh_size_mm: float):
    """The composite with no gel skins: its WeaveCell is the Li region of the disc (cloth, overlayers, pores)."""
    return replace(composite, gpe_thickness_mm=0.0, mesh_size_mm=mesh_size_mm)


def cell_creep_solver(composite, materials: dict, mesh_size_mm: float, pores: str = "neo-hookean"):
    """The RVE creep solver (fem/rve/creep.py RveCreep, its pores `pores`: its void_law) of the Li-region
    cell of a composite, serial: (solver, cell, mesh report). The tables below and the creep check
    (fem/rve/ply_check.py) load it."""
    import dolfinx_solver  # noqa: F401
    from mpi4py import MPI

    from fem.rve.config import RveStudy
    from fem.rve.creep import RveCreep
    from meshes.rve import WeaveCell, load_mesh
    cell = WeaveCell(li_region_cell(composite, mesh_size_mm))
    mesh, ct, report = load_mesh(cell, MPI.COMM_SELF)
    st = RveStudy("ply", cell, materials, bounds=False)
    return RveCreep(mesh, ct, cell.box, st.tag_materials(), st.fibre_direction(), void_law=pores), cell, report


def compute(composite, materials: dict, mesh_size_mm: float, modes=MODES, rates=RATES, steps: int = STEPS,
            progress=None, pores: str = "neo-hookean") -> dict:
    say = progress or (lambda s: None)
    t0 = time.perf_counter()
    rc, cell, report = cell_creep_solver(composite, materials, mesh_size_mm, pores)
    say(f"ply creep tables: cell {cell.box[3]:g} x {cell.box[4]:g} x {cell.box[5]:.4g} mm, {rc.dofs} dofs, "
        f"{len(modes) * len(rates)} curves")
    curves = []
    for head, rate, t_end in loadings(modes, rates):
        t1 = time.perf_counter()
        h = rc.run(head["control"], rate, np.zeros(6), t_end, steps, rtol=1e-8)
        curves.append({**head, **h})
        j = head["component"]
        say(f"  {head['mode']:10s} rate {head['rate_per_s']:g}/s: final Sigma_{j} {h['Sigma_MPa'][-1][j]:.4g} MPa, "
            f"Li creep strain {h['li_creep_strain_mean'][-1]:.3g}, {time.perf_counter() - t1:.1f} s")
    creep = creep_curves(rc, progress=say)
    vols = report.get("mesh_volumes_mm3") or {}
    vt = sum(vols.values()) or 1.0
    return {"version": TABLE_VERSION, "pores": pores, "composite": asdict(composite), "cell_box_mm": list(cell.box),
            "mesh_size_mm": mesh_size_mm, "dofs": rc.dofs, "volume_fractions": {k: v / vt for k, v in vols.items()},
            "materials": {k: asdict(v) for k, v in materials.items()}, "steps": steps, "curves": curves, "creep_curves": creep,
            "wall_s": time.perf_counter() - t0, "python": platform.python_version()}


def table_path(composite, materials: dict, mesh_size_mm: float, pores: str = "neo-hookean") -> Path:
    """Where the table of this ply (composite masses and weave, phase materials, the cell's pores) lives."""
    return DATA_DIR / f"ply_creep_{table_key(composite, materials, mesh_size_mm, pores)}.json"


def disc_table_path(geometry, materials: dict) -> Path:
    """The table a homogenised disc (meshes/homogenised.py HomogenisedDiscGeometry) reads: its composite
    on the cell mesh of its `ply_rve_mesh_size_mm`, with the pores of its `ply_rve_pores`."""
    return table_path(geometry.composite, materials, geometry.ply_rve_mesh_size_mm, geometry.ply_rve_pores)


def table_key(composite, materials: dict, mesh_size_mm: float, pores: str = "neo-hookean") -> str:
    """Hash of what the cell's responses depend on (not the disc's diameter or mesh, nor the gel: the
    Li-region cell has no gel skins, li_region_cell, so a study's [gpe] keys do not change its table).
    The linear pores of the tables before session 12 are not in the hash (their tables keep their names)."""
    cell = replace(li_region_cell(composite, mesh_size_mm), diameter_mm=composite.reference_diameter_mm)
    payload = {"v": TABLE_VERSION, "c": asdict(cell),
               "m": {k: asdict(v) for k, v in sorted(materials.items()) if k != "gpe"}}
    if pores != "linear":
        payload["pores"] = pores
    return hashlib.sha1(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:12]


def main(argv=None) -> int:
    from fem.stepping.outputs import atomic_write_text
    from fem.study import StudyError, parse_study, read_study_toml
    from fem.workflows.sweep import first_values
    from fem.workflows import strict_json
    from meshes.homogenised import HomogenisedDiscGeometry
    ap = argparse.ArgumentParser(prog="python -m fem.rve.ply_tables", description=__doc__.splitlines()[0])
    ap.add_argument("study", help="a composite or composite_homogenised study: its [composite], [li], [carbon], [void]")
    ap.add_argument("--mesh", type=float, default=None,
                    help="element size of the cell (mm); default: the study's [geometry] ply_rve_mesh_size_mm")
    ap.add_argument("--out", default=None, help="default: studies/data/ply_creep_<key>.json")
    ap.add_argument("--add-creep", action="store_true",
                    help="add the creep curves (CREEP_TESTS) to the existing table instead of rebuilding it")
    a = ap.parse_args(argv)
    try:   # a sweep study gives its first case (the ply does not depend on the load); the table is
        # what a ply_law = "rve_creep" study needs, so it is read as the elastic variant
        data = first_values(read_study_toml(a.study))
        if isinstance(data.get("geometry"), dict) and data["geometry"].get("ply_law") == "rve_creep":
            data["geometry"]["ply_law"] = "elastic"
        study = parse_study(data, name=Path(a.study).stem)
    except StudyError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    geo = getattr(study.geometry, "composite", study.geometry)
    if study.model not in ("composite", "composite_homogenised"):
        print(f"error: {a.study}: [geometry] model = {study.model!r}: must be composite or composite_homogenised",
              file=sys.stderr)
        return 2
    if a.mesh is None:   # the cell the study's disc reads its table from
        a.mesh = getattr(study.geometry, "ply_rve_mesh_size_mm", HomogenisedDiscGeometry.ply_rve_mesh_size_mm)
    if not 0.05 <= a.mesh <= 1.0:
        print(f"error: --mesh {a.mesh}: must be 0.05 <= mesh <= 1 mm", file=sys.stderr)
        return 2
    mats = {"li": study.li, **study.materials}
    pores = getattr(study.geometry, "ply_rve_pores", "neo-hookean")
    out = Path(a.out) if a.out else table_path(geo, mats, a.mesh, pores)
    if a.add_creep:
        if not out.exists():
            print(f"error: --add-creep: no table at {out} (build it first: without --add-creep)", file=sys.stderr)
            return 2
        data = json.loads(out.read_text())
        t0 = time.perf_counter()
        rc, _, _ = cell_creep_solver(geo, mats, a.mesh, data.get("pores", "linear"))
        data["creep_curves"] = creep_curves(rc, progress=lambda s: print(s, flush=True))
        data["creep_wall_s"] = time.perf_counter() - t0
        atomic_write_text(out, strict_json.dumps(data) + "\n")
        print(f"written: {out} (creep curves added, {data['creep_wall_s']:.0f} s)")
        return 0
    data = compute(geo, mats, a.mesh, progress=lambda s: print(s, flush=True), pores=pores)
    data["study"] = str(a.study)
    atomic_write_text(out, strict_json.dumps(data) + "\n")
    print(f"written: {out} ({data['wall_s']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
