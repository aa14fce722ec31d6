"""Axisymmetric kinematics in the reference configuration (r, z, theta ordering), lengths in mm.

The displacement u = (u_r, u_z) is a function of the reference coordinates (R, Z) = (x[0], x[1]).
Forms are per radian: integrate with the weight R (total quantities = 2 pi * form).
"""
from __future__ import annotations

import ufl


def axisym_grad(v, x):
    """3x3 reference gradient of an axisymmetric vector field v = (v_r, v_z)."""
    return ufl.as_matrix([
        [v[0].dx(0), v[0].dx(1), 0.0],
        [v[1].dx(0), v[1].dx(1), 0.0],
        [0.0, 0.0, v[0] / x[0]],
    ])


def deformation_gradient(u, x):
    return ufl.Identity(3) + axisym_grad(u, x)
