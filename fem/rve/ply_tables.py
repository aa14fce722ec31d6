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

Each curve is written to studies/data/ply_creep_<name>.parts/ as it finishes (since session 13): an
interrupted build, or one whose curve failed (named in a one-line error, exit 1), resumes with the same
command and computes only the missing curves; the folder is removed once the table is written.
`--jobs N` (`make ply-tables JOBS=N`, default 2) computes the curves in N processes.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
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
    st = RveStudy("ply", cell, {k: v for k, v in materials.items() if k != "crossing"}, bounds=False)
    tags, fibre = st.tag_materials(), st.fibre_direction()
    if "crossing" in materials:   # bonded crossings (fem/physics/materials.py CrossingBond), as in the resolved disc
        from meshes.composite import CROSSING, crossing_direction, retag_crossings
        ct, n_cross = retag_crossings(mesh, ct, cell.pitch_mm, cell.design()["tow_width_mm"])
        tags[CROSSING] = materials["crossing"].as_tow()
        fibre[CROSSING] = crossing_direction
        report = {**report, "crossing_cells": int(n_cross)}
    return RveCreep(mesh, ct, cell.box, tags, fibre, void_law=pores), cell, report


class PlyTableError(RuntimeError):
    """Some curves of a table failed: the finished ones are kept in the parts folder (a rerun resumes)."""


def curve_tasks(modes=MODES, rates=RATES, tests=CREEP_TESTS) -> list[tuple[str, tuple]]:
    """The table's curves as named tasks, in the table's order: (name, ("rate", head, rate, t_end))
    for the strain-rate curves (`loadings`), then (name, ("creep", (mode, S))) for the creep tests."""
    out = [(f"{h['mode']}_rate_{h['rate_per_s']:g}", ("rate", h, r, t)) for h, r, t in loadings(modes, rates)]
    return out + [(f"{m}_creep_{S:g}", ("creep", (m, S))) for m, S in tests]


def part_key(base: str, task: tuple, steps: int, creep_hold_s: float, creep_steps: int) -> str:
    """What a finished curve in the parts folder was computed for (the cell, materials and pores: `base`,
    a table_key; and the curve's steps): a part with another key is recomputed."""
    return base + (f"-steps{steps}" if task[0] == "rate" else f"-hold{creep_hold_s:g}x{creep_steps}")


def _run_curve(rc, task: tuple, spec: dict, say) -> dict:
    """One curve of the table on the cell `rc`: a strain-rate curve or a creep test (curve_tasks)."""
    if task[0] == "creep":
        return creep_curves(rc, tests=(task[1],), hold_s=spec["creep_hold_s"], steps=spec["creep_steps"],
                            progress=say)[0]
    t1 = time.perf_counter()
    _, head, rate, t_end = task
    h = rc.run(head["control"], rate, np.zeros(6), t_end, spec["steps"], rtol=1e-8)
    j = head["component"]
    say(f"  {head['mode']:10s} rate {head['rate_per_s']:g}/s: final Sigma_{j} {h['Sigma_MPa'][-1][j]:.4g} "
        f"MPa, Li creep strain {h['li_creep_strain_mean'][-1]:.3g}, {time.perf_counter() - t1:.1f} s")
    return {**head, **h}


def _work(spec: dict, progress=None, runner=None) -> None:
    """Compute the curves named in spec["todo"] one by one, each written to the parts folder as it
    finishes (atomically, `<name>.json`). A curve is claimed with an exclusive `<name>.claim` file, so
    several workers share one folder; a curve that fails leaves `<name>.failed` (its message) and the
    worker goes on with the next. The cell is built only when there is a curve to compute. `runner`
    (tests): called first as runner(rc, name, task); a curve it returns replaces the cell's run."""
    from fem.stepping.outputs import atomic_write_text
    say = progress or (lambda s: None)
    parts = Path(spec["parts_dir"])
    rc = meta = None
    for name, task in curve_tasks(spec["modes"], spec["rates"], spec["tests"]):
        if name not in spec["todo"] or (parts / f"{name}.json").exists():
            continue
        try:
            fd = os.open(parts / f"{name}.claim", os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            continue   # another worker has it
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        try:
            if rc is None:
                rc, cell, report = cell_creep_solver(spec["composite"], spec["materials"], spec["mesh_size_mm"],
                                                     spec["pores"])
                meta = {"dofs": rc.dofs, "cell_box_mm": list(cell.box),
                        "mesh_volumes_mm3": report.get("mesh_volumes_mm3") or {}}
            t1 = time.perf_counter()
            curve = runner(rc, name, task) if runner is not None else None
            if curve is None:
                curve = _run_curve(rc, task, spec, say)
            key = part_key(spec["key"], task, spec["steps"], spec["creep_hold_s"], spec["creep_steps"])
            atomic_write_text(parts / f"{name}.json", json.dumps(
                {"key": key, "curve": curve, "meta": meta, "wall_s": time.perf_counter() - t1}) + "\n")
        except Exception as e:   # noqa: BLE001 -- the curve is reported, the others go on
            atomic_write_text(parts / f"{name}.failed", f"{type(e).__name__}: {e}".splitlines()[0] + "\n")
            say(f"  {name}: FAILED: {type(e).__name__}: {e}")
        finally:
            (parts / f"{name}.claim").unlink(missing_ok=True)


def _read_part(path: Path, key: str):
    try:
        d = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return d if d.get("key") == key else None


def compute(composite, materials: dict, mesh_size_mm: float, modes=MODES, rates=RATES, steps: int = STEPS,
            progress=None, pores: str = "neo-hookean", parts_dir=None, jobs: int = 1, tests=CREEP_TESTS,
            creep_hold_s: float = CREEP_HOLD_S, creep_steps: int = CREEP_STEPS, _runner=None) -> dict:
    """The table (dict) of the Li-region cell: the strain-rate curves of `modes` x `rates` and the creep
    `tests`. Each curve is written to `parts_dir` as it finishes (default: a temporary folder); the
    curves already there for the same cell, materials and steps are reused, so an interrupted or failed
    build resumes where it stopped. `jobs` > 1 computes the curves in that many processes (each builds
    its own cell; about 1 GB each at 0.2 mm). Raises PlyTableError naming the failed curves."""
    import tempfile
    say = progress or (lambda s: None)
    t0 = time.perf_counter()
    tmp = None
    if parts_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="ply_parts_")
        parts_dir = tmp.name
    parts = Path(parts_dir)
    parts.mkdir(parents=True, exist_ok=True)
    for stale in (*parts.glob("*.claim"), *parts.glob("*.failed")):
        stale.unlink(missing_ok=True)   # from an interrupted run: nobody else builds this table now
    key = table_key(composite, materials, mesh_size_mm, pores)
    tasks = curve_tasks(modes, rates, tests)
    keys = {n: part_key(key, t, steps, creep_hold_s, creep_steps) for n, t in tasks}
    todo = [n for n, _ in tasks if _read_part(parts / f"{n}.json", keys[n]) is None]
    for n in todo:
        (parts / f"{n}.json").unlink(missing_ok=True)   # another cell's or unreadable: recompute
    say(f"ply creep tables: {len(tasks)} curves, {len(tasks) - len(todo)} already in {parts}, "
        f"{len(todo)} to compute" + (f" in {min(jobs, len(todo))} processes" if jobs > 1 and len(todo) > 1 else ""))
    spec = {"composite": composite, "materials": materials, "mesh_size_mm": mesh_size_mm, "pores": pores,
            "steps": steps, "modes": modes, "rates": rates, "tests": tuple(tests), "creep_hold_s": creep_hold_s,
            "creep_steps": creep_steps, "parts_dir": str(parts), "key": key, "todo": todo}
    if jobs > 1 and len(todo) > 1 and _runner is None:
        import pickle
        import subprocess
        (parts / "spec.pkl").write_bytes(pickle.dumps(spec))
        procs = [subprocess.Popen([sys.executable, "-m", "fem.rve.ply_tables", "--worker", str(parts / "spec.pkl")])
                 for _ in range(min(jobs, len(todo)))]
        try:
            for p in procs:
                p.wait()
        finally:
            for p in procs:
                if p.poll() is None:
                    p.terminate()
    elif todo:
        _work(spec, say, _runner)
    got = {n: _read_part(parts / f"{n}.json", keys[n]) for n, _ in tasks}
    failed = {n: (parts / f"{n}.failed").read_text().strip() if (parts / f"{n}.failed").exists() else "no result"
              for n, g in got.items() if g is None}
    if failed:
        kept = (f"the {len(tasks) - len(failed)} finished curves are kept in {parts}: rerun to compute the rest"
                if tmp is None else f"the {len(tasks) - len(failed)} finished curves were in a temporary folder, "
                "now removed (give parts_dir to keep them)")
        if tmp is not None:
            tmp.cleanup()
        raise PlyTableError(f"{len(failed)} of {len(tasks)} curves failed ("
                            + "; ".join(f"{n}: {m}" for n, m in failed.items()) + f"); {kept}")
    meta = next(iter(got.values()))["meta"]
    vols = meta["mesh_volumes_mm3"]
    vt = sum(vols.values()) or 1.0
    curves = [got[n]["curve"] for n, t in tasks if t[0] == "rate"]
    creep = [got[n]["curve"] for n, t in tasks if t[0] == "creep"]
    if tmp is not None:
        tmp.cleanup()
    return {"version": TABLE_VERSION, "pores": pores, "composite": asdict(composite), "cell_box_mm": meta["cell_box_mm"],
            "mesh_size_mm": mesh_size_mm, "dofs": meta["dofs"], "volume_fractions": {k: v / vt for k, v in vols.items()},
            "materials": {k: asdict(v) for k, v in materials.items()}, "steps": steps, "curves": curves, "creep_curves": creep,
            "wall_s": time.perf_counter() - t0, "curve_wall_s": sum(g["wall_s"] for g in got.values()),
            "reused_curves": len(tasks) - len(todo), "python": platform.python_version()}


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
    ap.add_argument("study", nargs="?",
                    help="a composite or composite_homogenised study: its [composite], [li], [carbon], [void]")
    ap.add_argument("--mesh", type=float, default=None,
                    help="element size of the cell (mm); default: the study's [geometry] ply_rve_mesh_size_mm")
    ap.add_argument("--out", default=None, help="default: studies/data/ply_creep_<key>.json")
    ap.add_argument("--add-creep", action="store_true",
                    help="add the creep curves (CREEP_TESTS) to the existing table instead of rebuilding it")
    ap.add_argument("--jobs", type=int, default=1,
                    help="compute the curves in this many processes (default 1; about 1 GB each at 0.2 mm)")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)   # internal: one process of --jobs
    a = ap.parse_args(argv)
    if a.worker:
        import pickle
        _work(pickle.loads(Path(a.worker).read_bytes()), lambda s: print(s, flush=True))
        return 0
    if a.study is None:
        print("error: study: a study file is required (e.g. studies/composite_glicfc_homogenised.toml)", file=sys.stderr)
        return 2
    if not 1 <= a.jobs <= 64:
        print(f"error: --jobs {a.jobs}: must be 1 <= jobs <= 64", file=sys.stderr)
        return 2
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
    parts = out.with_name(out.stem + ".parts")
    try:
        data = compute(geo, mats, a.mesh, progress=lambda s: print(s, flush=True), pores=pores, parts_dir=parts,
                       jobs=a.jobs)
    except PlyTableError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    data["study"] = str(a.study)
    atomic_write_text(out, strict_json.dumps(data) + "\n")
    import shutil
    shutil.rmtree(parts, ignore_errors=True)
    print(f"written: {out} ({data['wall_s']:.0f} s; {data['reused_curves']} curves reused)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
