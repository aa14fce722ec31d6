"""Constraints of an RVE as prolongations P (all dofs <- independent dofs) plus an affine part:
u = E x + P y, solved as P^T K P y = -P^T K (E x) (fem/models/linear_solvers.py ProlongedSystem).

Dofs are those of a blocked vector Lagrange space (serial): dof 3 i + c is component c of node i
at coordinates X[i]. The cell is the box [x0, x1] x [y0, y1] x [z0, z1] (z through the thickness).

Boundary conditions (the fluctuation w = u - E x):
* "periodic" (the RVE of the ply): w periodic in x and y, w = 0 on the faces z = z0 and z = z1
  (the faces follow the macroscopic strain, as bonded platens impose). A node on x = x1 takes the
  dofs of its image on x = x0, one on y = y1 that of its image on y = y0, a node on a vertical
  edge x = x1, y = y1 that of its image on the edge x = x0, y = y0 (all four vertical edges share
  the dofs of one: the chain is resolved in one lookup, (x, y) -> (x - Lx [x = x1], y - Ly [y = y1])).
  Nodes on the z faces (edges and corners included) are fixed. Then <eps(u)> = E exactly (the
  integral of grad w over the box is a boundary integral: periodic faces cancel, z faces vanish).
* "periodic_slip": as "periodic", but on the z faces only the z component of w is fixed; its x and
  y components are free and periodic (the faces slide over what lies on them: the bound where the
  gel skins carry no shear). Used by the cell flow (fem/rve/ply_flow.py faces = "slip").
* "kubc": w = 0 on the whole boundary (u = E x on every face).
* "free": no constraint but three-two-one supports against the six rigid-body modes (the three
  components of the node at corner (x0, y0, z0), y and z at (x1, y0, z0), z at (x0, y1, z0)); for
  the static (SUBC) problem with a self-equilibrated load these supports carry no reaction.
Image nodes are found with a k-d tree; a node without an image within `tol` raises ValueError
(the mesh is not periodic).
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.spatial import cKDTree

from fem.rve.backus import VOIGT_PAIRS

BCS = ("periodic", "periodic_slip", "kubc", "free")


def faces(X: np.ndarray, box, tol: float) -> dict:
    x0, y0, z0, x1, y1, z1 = box
    return {"x0": np.abs(X[:, 0] - x0) < tol, "x1": np.abs(X[:, 0] - x1) < tol,
            "y0": np.abs(X[:, 1] - y0) < tol, "y1": np.abs(X[:, 1] - y1) < tol,
            "z0": np.abs(X[:, 2] - z0) < tol, "z1": np.abs(X[:, 2] - z1) < tol}


def node_master(X: np.ndarray, box, tol: float, bc: str) -> np.ndarray:
    """master[i] = the node whose dofs node i takes (i itself when independent), -1 when fixed
    ("periodic_slip": of the x and y components; its z component is that of "periodic")."""
    if bc not in BCS:
        raise ValueError(f"bc = {bc!r}: must be one of {BCS}")
    n = len(X)
    master = np.arange(n)
    f = faces(X, box, tol)
    if bc == "kubc":
        on_boundary = np.zeros(n, dtype=bool)
        for m in f.values():
            on_boundary |= m
        master[on_boundary] = -1
        return master
    if bc == "free":
        x0, y0, z0, x1, y1, z1 = box
        tree = cKDTree(X)
        for c in ((x0, y0, z0), (x1, y0, z0), (x0, y1, z0)):
            d, i = tree.query(c)
            if d > tol:
                raise ValueError(f"no mesh node at the cell corner {c} (distance {d:.3g})")
        return master   # the 3-2-1 supports are dof-level: free_prolongation
    return _periodic_master(X, box, tol, f, z_faces_fixed=(bc == "periodic"))


def _periodic_master(X: np.ndarray, box, tol: float, f: dict, z_faces_fixed: bool) -> np.ndarray:
    """Node masters of the periodic cell; the z-face nodes fixed (-1) or tied to their images too."""
    n = len(X)
    master = np.arange(n)
    x0, y0, z0, x1, y1, z1 = box
    slave = (f["x1"] | f["y1"]) & ~(f["z0"] | f["z1"]) if z_faces_fixed else (f["x1"] | f["y1"])
    idx = np.flatnonzero(slave)
    img = X[idx].copy()
    img[f["x1"][idx], 0] -= x1 - x0
    img[f["y1"][idx], 1] -= y1 - y0
    tree = cKDTree(X)
    d, j = tree.query(img)
    bad = d > tol
    if bad.any():
        k = idx[np.flatnonzero(bad)[0]]
        raise ValueError(f"mesh is not periodic: node {k} at {X[k].tolist()} has no image on the opposite face "
                         f"({int(bad.sum())} such nodes; nearest {d[bad].min():.3g} mm)")
    if (slave[j]).any():
        raise ValueError("periodic image is itself an image node (cell box and mesh disagree)")
    master[idx] = j
    if z_faces_fixed:
        master[f["z0"] | f["z1"]] = -1
    return master


def prolongation(X: np.ndarray, box, tol: float, bc: str, bs: int = 3) -> tuple[sp.csr_matrix, dict]:
    """P (bs n x bs m, CSR of ones) for the boundary condition `bc` and a summary of the dof classes."""
    n = len(X)
    if bc == "periodic_slip":   # x, y tied periodically on the z faces too; z fixed there as in "periodic"
        slip = _periodic_master(X, box, tol, faces(X, box, tol), z_faces_fixed=False)
        masters = [slip, slip, node_master(X, box, tol, "periodic")][:bs]
    else:
        masters = [node_master(X, box, tol, bc)] * bs
    indep_nodes = np.flatnonzero(masters[0] == np.arange(n))   # every component's independent nodes
    col_of_node = -np.ones(n, dtype=np.int64)
    col_of_node[indep_nodes] = np.arange(len(indep_nodes))
    rows, cols = [], []
    for c in range(bs):
        master = masters[c]
        has = master >= 0
        r = bs * np.flatnonzero(has) + c
        cc = bs * col_of_node[master[has]] + c
        rows.append(r)
        cols.append(cc)
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    m = bs * len(indep_nodes)
    if bc == "free":
        # three-two-one supports: drop the columns of the supported dofs
        x0, y0, z0, x1, y1, z1 = box
        tree = cKDTree(X)
        fixed = []
        for corner, comps in (((x0, y0, z0), (0, 1, 2)), ((x1, y0, z0), (1, 2)), ((x0, y1, z0), (2,))):
            i = int(tree.query(corner)[1])
            fixed += [bs * i + c for c in comps]
        keep = ~np.isin(rows, fixed)
        rows, cols = rows[keep], cols[keep]
    # drop the columns no dof takes ("free": the supported dofs; "periodic_slip": the z component of the
    # z-face nodes, fixed; none for "periodic" and "kubc", whose independent nodes use every component)
    used = np.unique(cols)
    remap = -np.ones(m, dtype=np.int64)
    remap[used] = np.arange(len(used))
    cols, m = remap[cols], len(used)
    P = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(bs * n, m))
    info = {"nodes": int(n), "independent_dofs": int(m), "fixed_dofs": int(bs * n - len(rows)),
            "tied_dofs": int(len(rows) - m)}
    return P, info


def unit_strain(j: int) -> np.ndarray:
    """Symmetric 3x3 strain tensor of the Voigt unit vector e_j (order xx yy zz yz xz xy, engineering
    shear: gamma = 1 means eps_ij = eps_ji = 1/2)."""
    E = np.zeros((3, 3))
    a, b = VOIGT_PAIRS[j]
    if a == b:
        E[a, a] = 1.0
    else:
        E[a, b] = E[b, a] = 0.5
    return E


def unit_stress(j: int) -> np.ndarray:
    """Symmetric 3x3 stress of the Voigt unit vector e_j (sigma_ij = sigma_ji = 1): Sigma : eps = eps_voigt[j]."""
    S = np.zeros((3, 3))
    a, b = VOIGT_PAIRS[j]
    S[a, b] = S[b, a] = 1.0
    return S


def affine_dofs(X: np.ndarray, E: np.ndarray) -> np.ndarray:
    """Dof vector of u = E x (exact in any Lagrange space: it is linear)."""
    return (X @ np.asarray(E).T).ravel()
