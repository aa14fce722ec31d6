"""3D disc model (quarter disc by default) on tetrahedra, MPI-parallel through PETSc: bare Li
(meshes/disc_3d.py) or the multi-material G-LiCFC composite (meshes/composite.py). The same laws,
platen contact, Newton loop and measurement as the axisymmetric model: all of them are the shared
core (fem/models/base.py, newton.py, contact.py); this module adds only the 3D kinematics and the
boundary.

Phases (composite; cells by tag, bonded interfaces, laws chosen by fem/physics/laws.py from the
materials of fem/physics/materials.py):
  * Li: the creep law (CreepLaw), u-p mixed form;
  * carbon tows (warp and weft tags): transversely isotropic St Venant-Kirchhoff (TowLaw) about the
    local fibre direction (DG0 field from meshes.composite.tow_tangent), displacement form;
  * GPE skins: nearly incompressible neo-Hookean (GelLaw), u-p mixed form with its own pressure field;
  * pores: soft compressible neo-Hookean (SoftVoidLaw), displacement form.

Constraints (by node coordinates of the P2 displacement nodes):
  * top platen face z = H: u_z = -delta (delta = platen displacement, one global unknown);
    sticking platens also fix u_x = u_y = 0 there;
  * z = 0: the mid-plane (symmetry: u_z = 0) or, without mid-plane symmetry (the composite's
    default: a weave is not mirror symmetric), the fixed bottom platen face (u_z = 0, with the
    same friction condition as the top one);
  * symmetry planes x = 0: u_x = 0, and y = 0: u_y = 0 (quarter disc).
Platen force = 4 x the quarter's reaction. Units: mm, N, MPa, s.
"""
from __future__ import annotations

import numpy as np

from fem.models.base import DiscModel
from fem.models.contact import ContactNodes
from fem.physics.friction import FrictionSpec
from fem.physics.kinematics import Solid3D


class Disc3DModel(DiscModel):
    kinematics = Solid3D
    inplane_components = 2
    dim = 3

    def __init__(self, mesh, geo, phases: dict, platen: FrictionSpec, quadrature_degree: int = 4,
                 theta: float = 1.0, cell_tags=None, fibre_direction: dict | None = None,
                 linear_solver: str = "auto", reuse_factorisation: bool | None = None):
        """geo: Disc3DGeometry or CompositeGeometry (height_mm, thickness_mm, radius_mm, diameter_mm,
        quarter, use_symmetry). phases: phase name -> (cell tags, or None for every cell, material),
        with exactly one creeping material; bare Li: {"li": (None, LiCreep(...))}."""
        self.force_factor = 4.0 if geo.quarter else 1.0
        super().__init__(mesh, geo, phases, platen, quadrature_degree, theta, cell_tags=cell_tags,
                         fibre_direction=fibre_direction, pressure_space="P1", linear_solver=linear_solver,
                         reuse_factorisation=reuse_factorisation)

    def rim_marker(self, x: np.ndarray) -> np.ndarray:
        """The side face r = R (rim contact, fem/models/rim_contact.py)."""
        return np.abs(np.hypot(x[0], x[1]) - self.geo.radius_mm) < 1e-8 * max(self.geo.radius_mm, 1.0)

    def _boundary(self):
        m, X = self.node_dofs, self.node_coords
        H, tol = self.geo.height_mm, 1e-8 * max(self.geo.radius_mm, 1.0)
        top = np.abs(X[:, 2] - H) < tol
        bottom = np.abs(X[:, 2]) < tol
        sym_x = np.abs(X[:, 0]) < tol if self.geo.quarter else np.zeros(len(X), bool)
        sym_y = np.abs(X[:, 1]) < tol if self.geo.quarter else np.zeros(len(X), bool)
        bottom_platen = not self.geo.use_symmetry
        cons = [m[top, 2], m[bottom, 2], m[sym_x, 0], m[sym_y, 1]]
        if self.platen_spec.friction == "sticking":
            cons += [m[top, 0], m[top, 1]]
            if bottom_platen:
                cons += [m[bottom, 0], m[bottom, 1]]
        # platen nodes (owned), in-plane dofs (-1 where a symmetry plane fixes one); sign +1 on the
        # top face, -1 on the bottom platen
        z, t, sign, moving = [], [], [], []
        for sel, sg, mov in [(top, 1.0, True)] + ([(bottom, -1.0, False)] if bottom_platen else []):
            own = sel & (m[:, 2] < self.n_owned)
            z.append(m[own, 2])
            t.append(np.stack([np.where(sym_x[own], -1, m[own, 0]), np.where(sym_y[own], -1, m[own, 1])], axis=1))
            sign.append(np.full(int(own.sum()), sg))
            moving.append(np.full(int(own.sum()), mov))
        nodes = ContactNodes(*(np.concatenate(a) for a in (z, t, sign, moving)))
        nodes.z, nodes.t = nodes.z.astype(np.int64), nodes.t.astype(np.int64)
        return cons, nodes, m[top, 2]

    def extra_results(self) -> dict:
        return {"phases": self.phase_results()}
