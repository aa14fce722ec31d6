"""Sparse direct solves on the free (unconstrained) dofs with a fixed nonzero pattern, so that
MUMPS reuses its symbolic analysis and ordering at every Newton iteration of every step.

The Jacobian K is assembled on all dofs (its pattern never changes); Dirichlet dofs are removed
by extracting the free-free block through a precomputed index map. An optional `extra` matrix
(the Coulomb friction linearisation, nonzero only in the platen rows) is added on top; its
worst-case pattern is included once when the PETSc matrix is created.
"""
from __future__ import annotations

import dolfinx_solver  # noqa: F401
import numpy as np
import scipy.sparse as sp
from petsc4py import PETSc


def _pattern(M: sp.csr_matrix) -> sp.csr_matrix:
    P = M.tocsr(copy=True)
    P.data = np.ones_like(P.data)
    return P


class FreeBlockLU:
    def __init__(self, K: sp.csr_matrix, free: np.ndarray, extra_pattern: sp.csr_matrix | None = None,
                 solver: str = "mumps"):
        self.free = free
        idx = sp.csr_matrix((np.arange(1, K.nnz + 1, dtype=np.float64), K.indices, K.indptr), shape=K.shape)
        sub = idx[free][:, free]
        sub.sort_indices()
        self.map = sub.data.astype(np.int64) - 1
        self.indptr, self.indices = sub.indptr.astype(PETSc.IntType), sub.indices.astype(PETSc.IntType)
        U = _pattern(sub)
        if extra_pattern is not None:
            U = U + _pattern(extra_pattern)[free][:, free]
        U.sort_indices()
        n = len(free)
        self.A = PETSc.Mat().createAIJ(size=(n, n), csr=(U.indptr.astype(PETSc.IntType),
                                                          U.indices.astype(PETSc.IntType),
                                                          np.zeros(U.nnz)), comm=PETSc.COMM_SELF)
        self.A.setOption(PETSc.Mat.Option.NEW_NONZERO_LOCATION_ERR, True)
        self.A.assemble()
        self.ksp = PETSc.KSP().create(PETSc.COMM_SELF)
        self.ksp.setType("preonly")
        pc = self.ksp.getPC()
        pc.setType("lu")
        pc.setFactorSolverType(solver)
        self.b, self.x = self.A.createVecs()

    def factor(self, K: sp.csr_matrix, extra: sp.csr_matrix | None = None) -> None:
        A = self.A
        A.zeroEntries()
        A.setValuesCSR(self.indptr, self.indices, K.data[self.map], addv=PETSc.InsertMode.ADD_VALUES)
        if extra is not None:
            E = extra.tocsr()[self.free][:, self.free]
            E.sort_indices()
            A.setValuesCSR(E.indptr.astype(PETSc.IntType), E.indices.astype(PETSc.IntType), E.data,
                           addv=PETSc.InsertMode.ADD_VALUES)
        A.assemble()
        self.ksp.setOperators(A)
        self.ksp.setUp()
        if self.ksp.getPC().getFailedReason() != 0:
            raise RuntimeError(f"LU factorisation failed (reason {self.ksp.getPC().getFailedReason()})")

    def solve(self, rhs_free: np.ndarray) -> np.ndarray:
        self.b.array[:] = rhs_free
        self.ksp.solve(self.b, self.x)
        return self.x.array.copy()
