"""Gold-file regression: reruns the reference cases and compares every step of their histories
with tests/gold/*.csv at a tight tolerance (1e-6 relative, 1e-9 absolute), so that a code change
that silently alters results fails here. How to update: see tests/gold_cases.py (`make gold`)."""
import csv
from pathlib import Path

import numpy as np
import pytest

from conftest import make_study
from fem.stepping.run import run_case
from gold_cases import COLUMNS, GOLD_CASES

GOLD = Path(__file__).parent / "gold"


@pytest.mark.parametrize("name", sorted(GOLD_CASES))
def test_history_matches_gold(tmp_path, name):
    gold_file = GOLD / f"{name}.csv"
    assert gold_file.exists(), f"missing gold file {gold_file}; create it with `make gold`"
    run_case(make_study(name, **GOLD_CASES[name]), tmp_path / name, progress=False)
    with open(tmp_path / name / "history.csv") as f:
        new = [{k: float(r[k]) for k in COLUMNS} for r in csv.DictReader(f)]
    with open(gold_file) as f:
        old = [{k: float(r[k]) for k in COLUMNS} for r in csv.DictReader(line for line in f if not line.startswith("#"))]
    assert len(new) == len(old), f"{name}: {len(new)} steps now, {len(old)} in the gold file"
    for k in COLUMNS:
        a, b = np.array([r[k] for r in new]), np.array([r[k] for r in old])
        assert np.allclose(a, b, rtol=1e-6, atol=1e-9), (name, k, np.max(np.abs(a - b)))
