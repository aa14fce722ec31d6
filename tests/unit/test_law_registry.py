"""The law registry and the quadrature-array interface of fem/physics/laws.py."""
import numpy as np
import pytest
import ufl
from dolfinx import fem, mesh as dmesh
from mpi4py import MPI

from fem.physics.laws import (CreepLaw, GelLaw, LawInputs, SoftVoidLaw, TowLaw, law_class, make_law,
                              quadrature_arrays)
from fem.physics.materials import GelNeoHookean, LiCreep, SoftVoid, TowElastic


def test_every_material_has_exactly_its_law():
    """Requirement: laws are chosen from the material type (no isinstance chains in the models),
    with the flags the model core needs; an unknown material is a clear error."""
    assert law_class(LiCreep()) is CreepLaw and CreepLaw.mixed_up and CreepLaw.creeping
    assert law_class(GelNeoHookean()) is GelLaw and GelLaw.mixed_up and not GelLaw.creeping
    assert law_class(SoftVoid()) is SoftVoidLaw and not SoftVoidLaw.mixed_up
    assert law_class(TowElastic()) is TowLaw and TowLaw.needs_fibre_direction
    assert len({c.kind for c in (CreepLaw, GelLaw, SoftVoidLaw, TowLaw)}) == 4
    with pytest.raises(TypeError, match="no constitutive law registered for material dict"):
        law_class({})


def test_quadrature_arrays_give_stress_and_consistent_tangent():
    """Requirement: a law returns its stress P and tangent dP/dF as quadrature-point arrays; the
    tangent agrees with a central difference of P (gel, neo-Hookean with a pressure field) to 1e-6."""
    msh = dmesh.create_unit_cube(MPI.COMM_SELF, 1, 1, 1, dmesh.CellType.tetrahedron)
    F0 = fem.Constant(msh, np.eye(3))
    Fv = ufl.variable(ufl.as_matrix([[F0[i, j] for j in range(3)] for i in range(3)]))
    p = fem.Constant(msh, 1.5)
    law = make_law(GelNeoHookean(shear_modulus_MPa=1.0, bulk_modulus_MPa=2000.0), LawInputs(msh, Fv, p))
    import basix
    pts, _ = basix.make_quadrature(basix.CellType.tetrahedron, 2)
    cells = np.arange(2, dtype=np.int32)
    Fa = np.array([[1.05, 0.02, 0.0], [0.01, 0.97, 0.03], [0.0, -0.02, 0.99]])
    F0.value[:] = Fa
    P, A = quadrature_arrays(law, Fv, msh, cells, pts)
    assert P.shape == (2, len(pts), 3, 3) and A.shape == (2, len(pts), 3, 3, 3, 3)
    h = 1e-6
    for k, l in [(0, 0), (0, 1), (2, 1)]:
        E = np.zeros((3, 3))
        E[k, l] = h
        F0.value[:] = Fa + E
        Pp, _ = quadrature_arrays(law, Fv, msh, cells, pts)
        F0.value[:] = Fa - E
        Pm, _ = quadrature_arrays(law, Fv, msh, cells, pts)
        fd = (Pp - Pm) / (2 * h)
        assert np.allclose(fd, A[..., k, l], rtol=1e-6, atol=1e-6 * np.abs(A).max())
