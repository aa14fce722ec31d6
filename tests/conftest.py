import copy
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("FEM_MESH_CACHE", str(ROOT / ".cache" / "meshes"))

import dolfinx_solver  # noqa: E402,F401  (must precede dolfinx)

from fem.study import parse_study  # noqa: E402

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


def mpiexec():
    """The MPI launcher of the venv (or on PATH), None if there is none."""
    cand = Path(sys.executable).parent / "mpiexec"
    return str(cand) if cand.exists() else shutil.which("mpiexec")


def run_cli(study: Path, out: Path, processes: int = 1, timeout: float = 900) -> Path:
    """`python -m fem run STUDY --out OUT --quiet`, under `mpiexec -n processes` when > 1; asserts
    exit status 0 and returns OUT."""
    cmd = [sys.executable, "-m", "fem", "run", str(study), "--out", str(out), "--quiet"]
    if processes > 1:
        cmd = [mpiexec(), "-n", str(processes)] + cmd
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=Path(__file__).resolve().parent.parent,
                       timeout=timeout)
    assert p.returncode == 0, p.stderr[-2000:]
    return out


def merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def make_study(name="test", **over):
    return parse_study(merge(BASE, over), name=name)


@pytest.fixture
def study_factory():
    return make_study
