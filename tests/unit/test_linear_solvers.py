"""Linear solvers (fem/models/linear_solvers.py): the measured choice of solver, and the general
linear-constraint operator P^T A P (the tool for periodic RVE boundaries)."""
import numpy as np
import pytest
from mpi4py import MPI
from petsc4py import PETSc

from fem.models.linear_solvers import (PETSC_LU_MAX_DOFS, AUTO_ITERATIVE_MIN_DOFS, REUSE_MIN_DOFS, ProlongedSystem, choose_linear_solver,
                                       choose_reuse)


def test_choice_of_linear_solver():
    """Requirement: auto = MUMPS below AUTO_ITERATIVE_MIN_DOFS and for composites, PETSc's own LU
    (checked, LU_CHECK_RTOL) for the axisymmetric model; the p-multigrid solver for large
    single-phase 3D discs; gamg is 3D only."""
    N = AUTO_ITERATIVE_MIN_DOFS
    assert choose_linear_solver("auto", N - 1, 1, 3) == "mumps"
    assert choose_linear_solver("auto", N, 1, 3) == "gamg"
    assert choose_linear_solver("auto", 10 * N, 4, 3) == "mumps"
    assert choose_linear_solver("auto", PETSC_LU_MAX_DOFS - 1, 1, 2) == "petsc_lu"
    assert choose_linear_solver("auto", PETSC_LU_MAX_DOFS, 1, 2) == "mumps"
    assert choose_linear_solver("mumps", 10 * N, 1, 2) == "mumps"
    assert choose_linear_solver("mumps", 10 * N, 1, 3) == "mumps"
    with pytest.raises(ValueError, match="3D"):
        choose_linear_solver("gamg", 100, 1, 2)
    with pytest.raises(ValueError, match="auto, mumps or gamg"):
        choose_linear_solver("lu", 100, 1, 3)


def test_petsc_lu_without_pivoting_falls_back_to_mumps():
    """Requirement: the non-pivoting PETSc LU of the axisymmetric runs never returns a wrong
    solution: a matrix it cannot factorise (zero pivot without row exchange) switches the run to
    MUMPS, which solves it; the switch is recorded."""
    from types import SimpleNamespace
    from mpi4py import MPI
    from petsc4py import PETSc
    from fem.models.linear_solvers import LinearSolver
    model = SimpleNamespace(comm=MPI.COMM_SELF, linear_solves=0)
    A = PETSc.Mat().createAIJ((3, 3), nnz=3, comm=PETSc.COMM_SELF)
    for i, j, v in [(0, 1, 2.0), (1, 0, 3.0), (1, 2, 1.0), (2, 1, 1.0), (2, 2, 4.0)]:
        A.setValue(i, j, v)
    A.assemble()
    s = LinearSolver(model, "auto", 3, 1, 2)
    assert s.kind == "petsc_lu"
    s.operator(A)
    s.factor()
    b = A.createVecLeft()
    b.array[:] = [1.0, 2.0, 3.0]
    x = A.createVecRight()
    s.solve(b, x)
    r = A.createVecLeft()
    A.mult(x, r)
    assert np.allclose(r.array, b.array, rtol=1e-12)
    assert s.kind == "mumps" and "switched to MUMPS" in s.fallback


def test_choice_of_factorisation_reuse():
    """Requirement: unset, factorisations are reused for single-phase 3D discs from REUSE_MIN_DOFS
    unknowns and for every 3D composite (measured gains), not for the axisymmetric model; a study's
    explicit true/false wins."""
    assert choose_reuse(None, REUSE_MIN_DOFS, 1, 3) is True
    assert choose_reuse(None, REUSE_MIN_DOFS - 1, 1, 3) is False
    assert choose_reuse(None, 10 * REUSE_MIN_DOFS, 4, 3) is True    # the composite: at any size
    assert choose_reuse(None, 1000, 4, 3) is True
    assert choose_reuse(None, 10 * REUSE_MIN_DOFS, 1, 2) is False
    assert choose_reuse(True, 10, 4, 2) is True and choose_reuse(False, 10 ** 6, 1, 3) is False


def _aij(M):
    A = PETSc.Mat().createAIJ(size=M.shape, comm=PETSc.COMM_SELF)
    A.setUp()
    for i, j in zip(*np.nonzero(M)):
        A.setValue(int(i), int(j), M[i, j])
    A.assemble()
    return A


def test_prolonged_system_solves_periodic_constraints():
    """Requirement: with a periodic tie x_5 = x_0 (+ the affine jump added by the caller) and a fixed
    dof x_3 = 0 expressed as a prolongation P (all dofs <- independent dofs), ProlongedSystem returns
    the minimiser of the constrained quadratic problem, equal to the dense reference solution."""
    if MPI.COMM_WORLD.size > 1:
        pytest.skip("serial")
    rng = np.random.default_rng(3)
    n = 6
    B = rng.normal(size=(n, n))
    A = B @ B.T + n * np.eye(n)                     # SPD stiffness
    b = rng.normal(size=n)
    indep = [0, 1, 2, 4]                            # x3 fixed at 0, x5 = x0
    P = np.zeros((n, len(indep)))
    for c, i in enumerate(indep):
        P[i, c] = 1.0
    P[5, 0] = 1.0
    ref = P @ np.linalg.solve(P.T @ A @ P, P.T @ b)
    ps = ProlongedSystem(_aij(P), PETSc.COMM_SELF)
    ps.factor(_aij(A))
    bv = PETSc.Vec().createWithArray(b.copy(), comm=PETSc.COMM_SELF)
    x = ps.solve(bv).array
    assert np.allclose(x, ref, rtol=1e-12, atol=1e-12)
    assert x[3] == 0.0 and x[5] == x[0]
    # the constrained residual P^T (A x - b) vanishes, the unconstrained one does not
    assert np.allclose(P.T @ (A @ x - b), 0.0, atol=1e-12)
    assert np.abs(A @ x - b).max() > 1e-3


def _tridiagonal_and_with_nan(n: int):
    """A well-conditioned tridiagonal matrix, and the same with one NaN on its diagonal (the Jacobian at a
    diverged Newton iterate)."""
    good = 4.0 * np.eye(n) - np.eye(n, k=1) - np.eye(n, k=-1)
    bad = good.copy()
    bad[2, 2] = np.nan
    return good, bad


def test_prolonged_system_recovers_after_a_failed_factorisation():
    """A factorisation of a matrix with NaN (a diverged Newton iterate of the RVE creep solver) leaves
    MUMPS failed: its solve returns inf, and on PETSc 3.25 every later factorisation and solve of the
    same solver failed too (MUMPS INFOG(1) = -3; in the RVE creep run: NaN after every later first
    iteration, session 20). After reset() the system solves the good matrix again, to the dense reference."""
    if MPI.COMM_WORLD.size > 1:
        pytest.skip("serial")
    n = 6
    A, bad = _tridiagonal_and_with_nan(n)
    P = np.eye(n)[:, :5]
    P[5, 0] = 1.0
    b = np.ones(n)
    ref = P @ np.linalg.solve(P.T @ A @ P, P.T @ b)
    ps = ProlongedSystem(_aij(P), PETSc.COMM_SELF)
    bv = PETSc.Vec().createWithArray(b.copy(), comm=PETSc.COMM_SELF)
    ps.factor(_aij(bad))
    assert not np.isfinite(ps.solve(bv).array).all()
    ps.reset()
    ps.factor(_aij(A))
    assert np.allclose(ps.solve(bv).array, ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("same_matrix", [True, False])
def test_disc_linear_solver_recovers_after_a_failed_factorisation(same_matrix):
    """The disc's LinearSolver (MUMPS) after a factorisation of a Jacobian with NaN (a diverged Newton
    iterate): the failure is a LinearSolverFailure (Newton cuts the step), and the next factorisation,
    of the same matrix object refilled or of a new one, solves to the dense reference. Before the reset
    (session 21) the next solve raised a raw PETSc error (MUMPS INFOG(1) = -3), which ended the run."""
    if MPI.COMM_WORLD.size > 1:
        pytest.skip("serial")
    from types import SimpleNamespace
    from fem.models.linear_solvers import LinearSolver, LinearSolverFailure
    n = 6
    good, bad = _tridiagonal_and_with_nan(n)
    s = LinearSolver(SimpleNamespace(comm=MPI.COMM_SELF, linear_solves=0), "mumps", n, 1, 3)
    A = _aij(bad)
    b = A.createVecLeft()
    b.set(1.0)
    x = A.createVecRight()
    with pytest.raises(LinearSolverFailure):
        s.operator(A)
        s.factor()
        s.solve(b, x)
    if same_matrix:
        A.zeroEntries()
        for i, j in zip(*np.nonzero(good)):
            A.setValue(int(i), int(j), good[i, j])
        A.assemble()
    else:
        A = _aij(good)
    s.operator(A)
    s.factor()
    s.solve(b, x)
    assert np.allclose(x.array, np.linalg.solve(good, np.ones(n)), rtol=1e-12, atol=1e-12)
