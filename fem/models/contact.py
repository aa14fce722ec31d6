"""Contact of a set of boundary nodes with a rigid platen plane (normal z): the platen force read
from the residual, and the friction forces of fem/physics/friction.py added to the residual and
to the system matrix. Dimension-agnostic: each node has one normal dof and k in-plane dofs
(k = 1 axisymmetric, k = 2 in 3D; -1 where a symmetry plane or the axis fixes one).

Which nodes touch which platen is the model's business (facet tags in 2D, node coordinates in
3D); any set of boundary nodes can be passed, not only the original top face.

Normal force: N_k = -sign_k r[z_k], the reaction of the constraint u_z = platen motion read from
the unconstrained residual (sign +1 for a face whose outward normal is +z). Platen force:
F = force_factor * sum over the moving platen's nodes of N_k (force_factor = 2 pi for an
axisymmetric model, whose forms are per radian; 4 for a quarter disc).

Jacobian of the friction forces: d f / d x = df/dN dN/dx + df/ds ds/dx with dN/dx = -sign K[z, :],
so the system matrix is A = K + T K + D, T[t, z] = -sign df/dN, D[t, t'] = df/ds. T and D have a
fixed pattern (the node's own rows), and T K lies inside the pattern of K (the dofs of one node
couple to the same cells), so A keeps K's pattern and the direct solver its symbolic analysis.
Under MPI every process handles its owned nodes (a node's dofs are owned by one process).
"""
from __future__ import annotations

from dataclasses import dataclass

import dolfinx_solver  # noqa: F401  (must precede petsc4py)
import numpy as np
from mpi4py import MPI
from petsc4py import PETSc

from fem.physics.friction import NORMAL_SMOOTHING, FrictionSpec, coulomb, regularisation_width


@dataclass
class ContactNodes:
    """Owned platen-face nodes: local dof indices (z: normal, t: (n, k) in-plane, -1 = fixed),
    sign (outward normal of the face, +1 or -1), moving (True: the loaded platen)."""
    z: np.ndarray
    t: np.ndarray
    sign: np.ndarray
    moving: np.ndarray


class PlatenContact:
    def __init__(self, spec: FrictionSpec, nodes: ContactNodes, force_factor: float, comm,
                 global_offset: int = 0):
        self.spec, self.nodes, self.force_factor, self.comm = spec, nodes, force_factor, comm
        self.offset = global_offset
        self.coulomb = spec.friction == "coulomb"
        self.n_moving_global = comm.allreduce(int(nodes.moving.sum()), op=MPI.SUM)
        self.moving_z = nodes.z[nodes.moving]
        self.moving_sign = nodes.sign[nodes.moving]
        self._T = self._D = self._TK = None

    # ------------------------------------------------------------------ platen force
    def force(self, r: np.ndarray) -> float:
        """Compressive force (N) that the moving platen applies, from the unconstrained residual."""
        local = float(np.dot(-self.moving_sign, r[self.moving_z]))
        return self.force_factor * self.comm.allreduce(local, op=MPI.SUM)

    # ------------------------------------------------------------------ friction
    def friction(self, r: np.ndarray, x: np.ndarray, x_n: np.ndarray, dt: float, eps_scale: float,
                 force_scale_N: float, cap: np.ndarray | None = None):
        """Add the friction forces to the residual r (in place); return the linearisation
        (the values of T and D) or None without Coulomb friction. cap: the Tresca cap of each
        node's friction force (N; fem/physics/friction.py), or None."""
        nd = self.nodes
        if not self.coulomb or self.n_moving_global == 0:
            return None
        eps = regularisation_width(self.spec, dt, eps_scale)
        d = NORMAL_SMOOTHING * force_scale_N / (self.force_factor * self.n_moving_global)
        N = -nd.sign * r[nd.z]
        has = nd.t >= 0
        slip = np.where(has, x[nd.t] - x_n[nd.t], 0.0)
        f = coulomb(N, slip, self.spec.mu, eps, d, cap)
        np.add.at(r, nd.t[has], f.force[has])
        return f

    def system_matrix(self, K: PETSc.Mat, A: PETSc.Mat, f) -> PETSc.Mat:
        """A = K (+ T K + D with friction), in the preallocated A of K's pattern."""
        K.copy(A, structure=PETSc.Mat.Structure.SAME_NONZERO_PATTERN)
        if f is None:
            return A
        nd = self.nodes
        n, k = nd.t.shape
        has = nd.t >= 0
        if self._T is None:
            self._build_patterns(K)
        tv = np.where(has, -nd.sign[:, None] * f.d_dN, 0.0)
        self._set_values(self._T, self._T_rows, self._T_cols, tv[has])
        dv = np.where(has[:, :, None] & has[:, None, :], f.d_ds, 0.0)
        self._set_values(self._D, self._D_rows, self._D_cols, dv[has[:, :, None] & has[:, None, :]])
        if self._TK is None:
            self._TK = self._T.matMult(K)
        else:
            self._T.matMult(K, result=self._TK)
        A.axpy(1.0, self._TK, structure=PETSc.Mat.Structure.SUBSET_NONZERO_PATTERN)
        A.axpy(1.0, self._D, structure=PETSc.Mat.Structure.SUBSET_NONZERO_PATTERN)
        return A

    def _build_patterns(self, K):
        nd = self.nodes
        has = nd.t >= 0
        zz = np.broadcast_to(nd.z[:, None], nd.t.shape)
        self._T_rows, self._T_cols = nd.t[has] + self.offset, zz[has] + self.offset
        pair = has[:, :, None] & has[:, None, :]
        tr = np.broadcast_to(nd.t[:, :, None], pair.shape)
        tc = np.broadcast_to(nd.t[:, None, :], pair.shape)
        self._D_rows, self._D_cols = tr[pair] + self.offset, tc[pair] + self.offset
        self._T = self._empty_like(K, self._T_rows, self._T_cols)
        self._D = self._empty_like(K, self._D_rows, self._D_cols)

    def _empty_like(self, K, rows, cols):
        """An AIJ matrix of K's layout with the fixed COO pattern (rows, cols) (global indices, owned rows)."""
        T = PETSc.Mat().create(comm=K.getComm())
        T.setSizes(K.getSizes())
        T.setType(PETSc.Mat.Type.AIJ)
        T.setPreallocationCOO(rows.astype(PETSc.IntType), cols.astype(PETSc.IntType))
        T.setValuesCOO(np.zeros(len(rows)), addv=PETSc.InsertMode.INSERT_VALUES)
        T.assemble()
        return T

    @staticmethod
    def _set_values(M, rows, cols, vals):
        M.setValuesCOO(np.ascontiguousarray(vals, dtype=PETSc.ScalarType), addv=PETSc.InsertMode.INSERT_VALUES)
        M.assemble()
