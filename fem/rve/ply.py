"""The homogenised cloth ply of a G-LiCFC disc (fem/physics/materials.py PlyElastic) from the
periodic RVE of its cloth. Units: mm, MPa. Serial, a few seconds; cached by parameter hash.

The cloth cell. The Li region of the disc (thickness T: tows + Li + pores, from the masses) is the
cloth with a dense Li overlayer above and below it. The homogenised disc (meshes/homogenised.py)
keeps the overlayer as a Li layer with the Li creep law and replaces only the cloth by the ply, so
the RVE here is one plain-weave cell (meshes/rve.py WeaveCell) of the cloth alone: the study's
composite with
    T_c = cloth thickness + 2 tow_gap_mm (+1e-6 relative)     (the crests tow_gap_mm below the faces),
    the Li mass that fills T_c,  the pore volume per area of the study (void_fraction = V_void / T_c),
    no gel skins.
Everything else (tow section, crimp, pitch, the phases' constants) is the study's, so the tows, the
Li in the weave windows and the pores are those of the resolved disc. The overlayer of the disc is
(T - T_c) / 2 per side.

Effective stiffness: the periodic boundary conditions of fem/rve/solve.py (fluctuation periodic in
x, y; zero on the z faces) with P2 displacements. Every phase is elastic there, with the constants
the resolved disc uses (Li: E, nu; gel, pores: their small-strain moduli; tows: transversely
isotropic along the crimped fibres): the ply is the INSTANTANEOUS (elastic) cloth. The creep of the
Li in the weave windows is not in it (the open item of issue 18: RVE creep responses and a
viscoplastic ply law).

In-plane isotropisation. The weave is tetragonal (C11 = C22, C66 independent); the axisymmetric
disc needs transverse isotropy about z. The ply takes the average of the 4th-order stiffness over
rotations about z (`isotropise`): C11, C12 change, C11 + C12, C13, C33, C44 are kept, and
C66 = (C11 - C12) / 2. Its error is reported: the in-plane Young's modulus of the cell along a tow
(0 deg) and at 45 deg against the isotropised one, and max |C - C_iso| / max |C|.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict

import numpy as np

from fem.rve.backus import tensor_to_voigt, voigt_to_tensor

PLY_CACHE_VERSION = 1
ROTATIONS = 36   # equispaced angles of the in-plane average (exact for the 4th-order terms from 5)

def rotate_z(C: np.ndarray, angle: float) -> np.ndarray:
    """Voigt stiffness of the material rotated by `angle` (rad) about z."""
    c, s = np.cos(angle), np.sin(angle)
    Q = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    T = np.einsum("ia,jb,kc,ld,abcd->ijkl", Q, Q, Q, Q, voigt_to_tensor(C))
    return tensor_to_voigt(T)


def isotropise(C: np.ndarray) -> np.ndarray:
    """Average of the Voigt stiffness over rotations about z (transversely isotropic about z)."""
    C = 0.5 * (np.asarray(C, float) + np.asarray(C, float).T)
    return sum(rotate_z(C, 2.0 * np.pi * k / ROTATIONS) for k in range(ROTATIONS)) / ROTATIONS


def inplane_young(C: np.ndarray, angle: float) -> float:
    """Young's modulus (MPa) of the stiffness C for uniaxial stress in the plane at `angle` from x."""
    return float(1.0 / np.linalg.inv(rotate_z(C, -angle))[0, 0])


def _key(composite, materials: dict, mesh_size_mm: float, degree: int) -> str:
    payload = {"v": PLY_CACHE_VERSION, "composite": asdict(composite), "h": mesh_size_mm, "degree": degree,
               "materials": {k: asdict(v) for k, v in sorted(materials.items())}}
    return hashlib.sha1(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def homogenised_ply(composite, materials: dict, mesh_size_mm: float = 0.2, degree: int = 2,
                    progress=None, cache_dir=None) -> dict:
    """The ply constants and their report: {"constants": kwargs of PlyElastic, "layers": {ply_mm,
    li_mm, gpe_mm, ...}, "rve_stiffness_MPa", "isotropic_stiffness_MPa", "isotropisation": {...},
    "cell": {...}}. materials: "li", "gpe", "carbon", "void" material dataclasses (the Li's elastic
    constants are used). Cached as JSON in the mesh cache directory."""
    from fem.stepping.outputs import atomic_write_text
    from meshes.common import cache_dir_path
    from meshes.homogenised import cloth_cell_geometry
    say = progress or (lambda s: None)
    cell_geo, layers = cloth_cell_geometry(composite, mesh_size_mm)
    mats = {k: materials[k] for k in ("li", "gpe", "carbon", "void")}
    path = cache_dir_path(cache_dir) / f"ply_{_key(cell_geo, mats, mesh_size_mm, degree)}.json"
    if path.exists():
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            pass   # rebuilt below
    import dolfinx_solver  # noqa: F401
    from mpi4py import MPI

    from fem.rve.config import RveStudy
    from fem.rve.solve import effective_stiffness
    from meshes.rve import WeaveCell, load_mesh
    t0 = time.perf_counter()
    cell = WeaveCell(cell_geo)
    say(f"homogenised ply: periodic RVE of the cloth cell ({cell.box[3]:g} x {cell.box[4]:g} x {cell.box[5]:.4g} mm, "
        f"mesh {mesh_size_mm:g} mm)")
    mesh, cell_tags, report = load_mesh(cell, MPI.COMM_SELF)
    study = RveStudy("ply", cell, mats, element_degree=degree, bounds=False)
    res = effective_stiffness(mesh, cell_tags, cell.box, study.tag_materials(), study.fibre_direction(),
                              degree=degree, bcs=("periodic",))
    C = np.asarray(res["stiffness"]["periodic"])
    Ci = isotropise(C)
    consts = {"C11_MPa": float(Ci[0, 0]), "C12_MPa": float(Ci[0, 1]), "C13_MPa": float(0.5 * (Ci[0, 2] + Ci[1, 2])),
              "C33_MPa": float(Ci[2, 2]), "C44_MPa": float(0.5 * (Ci[3, 3] + Ci[4, 4]))}
    iso = {"max_abs_diff_rel": float(np.abs(C - Ci).max() / np.abs(C).max()),
           "E_inplane_0deg_MPa": inplane_young(C, 0.0), "E_inplane_45deg_MPa": inplane_young(C, np.pi / 4),
           "E_inplane_isotropised_MPa": inplane_young(Ci, 0.0),
           "C66_cell_MPa": float(C[5, 5]), "C66_isotropised_MPa": float(Ci[5, 5]),
           "transverse_isotropy_residual_rel": float(abs(Ci[5, 5] - 0.5 * (Ci[0, 0] - Ci[0, 1])) / Ci[0, 0])}
    vols = report.get("mesh_volumes_mm3") or {}
    vt = sum(vols.values()) or 1.0
    out = {"constants": consts, "layers": layers, "rve_stiffness_MPa": C.tolist(), "isotropic_stiffness_MPa": Ci.tolist(),
           "isotropisation": iso,
           "cell": {"box_mm": list(cell.box), "mesh_size_mm": mesh_size_mm, "element_degree": degree,
                    "dofs": res["dofs"], "cells": res["cells"], "volume_fractions": {k: v / vt for k, v in vols.items()},
                    "mean_strain_error": res["mean_strain_error"]["periodic"], "li_mass_mg": cell_geo.li_mass_mg,
                    "void_fraction": cell_geo.void_fraction},
           "wall_s": time.perf_counter() - t0}
    atomic_write_text(path, json.dumps(out, indent=1))
    say(f"  ply C11 {consts['C11_MPa']:.6g}, C12 {consts['C12_MPa']:.6g}, C13 {consts['C13_MPa']:.6g}, "
        f"C33 {consts['C33_MPa']:.6g}, C44 {consts['C44_MPa']:.6g} MPa ({out['wall_s']:.1f} s)")
    return out
