"""Contact of the free surface (the rim) with the rigid platens: an active set of nodes.

As the disc barrels, the rim may roll over onto a platen: nodes of the side face reach the platen
plane. Without contact they pass through it (measured on the demo before 2026-12-03: 3.7 um at
the rim corner node at 17.79 MPa, mu = 0.2). Here every node of the free surface is a candidate:

  * after each converged Newton solve (fem/models/newton.py solve_step), a candidate whose axial
    position z = Z + u_z is beyond the platen plane by more than PENETRATION_TOL_REL x the disc
    thickness joins the active set;
  * an active node whose normal reaction pulls on the platen (N < -RELEASE_TOL_REL x the mean
    reaction of a face node) leaves it;
  * if the set changed, the step is solved again from the converged state with the new set (at
    most MAX_ROUNDS times, else the step is cut).

An active node is held on the platen plane exactly as a face node (u_z = H - Z - delta on the
loaded platen, u_z = -Z on a fixed bottom platen; fem/models/base.py set_platen); it carries the
same friction law as the face (fem/physics/friction.py: Coulomb, Tresca cap with the node's share
of the current area of the side facets, or sticking) and its reaction adds to the platen force.
The set of a step starts from the set of the last accepted step (a rejected step's changes are
undone) and is saved in checkpoints. Units: mm, N.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fem.models.contact import ContactNodes

PENETRATION_TOL_REL = 1e-6   # of the disc thickness: a node this far beyond the plane joins the set
RELEASE_TOL_REL = 1e-6       # of the mean face-node reaction: a pull beyond this releases a node
MAX_ROUNDS = 8               # re-solves of one step for a changing set, then the step is cut


@dataclass
class ActiveSet:
    """The platen constraints of the active free-surface nodes (local dofs, ghosts included, except
    `nodes`: owned, as PlatenContact expects)."""
    constrained: np.ndarray
    nodes: ContactNodes
    moving_z: np.ndarray
    moving_offset: np.ndarray
    fixed_z: np.ndarray
    fixed_value: np.ndarray


def axial_component(model) -> int:
    """Index of the axial (z) component of u and of the node coordinates: 1 axisymmetric, 2 in 3D."""
    return model.kinematics.u_components - 1


def on_top(model, Z: np.ndarray) -> np.ndarray:
    """Which nodes face the loaded (top) platen: all of them with mid-plane symmetry."""
    if model.geo.use_symmetry:
        return np.ones(len(Z), dtype=bool)
    return Z > 0.5 * model.geo.height_mm


def candidates(model, marker):
    """(node indices, in-plane dofs (n, k), -1 where a symmetry or the axis fixes one) of the nodes
    of the boundary facets whose vertices `marker` ((3, n) coordinates -> bool) selects (mid-side
    nodes included, wherever a straight facet puts them), without the nodes on the platen faces and
    the mid-plane (held already)."""
    from dolfinx import fem, mesh as dmesh
    mesh = model.mesh
    fdim = mesh.topology.dim - 1
    mesh.topology.create_connectivity(fdim, mesh.topology.dim)
    facets = dmesh.locate_entities_boundary(mesh, fdim, marker)
    zc = axial_component(model)
    zd = fem.locate_dofs_topological(model.W.sub(0).sub(zc), fdim, facets).astype(np.int64)
    node_of = np.full(model.w.x.array.size, -1, dtype=np.int64)
    node_of[model.node_dofs[:, zc]] = np.arange(len(model.node_dofs))
    n = np.unique(node_of[zd])
    n = n[n >= 0]
    Z = model.node_coords[n, zc]
    H = model.geo.height_mm
    tol = 1e-8 * max(model.geo.radius_mm, 1.0)
    n = n[(np.abs(Z - H) > tol) & (np.abs(Z) > tol)]
    k = model.inplane_components
    t = model.node_dofs[n, :k].astype(np.int64)
    t = np.where(np.isin(t, model._base_constrained), -1, t)
    return n, t.reshape(-1, k)


def active_set(model) -> ActiveSet:
    act = model.rim_active
    n, t = model.rim_nodes[act], model.rim_t[act]
    zc = axial_component(model)
    Z = model.node_coords[n, zc]
    zd = model.node_dofs[n, zc].astype(np.int64)
    top = on_top(model, Z)
    cons = [zd]
    if model.platen_spec.friction == "sticking":
        cons.append(t[t >= 0])
    own = zd < model.n_owned
    nodes = ContactNodes(zd[own], t[own], np.where(top, 1.0, -1.0)[own], top[own])
    H = model.geo.height_mm
    return ActiveSet(np.concatenate(cons).astype(np.int64), nodes, zd[top], H - Z[top], zd[~top], -Z[~top])


def penetration_mm(model) -> np.ndarray:
    """How far each candidate node is beyond its platen plane (mm; negative: a gap), at the current
    displacement and platen position."""
    n = model.rim_nodes
    zc = axial_component(model)
    Z = model.node_coords[n, zc]
    z = Z + model.w.x.array[model.node_dofs[n, zc]]
    return np.where(on_top(model, Z), z - (model.geo.height_mm - model.delta), -z)


def updated_set(model) -> np.ndarray:
    """The active set after a converged solve (see the module docstring)."""
    act = model.rim_active
    new = act | (penetration_mm(model) > PENETRATION_TOL_REL * model.geo.thickness_mm)
    if model._max(float(act.any())):   # collective: the assembly and the sums below are, on every process
        r = model.assemble_residual()
        zc = axial_component(model)
        n = model.rim_nodes
        Z = model.node_coords[n, zc]
        reaction = -np.where(on_top(model, Z), 1.0, -1.0) * r[model.node_dofs[n, zc]]
        faces = model._base_nodes
        own_face = np.abs(r[faces.z])
        mean = model._sum(own_face.sum()) / max(model._sum(len(own_face)), 1.0)
        new &= ~(act & (reaction < -RELEASE_TOL_REL * mean))
    return new


def min_gap_mm(model) -> float:
    """Smallest gap between the free surface and the platen planes (mm; negative: penetration) over
    all candidate nodes, active ones included (held on the plane: 0), on every process."""
    pen = penetration_mm(model)
    return -model._max(pen.max(initial=-np.inf))
