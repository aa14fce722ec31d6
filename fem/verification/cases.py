"""Small reference studies shared by the tests, the gold files (`make gold`) and the benchmarks.

Coarse and fast on purpose: a 15 mm x 0.5 mm bare-Li disc (mid-plane symmetry, 2 elements across
the half thickness), the same disc as a study file (axisymmetric and as a coarse 3D quarter disc),
and the smallest composite disc that builds quickly. Tests derive variants with `make_study(name,
**overrides)` (nested dicts are merged) or by string replacement in the TOML texts.
Also the launcher of `python -m fem run` (serial or under `mpiexec -n N`) used by the MPI tests.
Units: mm, N, MPa, s.
"""
from __future__ import annotations

import copy
import shutil
import subprocess
import sys
from pathlib import Path

from fem.study import Study, parse_study

ROOT = Path(__file__).resolve().parents[2]   # the repository (cwd of the command-line runs)

# Coarse test disc: 15 mm x 0.5 mm, mid-plane symmetry, 2 elements across the half thickness.
BASE = {
    "geometry": {"model": "axisymmetric", "diameter_mm": 15.0, "thickness_mm": 0.5, "mesh_size_mm": 0.125},
    "li": {"youngs_modulus_MPa": 7820.0, "poisson_ratio": 0.381, "creep_A": 7.7e-3, "creep_n": 6.56},
    "platen": {"friction": "frictionless"},
    "load": [{"pressure_MPa": 5.19, "ramp_s": 0.0, "hold_s": 1.0}],
    "output": {"fields": False},
}


# The same coarse disc as a study file (Coulomb mu = 0.2, 5.19 MPa, 1 s ramp, 600 s hold); tests
# derive variants by string replacement.
BASE_TOML = """
[geometry]
model = "axisymmetric"
diameter_mm = 15.0
thickness_mm = 0.5
mesh_size_mm = 0.125
[li]
youngs_modulus_MPa = 7820.0
poisson_ratio = 0.381
creep_A = 7.7e-3
creep_n = 6.56
[platen]
friction = "coulomb"
mu = 0.2
[[load]]
pressure_MPa = 5.19
ramp_s = 1.0
hold_s = 600.0
"""


# the coarse 3D quarter disc of the MPI tests (0.75 mm, one layer; BASE_TOML otherwise)
BASE_3D_TOML = BASE_TOML.replace('model = "axisymmetric"', 'model = "3d"').replace(
    "mesh_size_mm = 0.125", "mesh_size_mm = 0.75\nlayers = 1")


def merge(base: dict, over: dict) -> dict:
    """A deep copy of `base` with `over` merged in (nested dicts merged key by key, anything else replaced)."""
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def study_dict(**over) -> dict:
    """The study tables of BASE with `over` merged in (e.g. for `fem.workflows.sweep.to_toml`). For
    [geometry] model = "composite" BASE's thickness_mm is dropped: the masses set the thickness."""
    d = merge(BASE, over)
    if d["geometry"].get("model") == "composite" and "thickness_mm" not in over.get("geometry", {}):
        d["geometry"].pop("thickness_mm", None)
    return d


def make_study(name: str = "test", **over) -> Study:
    """The BASE study with `over` merged in, e.g. make_study("x", platen={"friction": "sticking"})."""
    return parse_study(study_dict(**over), name=name)


# ---------------------------------------------------------------------- composite
# smallest composite that builds quickly: 3 mm quarter disc, ~1.5k tets (~7k dofs)
COMPOSITE_COARSE = {"model": "composite", "diameter_mm": 3.0, "mesh_size_mm": 0.3}
COMPOSITE_LI = {"youngs_modulus_MPa": 7820.0, "poisson_ratio": 0.381, "creep_A": 0.955, "creep_n": 6.56,
                "threshold_stress_MPa": 0.28}


def composite_study(name: str, li: dict = COMPOSITE_LI, load=None, platen=None, as_dict: bool = False, **tables):
    """The coarse composite disc (1 % pores, frictionless, 5.19 MPa for 1 s, no fields): a Study, or
    its tables with as_dict=True. Further tables (carbon, gpe, void, output, ...) are merged in."""
    d = {"geometry": dict(COMPOSITE_COARSE), "composite": {"void_fraction": 0.01}, "li": dict(li),
         "platen": platen or {"friction": "frictionless"},
         "load": load or [{"pressure_MPa": 5.19, "ramp_s": 0.0, "hold_s": 1.0}], "output": {"fields": False}}
    for k, v in tables.items():
        d[k] = {**d.get(k, {}), **v}
    return d if as_dict else parse_study(d, name=name)


# ---------------------------------------------------------------------- command-line runs
def mpiexec() -> str | None:
    """The MPI launcher of the venv (or on PATH), None if there is none."""
    cand = Path(sys.executable).parent / "mpiexec"
    return str(cand) if cand.exists() else shutil.which("mpiexec")


def run_cli(study: Path, out: Path, processes: int = 1, timeout: float = 900) -> Path:
    """`python -m fem run STUDY --out OUT --quiet`, under `mpiexec -n processes` when > 1; fails
    (AssertionError with the end of stderr) unless the exit status is 0; returns OUT."""
    cmd = [sys.executable, "-m", "fem", "run", str(study), "--out", str(out), "--quiet"]
    if processes > 1:
        cmd = [mpiexec(), "-n", str(processes)] + cmd
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=timeout)
    if p.returncode != 0:
        raise AssertionError(p.stderr[-2000:])
    return out


# ParaView probe: opens a field series (fields.pvd) and prints its arrays, ranges and time steps as
# one line "JSON{...}" (run with `pvpython --force-offscreen-rendering SCRIPT fields.pvd`).
PV_SCRIPT = r"""
import json, sys
from paraview.simple import OpenDataFile, UpdatePipeline
r = OpenDataFile(sys.argv[1])
times = list(r.TimestepValues) if hasattr(r.TimestepValues, '__len__') else [r.TimestepValues]
UpdatePipeline(time=times[-1], proxy=r)
d = r.GetDataInformation()
out = {"times": times, "points": d.GetNumberOfPoints(), "cells": d.GetNumberOfCells(),
       "point_arrays": [r.PointData.GetArray(i).GetName() for i in range(len(r.PointData))],
       "cell_arrays": [r.CellData.GetArray(i).GetName() for i in range(len(r.CellData))],
       "ranges": {a: list(r.CellData[a].GetRange()) for a in r.CellData.keys()}}
print("JSON" + json.dumps(out))
"""
