"""Reference runs whose histories are stored in tests/gold/*.csv (gold files).

Each case is the coarse test disc of `fem.verification.cases` (BASE) with the overrides below.
tests/verification/test_gold.py reruns every case and compares every step of its history with the
gold file (1e-6 relative, 1e-9 absolute); the 3D and composite cases (GOLD_3D) also under
`mpiexec -n 2` through the command line, against the same (serial) gold file.

The 3D cases were pinned at commit 1f92e2a, before the model core was unified: a 3D bare disc
(the coarse quarter disc of the MPI tests, 0.75 mm, one layer, 4133 dofs) with sticking and with
Coulomb platens, and the coarse 3 mm composite quarter disc (its Li creeps almost plastically, so
its load is a 1e-4 s ramp + 2e-5 s hold: 28 steps, about 1 % thinning). Serial and 2-rank histories
agreed to the last written digit then.

Update the gold files ONLY when a change is meant to alter results (a physics fix, a new default),
never to make a failing test pass: run `make gold` (tools/update_gold.py), inspect
`git diff tests/gold`, and say in the commit message why the numbers moved and by how much.
"""
from __future__ import annotations

import csv
from pathlib import Path

GOLD_DIR = Path(__file__).resolve().parents[2] / "tests" / "gold"

GOLD_CASES = {
    "coulomb_5MPa": {
        "platen": {"friction": "coulomb", "mu": 0.2},
        "load": [{"pressure_MPa": 5.19, "ramp_s": 0.5, "hold_s": 10.0}],
    },
    "sequential_frictionless": {
        "platen": {"friction": "frictionless"},
        "load": [{"pressure_MPa": 2.0, "ramp_s": 0.0, "hold_s": 0.05},
                 {"pressure_MPa": 4.0, "ramp_s": 0.01, "hold_s": 0.05}],
    },
    "sticking_gap": {
        "platen": {"friction": "sticking"},
        "load": [{"gap_mm": 0.499, "ramp_s": 0.0, "hold_s": 1.0}],
    },
    "bare3d_sticking": {
        "geometry": {"model": "3d", "mesh_size_mm": 0.75, "layers": 1},
        "platen": {"friction": "sticking"},
        "load": [{"pressure_MPa": 5.19, "ramp_s": 0.05, "hold_s": 0.05}],
        "numerics": {"quadrature_degree": 2},
    },
    "bare3d_coulomb": {
        "geometry": {"model": "3d", "mesh_size_mm": 0.75, "layers": 1},
        "platen": {"friction": "coulomb", "mu": 0.2},
        "load": [{"pressure_MPa": 5.19, "ramp_s": 0.05, "hold_s": 0.05}],
        "numerics": {"quadrature_degree": 2},
    },
    "composite_frictionless": {
        "geometry": {"model": "composite", "diameter_mm": 3.0, "mesh_size_mm": 0.3},
        "composite": {"void_fraction": 0.01},
        "li": {"youngs_modulus_MPa": 7820.0, "poisson_ratio": 0.381, "creep_A": 0.955, "creep_n": 6.56,
               "threshold_stress_MPa": 0.28},
        "platen": {"friction": "frictionless"},
        "load": [{"pressure_MPa": 5.19, "ramp_s": 0.0001, "hold_s": 0.00002}],
        # full Newton, as when the file was written (chord iterations, the composite default since
        # 2026-12-03, reach the same states to the Newton tolerance but may choose other steps)
        "numerics": {"reuse_factorisation": False},
    },
}
# the cases that also run under MPI (the axisymmetric path is serial)
GOLD_3D = sorted(n for n, c in GOLD_CASES.items() if c.get("geometry", {}).get("model", "axisymmetric") != "axisymmetric")
COLUMNS = ["step", "time_s", "force_N", "gap_mm", "thickness_change_pct", "diameter_change_pct"]
RTOL, ATOL = 1e-6, 1e-9   # comparison of a rerun with its gold file


def gold_study(name: str):
    """The Study of gold case `name`."""
    from fem.verification.cases import make_study
    return make_study(name, **GOLD_CASES[name])


def gold_study_dict(name: str) -> dict:
    """The study tables of gold case `name` (for a study file: fem.workflows.sweep.to_toml)."""
    from fem.verification.cases import study_dict
    return study_dict(**GOLD_CASES[name])


def read_columns(path: Path) -> list[dict]:
    """The COLUMNS of a history.csv or gold file as floats, one dict per step ('#' lines skipped)."""
    with open(path) as f:
        return [{k: float(r[k]) for k in COLUMNS} for r in csv.DictReader(line for line in f if not line.startswith("#"))]
