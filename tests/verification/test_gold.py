"""Gold-file regression: reruns the reference cases and compares every step of their histories
with tests/gold/*.csv at a tight tolerance (1e-6 relative, 1e-9 absolute), so that a code change
that silently alters results fails here. The 3D and composite cases also run under `mpiexec -n 2`
(through the command line) against the same serial gold file. The cases and how to update:
fem/verification/gold.py (`make gold`)."""
import numpy as np
import pytest

from fem.stepping.run import run_case
from fem.verification.cases import mpiexec, run_cli
from fem.verification.gold import (ATOL, COLUMNS, GOLD_3D, GOLD_CASES, GOLD_DIR, RTOL, gold_study, gold_study_dict,
                                   read_columns)
from fem.workflows.sweep import to_toml


def _compare_with_gold(name, history):
    gold_file = GOLD_DIR / f"{name}.csv"
    assert gold_file.exists(), f"missing gold file {gold_file}; create it with `make gold`"
    new, old = read_columns(history), read_columns(gold_file)
    assert len(new) == len(old), f"{name}: {len(new)} steps now, {len(old)} in the gold file"
    for k in COLUMNS:
        a, b = np.array([r[k] for r in new]), np.array([r[k] for r in old])
        assert np.allclose(a, b, rtol=RTOL, atol=ATOL), (name, k, np.max(np.abs(a - b)))


@pytest.mark.parametrize("name", sorted(GOLD_CASES))
def test_history_matches_gold(tmp_path, name):
    run_case(gold_study(name), tmp_path / name, progress=False)
    _compare_with_gold(name, tmp_path / name / "history.csv")


@pytest.mark.skipif(mpiexec() is None, reason="no mpiexec")
@pytest.mark.parametrize("name", GOLD_3D)
def test_history_on_two_processes_matches_gold(tmp_path, name):
    """`python -m fem run` under `mpiexec -n 2` reproduces the serial gold history of each 3D case
    (same steps, same tolerance)."""
    study = tmp_path / f"{name}.toml"
    study.write_text(to_toml(gold_study_dict(name)))
    out = run_cli(study, tmp_path / name, processes=2)
    _compare_with_gold(name, out / "history.csv")
