"""Effective linear-elastic stiffness of an RVE cell (box periodic in x and y, z through the
thickness) from six load cases, with the periodic, the kinematic (KUBC) and the static (SUBC)
boundary conditions on the same mesh. Units: mm, MPa. Serial.

Discretisation: P2 (default) or P1 displacement on the linear tetrahedra of meshes/rve.py; each
phase is linear elastic at small strain with the elastic constants of its material
(fem/physics/materials.py; fem/rve/backus.py `lame`): Li E, nu; gel lambda = K - 2 mu/3, mu (the
linearisation of the neo-Hookean u-p law); pores E, nu; tows transversely isotropic about the local
fibre direction a (DG0 field, as in the disc model), sigma = C : eps in Spencer's invariant form with
the five moduli of TowElastic.stiffness() (the small-strain form of fem/physics/laws.py TowLaw).
Pure displacement P2 is used for the nearly incompressible gel (K/mu = 2000 by default): the bound
relations below hold for any such discretisation, and the laminate (layered) field is represented
exactly, but a volumetric locking error in the weave is part of what the mesh convergence shows.

Voigt order xx, yy, zz, yz, xz, xy with engineering shear strains; the volume is that of the
whole box (pores included): the stiffness of the stack as a homogeneous slab of its thickness.

Load cases j = 1..6 (fem/rve/periodic.py for the constraints):
* periodic and KUBC: u_j = E_j x + P y_j with E_j the unit strain e_j; P^T K P y_j = -P^T K E_j x.
  C_ij = (1/V) (E_i x)^T K u_j = <sigma_i>(E_j) (the average stress, because the fluctuation is
  K-orthogonal to the constrained space); the mean strain <eps(u_j)> = E_j is checked.
* SUBC (uniform traction Sigma n on the whole boundary): K u_j = f_j with
  f_j = int Sigma_j : eps(v) dV (= int (Sigma_j n) . v dA, Sigma_j the unit stress e_j),
  rigid modes removed by three-two-one supports (no reaction: f_j is self-equilibrated);
  S_ij = (1/V) f_i^T u_j = <eps_i>(Sigma_j), C_SUBC = S^-1.

Bounds (what "between" means for a 6x6 matrix): for every test strain x,
    x^T C_SUBC x <= x^T C_periodic x <= x^T C_KUBC x,
i.e. C_KUBC - C_periodic and C_periodic - C_SUBC are positive semidefinite (Loewner order). Reason:
x^T C x is twice the least strain energy per volume over the admissible fields with mean strain x; the KUBC
fields (w = 0 on the boundary) are a subset of the periodic ones (w periodic, w = 0 on z faces), which
are a subset of all fields with <eps> = x, whose minimum is the SUBC (minimal kinematic) energy.
The subsets are nested also for the discrete spaces on one mesh, so the relation holds exactly for
the FE results (to round-off); diagonal entries (zz, xz, xy, ...) and the energies of hydrostatic
(1,1,1,0,0,0) and in-plane strains are special cases. `bounds_check` reports the smallest
eigenvalue of both differences relative to the largest eigenvalue of C_periodic.
"""
from __future__ import annotations

import time

import dolfinx_solver  # noqa: F401  (must precede dolfinx / petsc4py)
import numpy as np
import ufl
from dolfinx import fem, la
from dolfinx.fem import petsc as fem_petsc
from petsc4py import PETSc

from fem.models import JIT_OPTIONS
from fem.models.linear_solvers import ProlongedSystem
from fem.rve.backus import VOIGT, lame
from fem.rve.periodic import affine_dofs, prolongation, unit_strain, unit_stress

BOUNDARY_CONDITIONS = ("periodic", "kubc", "subc")


def tow_moduli(material) -> dict:
    """The five Spencer moduli of a transversely isotropic tow (as fem/physics/laws.py TowLaw)."""
    C = material.stiffness()
    lam, muT, muL = C[1, 2], C[3, 3], C[5, 5]
    alpha = C[0, 1] - lam
    beta = C[0, 0] - lam - 2.0 * alpha - 4.0 * muL + 2.0 * muT
    return {"lambda": lam, "mu_T": muT, "mu_L": muL, "alpha": alpha, "beta": beta}


def _sigma(material, eps, a):
    I = ufl.Identity(3)
    lm = lame(material)
    if lm is not None:
        lam, mu = lm
        return lam * ufl.tr(eps) * I + 2.0 * mu * eps
    m = tow_moduli(material)
    A = ufl.outer(a, a)
    tr, aea = ufl.tr(eps), ufl.inner(a, eps * a)
    return (m["lambda"] * tr * I + 2.0 * m["mu_T"] * eps + m["alpha"] * (aea * I + tr * A)
            + 2.0 * (m["mu_L"] - m["mu_T"]) * (A * eps + eps * A) + m["beta"] * aea * A)


def _petsc_aij(M) -> PETSc.Mat:
    M = M.tocsr()
    M.sort_indices()
    return PETSc.Mat().createAIJ(size=M.shape, csr=(M.indptr.astype(PETSc.IntType), M.indices.astype(PETSc.IntType),
                                                    M.data), comm=PETSc.COMM_SELF)


def _vec(a: np.ndarray) -> PETSc.Vec:
    return PETSc.Vec().createWithArray(np.ascontiguousarray(a, dtype=PETSc.ScalarType), comm=PETSc.COMM_SELF)


def invariants(C: np.ndarray) -> dict:
    """Diagonal terms, Voigt-type bulk (1/9 of the energy of eps = (1,1,1,0,0,0)), Reuss-type bulk
    (1 / sum of the normal compliance block) and engineering constants of a 6x6 stiffness (MPa)."""
    C = np.asarray(C, dtype=float)
    S = np.linalg.inv(C)
    out = {f"C_{k}{k}": float(C[i, i]) for i, k in enumerate(VOIGT)}
    out["bulk_voigt_MPa"] = float(C[:3, :3].sum() / 9.0)
    out["bulk_reuss_MPa"] = float(1.0 / S[:3, :3].sum())
    out["E_x_MPa"], out["E_y_MPa"], out["E_z_MPa"] = (float(1.0 / S[i, i]) for i in range(3))
    out["G_yz_MPa"], out["G_xz_MPa"], out["G_xy_MPa"] = (float(1.0 / S[i, i]) for i in range(3, 6))
    out["nu_xy"], out["nu_xz"] = float(-S[0, 1] / S[0, 0]), float(-S[0, 2] / S[0, 0])
    return out


def bounds_check(C_kubc, C_per, C_subc) -> dict:
    """Smallest eigenvalues of C_KUBC - C_per and C_per - C_SUBC (symmetric parts), relative to the
    largest eigenvalue of C_per: both >= -round-off when the periodic result lies between."""
    scale = float(np.linalg.eigvalsh(0.5 * (C_per + C_per.T)).max())
    d1 = np.linalg.eigvalsh(0.5 * ((C_kubc - C_per) + (C_kubc - C_per).T)).min() / scale
    d2 = np.linalg.eigvalsh(0.5 * ((C_per - C_subc) + (C_per - C_subc).T)).min() / scale
    return {"min_eig_kubc_minus_periodic_rel": float(d1), "min_eig_periodic_minus_subc_rel": float(d2)}


def effective_stiffness(mesh, cell_tags, box, materials: dict, fibre: dict | None = None, degree: int = 2,
                        bcs=BOUNDARY_CONDITIONS, progress=None) -> dict:
    """6x6 effective stiffness of the cell for each boundary condition in `bcs`.

    materials: {cell tag: material dataclass}; fibre: {tow cell tag: callable x -> (3, n)} for the
    transversely isotropic tows; box: (x0, y0, z0, x1, y1, z1) in mm."""
    if mesh.comm.size > 1:
        raise RuntimeError("the RVE solver is serial: run it without mpiexec")
    say = progress or (lambda s: None)
    t0 = time.perf_counter()
    V = fem.functionspace(mesh, ("Lagrange", degree, (3,)))
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    eps = lambda w: ufl.sym(ufl.grad(w))   # noqa: E731
    tags = np.unique(cell_tags.values)
    n_cells = mesh.topology.index_map(3).size_local
    if len(cell_tags.values) != n_cells:
        raise RuntimeError(f"{n_cells - len(cell_tags.values)} cells without a material tag")
    missing = [int(t) for t in tags if int(t) not in materials]
    if missing:
        raise RuntimeError(f"no material for cell tags {missing}")
    a_dir = None
    tows = [int(t) for t in tags if lame(materials[int(t)]) is None]
    if tows:
        a_dir = fem.Function(fem.functionspace(mesh, ("DG", 0, (3,))))
        for t in tows:
            if fibre is None or t not in fibre:
                raise RuntimeError(f"no fibre direction for tow cell tag {t}")
            a_dir.interpolate(fibre[t], cells0=cell_tags.find(t))
    dx = ufl.Measure("dx", domain=mesh, subdomain_data=cell_tags)
    q_iso = 2 * (degree - 1)
    form = None
    for t in tags:
        mat = materials[int(t)]
        q = q_iso if lame(mat) is not None else q_iso + 2
        term = ufl.inner(_sigma(mat, eps(u), a_dir), eps(v)) * dx(int(t), metadata={"quadrature_degree": max(q, 1)})
        form = term if form is None else form + term
    K = fem_petsc.assemble_matrix(fem.form(form, jit_options=JIT_OPTIONS))
    K.assemble()
    bs = V.dofmap.index_map_bs
    n_nodes = V.dofmap.index_map.size_local
    N = bs * n_nodes
    X = V.tabulate_dof_coordinates()[:n_nodes]
    Sig = fem.Constant(mesh, np.zeros((3, 3)))
    f_form = fem.form(ufl.inner(Sig, eps(v)) * ufl.dx(domain=mesh, metadata={"quadrature_degree": max(degree - 1, 1)}),
                      jit_options=JIT_OPTIONS)
    f = np.zeros((6, N))
    for j in range(6):
        Sig.value[:] = unit_stress(j)
        bj = fem.assemble_vector(f_form)
        bj.scatter_reverse(la.InsertMode.add)
        f[j] = bj.array[:N]
    one = fem.form(fem.Constant(mesh, 1.0) * ufl.dx(domain=mesh), jit_options=JIT_OPTIONS)
    vol_mesh = float(fem.assemble_scalar(one))
    x0, y0, z0, x1, y1, z1 = box
    vol = (x1 - x0) * (y1 - y0) * (z1 - z0)
    L = max(x1 - x0, y1 - y0, z1 - z0)
    tol = 1e-6 * L
    out = {"dofs": int(N), "nodes": int(n_nodes), "cells": int(n_cells), "element_degree": degree,
           "volume_mm3": vol, "mesh_volume_rel_error": vol_mesh / vol - 1.0, "assembly_s": time.perf_counter() - t0,
           "independent_dofs": {}, "solve_s": {}, "mean_strain_error": {}, "asymmetry_rel": {}, "stiffness": {}}
    Ku = K.createVecLeft()
    E_all = np.stack([affine_dofs(X, unit_strain(i)) for i in range(6)])
    for bc in bcs:
        t1 = time.perf_counter()
        P, info = prolongation(X, box, tol, "free" if bc == "subc" else bc, bs=bs)
        ps = ProlongedSystem(_petsc_aij(P), mesh.comm)
        ps.factor(K)
        out["independent_dofs"][bc] = info["independent_dofs"]
        M = np.zeros((6, 6))
        mean_err = reaction = 0.0
        for j in range(6):
            if bc == "subc":
                x = ps.solve(_vec(f[j]))
                uj = x.array.copy()
                M[:, j] = f @ uj / vol                     # S_ij = <eps_i>(Sigma_j)
                K.mult(x, Ku)                              # reactions of the 3-2-1 supports: ~0
                reaction = max(reaction, float(np.abs(Ku.array - f[j]).max() / np.abs(f[j]).max()))
            else:
                uE = affine_dofs(X, unit_strain(j))
                K.mult(_vec(uE), Ku)
                b = _vec(-Ku.array)
                x = ps.solve(b)
                uj = uE + x.array
                K.mult(_vec(uj), Ku)
                M[:, j] = E_all @ Ku.array / vol           # C_ij = <sigma_i>(E_j)
                mean = f @ uj / vol
                mean_err = max(mean_err, float(np.abs(mean - np.eye(6)[j]).max()))
        scale = np.abs(M).max()
        out["asymmetry_rel"][bc] = float(np.abs(M - M.T).max() / scale)
        M = 0.5 * (M + M.T)
        C = np.linalg.inv(M) if bc == "subc" else M
        if bc == "subc":
            out["subc_compliance_per_MPa"] = M.tolist()
            out["subc_support_reaction_rel"] = reaction
        else:
            out["mean_strain_error"][bc] = mean_err
        out["stiffness"][bc] = C
        out["solve_s"][bc] = time.perf_counter() - t1
        say(f"  {bc}: {info['independent_dofs']} independent dofs, {out['solve_s'][bc]:.1f} s, "
            f"C_zz {C[2, 2]:.6g} MPa, C_xz {C[4, 4]:.6g} MPa, C_xy {C[5, 5]:.6g} MPa")
    if all(b in out["stiffness"] for b in BOUNDARY_CONDITIONS):
        st = out["stiffness"]
        out["bounds_check"] = bounds_check(st["kubc"], st["periodic"], st["subc"])
    out["wall_s"] = time.perf_counter() - t0
    return out
