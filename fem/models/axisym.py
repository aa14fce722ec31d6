"""Axisymmetric disc model: the r-z section of the disc (meshes/disc_axisym.py), serial.

Everything but the kinematics and the boundary is the shared core (fem/models/base.py); the
Newton loop is fem/models/newton.py. Pressure space: the enriched Taylor-Hood "P1+P0" by default
(continuous P1 plus one constant per cell), plain "P1" on request. The cell constants make the
volume balance hold cell by cell (with the volumetric law of fem/physics/laws.py, which is linear
in J): plain Taylor-Hood balances volume only against continuous P1 functions, and under large
creep strain its J scatters pointwise (0.06-7 on the 0.125 mm calibration mesh at 17.79 MPa; rms
|J - 1| 0.67, against 0.16 with P1+P0), which distorts the rim and the measured diameter
(tests/verification). Forms are per radian: the platen force is 2 pi x the section's reaction.

Boundary (facet tags of meshes/disc_axisym.py): axis r = 0: u_r = 0; top platen face z = H:
u_z = -delta; z = 0: mid-plane (u_z = 0) with symmetry, else the fixed bottom platen (u_z = 0, with
the same friction as the top one); sticking platens also fix u_r on their faces.
Units: mm, N, MPa, s.
"""
from __future__ import annotations

import math

import numpy as np
from dolfinx import fem

from fem.models.base import DiscModel
from fem.models.contact import ContactNodes
from fem.physics.kinematics import Axisymmetric
from fem.physics.materials import LiCreep
from fem.physics.friction import FrictionSpec
from meshes.common import AXIS, BOTTOM, TOP
from meshes.disc_axisym import AxisymDiscGeometry


class AxisymDiscModel(DiscModel):
    kinematics = Axisymmetric
    inplane_components = 1
    dim = 2
    force_factor = 2.0 * math.pi

    def __init__(self, mesh, facet_tags, geo: AxisymDiscGeometry, mat: LiCreep, platen: FrictionSpec,
                 quadrature_degree: int = 4, theta: float = 1.0, pressure_space: str = "P1+P0",
                 linear_solver: str = "auto", reuse_factorisation: bool | None = None,
                 phases: dict | None = None, cell_tags=None, fibre_direction: dict | None = None):
        """A bare disc of `mat`, or a layered one: `phases` (name -> (cell tags, material)) with the
        mesh's cell_tags and fibre_direction (tag -> callable) for the transversely isotropic layers
        (the homogenised G-LiCFC disc, meshes/homogenised.py; `mat` is then its Li)."""
        if mesh.comm.size > 1:
            raise RuntimeError("the axisymmetric path runs serially (it is small); use 3D for MPI")
        self.facet_tags = facet_tags
        super().__init__(mesh, geo, phases or {"li": (None, mat)}, platen, quadrature_degree, theta,
                         cell_tags=cell_tags, fibre_direction=fibre_direction,
                         pressure_space=pressure_space, linear_solver=linear_solver,
                         reuse_factorisation=reuse_factorisation)

    def rim_marker(self, x: np.ndarray) -> np.ndarray:
        """The side face r = R (rim contact, fem/models/rim_contact.py)."""
        return np.abs(x[0] - self.geo.radius_mm) < 1e-8 * max(self.geo.radius_mm, 1.0)

    def _boundary(self):
        fdim = self.mesh.topology.dim - 1
        m = self.node_dofs
        node_of = np.full(self.w.x.array.size, -1, dtype=np.int64)
        node_of[m[:, 1]] = np.arange(len(m))

        def dofs(comp, tag):
            sub = self.W.sub(0).sub(comp)
            return np.sort(fem.locate_dofs_topological(sub, fdim, self.facet_tags.find(tag)).astype(np.int64))

        axis_r = dofs(0, AXIS)
        faces = [(TOP, +1.0, True)] + ([] if self.geo.use_symmetry else [(BOTTOM, -1.0, False)])
        cons, z, t, sign, moving = [axis_r], [], [], [], []
        for tag, sg, mov in faces:
            zd = dofs(1, tag)
            rd = m[node_of[zd], 0]
            rd = np.where(np.isin(rd, axis_r), -1, rd)
            cons.append(zd)
            if self.platen_spec.friction == "sticking":
                cons.append(rd[rd >= 0])
            z.append(zd), t.append(rd[:, None]), sign.append(np.full(len(zd), sg)), moving.append(np.full(len(zd), mov))
        if self.geo.use_symmetry:
            cons.append(dofs(1, BOTTOM))   # mid-plane: u_z = 0
        nodes = ContactNodes(*(np.concatenate(a) for a in (z, t, sign, moving)))
        return cons, nodes, z[0]

    def extra_results(self) -> dict:
        out = {"volume": self.volume_check()}
        if len(self.phases) > 1 or self.closure_q is not None:   # a layered disc, or a ply whose pores close:
            out["phases"] = self.phase_results()                  # the per-phase results of the shared core
        return out
