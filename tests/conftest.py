"""Shared test setup for tests/unit and tests/verification.

The study builders (make_study, BASE, BASE_TOML, ...) and the command-line launcher (run_cli,
mpiexec) live in the package, fem/verification/cases.py, so that tools and benchmarks use the same
reference studies; tests import them from there.
"""
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("FEM_MESH_CACHE", str(ROOT / ".cache" / "meshes"))

import dolfinx_solver  # noqa: E402,F401  (must precede dolfinx)

from fem.verification.cases import make_study  # noqa: E402


@pytest.fixture
def study_factory():
    return make_study
