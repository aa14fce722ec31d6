"""Kinematics in the reference configuration, lengths in mm: the two settings a disc model can use.

* Axisymmetric (r, z, theta ordering): u = (u_r, u_z) is a function of the reference coordinates
  (R, Z) = (x[0], x[1]); forms are per radian, integrated with the weight R (total quantities =
  2 pi * form).
* Solid3D: u = (u_x, u_y, u_z), F = I + grad u, weight 1.
Both give the 3x3 reference gradient that the laws (fem/physics/laws.py) take, and list its
components that can be non-zero (`active`: the pointwise creep kernel differentiates along these).
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


class Axisymmetric:
    u_components = 2
    # the components of F (and of grad v) that can be non-zero: the (r, z) block and the hoop entry
    active = ((0, 0), (0, 1), (1, 0), (1, 1), (2, 2))
    thickness_axis = (0.0, 1.0, 0.0)   # z, the disc's axis, in the (r, z, theta) components

    @staticmethod
    def grad(v, x):
        return axisym_grad(v, x)

    @staticmethod
    def deformation_gradient(u, x):
        return ufl.Identity(3) + axisym_grad(u, x)

    @staticmethod
    def weight(x):
        return x[0]


class Solid3D:
    u_components = 3
    active = tuple((i, j) for i in range(3) for j in range(3))
    thickness_axis = (0.0, 0.0, 1.0)

    @staticmethod
    def grad(v, x):
        return ufl.grad(v)

    @staticmethod
    def deformation_gradient(u, x):
        return ufl.Identity(3) + ufl.grad(u)

    @staticmethod
    def weight(x):
        return None
