"""Serial element assembler of the Jacobian of a single creeping u-p phase (the axisymmetric disc
and a serial bare-Li 3D disc), from the quadrature-point tangent of fem/physics/creep_point.py.

Why: with the stress and tangent computed pointwise, the Jacobian form is simple, and dolfinx's
generic assembly then spends most of its time inserting element matrices into the sparse matrix
(a column search per entry: 5 of the 6 ms of a 7.5k-dof axisymmetric Jacobian, measured
2026-12-03, docs/benchmarks.md). Here the element matrices are built from tables that depend only
on the reference mesh, and added at precomputed positions of the CSR arrays that the PETSc matrix
shares (no copy, no search).

Weak form (reference configuration, integration weight w = |det J| x quadrature weight, x R per
radian for the axisymmetric kinematics), with B the active components of grad v and N the pressure
test functions (fem/physics/kinematics.py `active`):
    K_uu = sum_q w B^T A B,   K_up = sum_q w (B^T c) N^T,   K_pu = K_up^T,   K_pp = -sum_q w N N^T / K
where A = d(s F^-T + p cof F)/dF and c = cof F at the active components. The result equals the
dolfinx assembly of the model's UFL Jacobian to round-off (tests/unit/test_assembly.py); it is
used only where it applies (one process, one phase, tables below MAX_TABLE_BYTES), else the UFL
form is assembled.
"""
from __future__ import annotations

import numpy as np
import ufl
from dolfinx import fem
from dolfinx.fem import petsc as fem_petsc
from petsc4py import PETSc

from fem import aot
from fem.aot import njit

MAX_TABLE_BYTES = 400 * 2 ** 20   # B, N and position tables; above this the UFL form is assembled


def applies(model) -> bool:
    """Whether the serial assembler can take the model's Jacobian (and its tables fit)."""
    if model.comm.size != 1 or len(model.phases) != 1 or getattr(model.mat, "drains", False):
        return False   # (a ply's pore closure adds a pressure-equation tangent the tables lack)
    ne = model.W.dofmap.list.shape[1]
    m = len(model.kinematics.active)
    n_qp = model.qs_dofs.size
    cells = model.cells.size
    return 8 * n_qp * (m + 1) * ne + 4 * cells * ne * ne <= MAX_TABLE_BYTES


class CreepAssembler:
    """Tables of the model's creep phase and the PETSc matrix sharing the CSR value array."""

    def __init__(self, model, J_form):
        mesh, kin, cells = model.mesh, model.kinematics, model.cells
        x = ufl.SpatialCoordinate(mesh)
        tests = ufl.TestFunctions(model.W)
        act = kin.active
        gv = kin.grad(tests[0], x)
        ks = model.phase_pressure[model.creep_phase]
        q = sum((tests[i] for i in ks[1:]), tests[ks[0]])
        nc, nq = cells.size, len(model.qweights)
        B = fem.Expression(ufl.as_vector([gv[i, j] for i, j in act]), model.qpoints).eval(mesh, cells)
        N = fem.Expression(q, model.qpoints).eval(mesh, cells)
        ne = model.W.dofmap.list.shape[1]
        self.B = np.ascontiguousarray(B.reshape(nc, nq, len(act), ne))
        self.N = np.ascontiguousarray(N.reshape(nc, nq, ne))
        self.w = np.ascontiguousarray(model.qp_volume.reshape(nc, nq))
        self.ucols = np.flatnonzero(np.any(self.B != 0.0, axis=(0, 1, 2))).astype(np.int64)
        self.pcols = np.flatnonzero(np.any(self.N != 0.0, axis=(0, 1))).astype(np.int64)
        self.Bu = np.ascontiguousarray(self.B[..., self.ucols])        # displacement columns only
        self.Np = np.ascontiguousarray(self.N[:, :, self.pcols])       # pressure columns only
        del self.B, self.N
        # the sparsity of the UFL Jacobian (same pattern as the dolfinx path and the friction terms)
        K0 = fem_petsc.create_matrix(J_form)
        fem_petsc.assemble_matrix(K0, J_form)   # every element entry is inserted (values unused)
        K0.assemble()
        indptr, indices, _ = K0.getValuesCSR()
        K0.destroy()
        self.indptr = np.ascontiguousarray(indptr, dtype=PETSc.IntType)
        self.indices = np.ascontiguousarray(indices, dtype=PETSc.IntType)
        dofs = np.ascontiguousarray(model.W.dofmap.list[cells], dtype=np.int64)
        self.pos = _positions(dofs, self.indptr.astype(np.int64), self.indices.astype(np.int64))
        self.data = np.zeros(self.indices.size, dtype=PETSc.ScalarType)
        n = self.indptr.size - 1
        # serial AIJ on the arrays themselves: writing self.data changes the matrix
        self.K = PETSc.Mat().createAIJWithArrays((n, n), (self.indptr, self.indices, self.data), comm=PETSc.COMM_SELF)
        self.K.assemble()

    def assemble(self, A: np.ndarray, C: np.ndarray, inv_bulk: float) -> PETSc.Mat:
        """The Jacobian from the tangent A (n_qp, m, m) and cof F (n_qp, m) in (cell, point) order."""
        _assemble(self.data, self.pos, self.Bu, self.Np, self.w, A, C, float(inv_bulk), self.ucols, self.pcols)
        self.K.assemblyBegin()
        self.K.assemblyEnd()
        return self.K


def _positions(dofs, indptr, indices):
    """Position in the CSR value array of every element entry (cell, i, j). Column indices are
    sorted within each row, so the keys row * n + col are sorted over the whole matrix."""
    n = indptr.size - 1
    rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(indptr))
    keys = rows * n + indices
    want = (dofs[:, :, None] * n + dofs[:, None, :]).ravel()
    pos = np.searchsorted(keys, want)
    if np.any(pos >= keys.size) or np.any(keys[np.minimum(pos, keys.size - 1)] != want):
        raise RuntimeError("element entry outside the Jacobian's sparsity pattern")
    return pos.reshape(dofs.shape[0], dofs.shape[1], dofs.shape[1]).astype(np.int32)


@aot.export(aot.array("f8", 1), aot.array("i4", 3), aot.array("f8", 4), aot.array("f8", 3), aot.array("f8", 2),
            aot.array("f8", 3), aot.array("f8", 2), aot.F8, aot.array("i8", 1), aot.array("i8", 1))
@njit(cache=True, error_model="numpy")
def _assemble(data, pos, Bu, Np, w, A, C, inv_bulk, ucols, pcols):
    """Element matrices added at pos (regular inner loops over the element's displacement dofs:
    they vectorise, which halved the time against a B compressed to its non-zero rows)."""
    data[:] = 0.0
    nc, nq, m, nu = Bu.shape
    npp = pcols.size
    Ku = np.zeros((nu, nu))
    Kup = np.zeros((nu, npp))
    Kpp = np.zeros((npp, npp))
    AB = np.zeros((m, nu))
    Bv = np.zeros(nu)
    for c in range(nc):
        Ku[:, :] = 0.0
        Kup[:, :] = 0.0
        Kpp[:, :] = 0.0
        for q in range(nq):
            k = c * nq + q
            wq = w[c, q]
            Bq = Bu[c, q]
            Aq = A[k]
            Cq = C[k]
            Nq = Np[c, q]
            for a in range(m):       # AB = w A B
                for jj in range(nu):
                    AB[a, jj] = 0.0
                for b in range(m):
                    wab = wq * Aq[a, b]
                    for jj in range(nu):
                        AB[a, jj] += wab * Bq[b, jj]
            for jj in range(nu):     # Bv = w B^T c
                Bv[jj] = 0.0
            for a in range(m):
                ca = wq * Cq[a]
                for jj in range(nu):
                    Bv[jj] += ca * Bq[a, jj]
            for a in range(m):       # K_uu += B^T (w A B)
                for ii in range(nu):
                    bai = Bq[a, ii]
                    if bai != 0.0:
                        for jj in range(nu):
                            Ku[ii, jj] += bai * AB[a, jj]
            for ii in range(nu):
                for jj in range(npp):
                    Kup[ii, jj] += Bv[ii] * Nq[jj]
            for ii in range(npp):
                for jj in range(npp):
                    Kpp[ii, jj] -= wq * inv_bulk * Nq[ii] * Nq[jj]
        P = pos[c]
        for ii in range(nu):
            i = ucols[ii]
            for jj in range(nu):
                data[P[i, ucols[jj]]] += Ku[ii, jj]
            for jj in range(npp):
                j = pcols[jj]
                data[P[i, j]] += Kup[ii, jj]
                data[P[j, i]] += Kup[ii, jj]
        for ii in range(npp):
            for jj in range(npp):
                data[P[pcols[ii], pcols[jj]]] += Kpp[ii, jj]
