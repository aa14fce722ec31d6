"""Size of a mesh and of its finite-element model, estimated from the geometry keys BEFORE meshing
(closed form, microseconds), so that `python -m fem validate/run` can refuse a mesh that would not
fit in memory (fem/study.py `check_memory`, key [numerics] max_memory_GiB) instead of meshing for
hours and being killed.

Element counts (Gmsh with element size s covers an area a with about a / (sqrt(3)/4 s^2) = 2.31 a/s^2
triangles, the count of equilateral triangles of side s):
  axisymmetric  N_tri = 2.31/h^2 * (R H + A_rim (r_rim^2 - 1) + A_plat (r_pl^2 - 1) + transition bands)
                with h = mesh_size_mm, r = *_refinement, A_rim = rim_zone_mm * H, A_plat = R * platen_zone_mm
                per refined face; the Box fields of meshes/disc_axisym.py grow the size linearly back
                to h over a band as wide as the zone (rim) or twice the zone (platen), which counts
                as (r - 1) * band area.
  3d            the cross-section (quarter disc: pi R^2/4) is triangulated as above (rim band of
                width rim_zone_mm at h/r_rim, plus a Threshold transition of width h), then extruded:
                N_tet = 3 N_tri * len(Disc3DGeometry.layer_heights()) (each prism = 3 tets).
  composite     N_tet = 70 * A_plan * (0.6/h_tow^2 + 0.4/h^2) (+ the pores, ~40 (r/h_pore)^2 tets each):
                the thin tows and GPE skins set the resolution across the thickness, so the count
                follows the plan area A_plan, not the volume; 70 fits the 15 mm quarter disc at
                h = 0.1-0.3 mm (318k/127k/75k/59k/34k tets, meshes/composite.py docstring) within 20 %.
Vertices V and edges E follow from Euler's formula (2D: V = (N + B)/2 + 1, E = V + N - 1 with B
boundary edges; extruded 3D: per layer plane V2, E2, plus vertical and diagonal edges;
unstructured tets: V = N/4.5, E = V + N).
Degrees of freedom (fem/models/base.py): P2 displacement on V + E nodes (2 components axisymmetric,
3 in 3D), P1 pressure on V (one field per u-p phase: Li, and the GPE in the composite), plus one
P0 constant per cell for pressure_space = "P1+P0".

Memory of a run (bytes), measured as the peak resident set size (RSS) of `python -m fem run`:
  M = M_0 + max(gmsh, model)
  M_0   = 0.25 GiB (2D), 0.35 GiB (3D)  Python, DOLFINx, PETSc, the forms (measured 0.19; 0.25-0.5 GiB)
  gmsh  = 1 kB per element              the Gmsh mesh while it is built and read back
  model = 2.5 kB per element            quadrature state (Cauchy-Green tensor, creep rates) and mesh
        + 9.5 kB per triangle, 21 kB per tet  the creep kernel's arrays and element tables (2026-12-03;
                                        KERNEL_BYTES_PER_ELEMENT, from the array sizes, not fitted)
        + 0.35 kB per dof               the solution, residual and work vectors
        + 12 B * nnz (x2)               the Jacobian (PETSc AIJ) and MUMPS' copy of it
        + 12 B * nnz * fill             the MUMPS LU factors (values + indices), with
          fill = 2 (n/1e4)^0.25 (2D), 3 (n/1e4)^0.4 (3D), n the number of dofs
  nnz = dofs * 30 (2D, P2-P1(+P0) triangles) or 90 (3D, P2-P1 tets): nonzeros of the Jacobian.
The constants are fitted to the peak RSS of real runs (MEASURED below, 1.7k to 163k dofs, within 0.8-1.6x);
nested dissection gives n log n (2D) and n^(4/3) (3D) for compact domains, and less for the thin
discs here. With [numerics] linear_solver = "gamg" (or "auto" on a bare-Li 3D disc from 100k dofs)
there are no factors: 4 * nnz * 12 B (matrix, Schur and multigrid hierarchy) instead.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass

GiB = 1024.0 ** 3
TRI_PER_AREA = 4.0 / math.sqrt(3.0)   # equilateral triangles of unit side per unit area (2.31)
COMPOSITE_TETS_PER_AREA = 70.0        # tets per h^2 of plan area (15 mm quarter disc, h = 0.1-0.3 mm)
BASE_BYTES = {2: 0.25 * GiB, 3: 0.35 * GiB}   # measured 0.19 (axisymmetric), 0.25-0.5 GiB (3D: bigger forms)
GMSH_BYTES_PER_ELEMENT = 1000.0
STATE_BYTES_PER_ELEMENT = 2500.0
# the creep kernel's per-element arrays (2026-12-03; from the array sizes, not fitted): per quadrature
# point stress, tangent, state and the quadrature functions of the weak form (axisymmetric 6 points x
# ~100 doubles, 3D 4 points x ~250), plus the serial element assembler's tables (gradients at the
# points and CSR positions: 3.9 kB per triangle, 13 kB per tetrahedron)
KERNEL_BYTES_PER_ELEMENT = {2: 9500.0, 3: 21000.0}
BYTES_PER_DOF = 350.0
BYTES_PER_NNZ = 12.0                  # a double and a 32-bit column index
NNZ_PER_DOF = {2: 30.0, 3: 90.0}
AUTO_ITERATIVE_MIN_DOFS = 100_000     # = fem/models/linear_solvers.py (the "auto" rule)


@dataclass(frozen=True)
class MeshEstimate:
    model: str
    elements: float      # triangles (axisymmetric) or tetrahedra
    vertices: float
    dofs: float          # unknowns of the u-p system
    nnz: float           # nonzeros of the Jacobian
    solver: str          # "mumps" or "gamg" (the one the memory estimate assumes)
    bytes: float         # peak memory of a run (RSS)

    @property
    def GiB(self) -> float:
        return self.bytes / GiB


# ---------------------------------------------------------------------------------- element counts
def _axisym_counts(geo) -> tuple[float, float, float]:
    """(triangles, vertices, boundary edges) of meshes/disc_axisym.py for AxisymDiscGeometry `geo`."""
    R, H, h = geo.radius_mm, geo.height_mm, geo.mesh_size_mm
    rr, rp = max(geo.rim_refinement, 1.0), max(geo.platen_refinement, 1.0)
    area = R * H   # in units of h^2 below
    faces = 1 if geo.use_symmetry else 2
    rim_w = min(geo.rim_zone_mm, R)
    if rr > 1.0:
        area += rim_w * H * (rr ** 2 - 1.0)                       # the refined band
        area += min(rim_w, R - rim_w) * H * (rr - 1.0)            # the linear transition inwards
    if rp > 1.0:
        z = min(geo.platen_zone_mm, H / faces)
        area += faces * R * z * (rp ** 2 - 1.0)
        area += faces * R * min(2.0 * z, H / faces - z) * (rp - 1.0)
        if rr > 1.0:   # the corner where both bands overlap is refined once, at the finer size
            r = max(rr, rp)
            area -= faces * rim_w * z * (rr ** 2 + rp ** 2 - 1.0 - r ** 2)
    n_tri = TRI_PER_AREA * area / h / h   # (not / h**2: h**2 underflows to 0 for absurd h)
    boundary = 2.0 * R / h * (rp if rp > 1.0 else 1.0) + H / h + H / h * rr
    verts = 0.5 * (n_tri + boundary) + 1.0
    return n_tri, verts, boundary


def _section_counts(geo) -> tuple[float, float, float]:
    """(triangles, vertices, edges) of the cross-section of meshes/disc_3d.py."""
    R, h = geo.radius_mm, geo.mesh_size_mm
    rr = max(geo.rim_refinement, 1.0)
    frac = 0.25 if geo.quarter else 1.0
    arc = 2.0 * math.pi * R * frac
    area = math.pi * R ** 2 * frac
    if rr > 1.0:
        w = min(geo.rim_zone_mm, R)
        band = arc * w * (1.0 - 0.5 * w / R)                     # annulus of width w (area)
        area += band * (rr ** 2 - 1.0) + arc * min(h, R - w) * (rr - 1.0)
    n_tri = TRI_PER_AREA * area / h / h   # (not / h**2: h**2 underflows to 0 for absurd h)
    boundary = arc / (h / rr) + (2.0 * R / h if geo.quarter else 0.0)
    v2 = 0.5 * (n_tri + boundary) + 1.0
    e2 = v2 + n_tri - 1.0
    return n_tri, v2, e2


def _composite_tets(geo) -> float:
    h = geo.mesh_size_mm
    h_tow = min(geo.mesh_size_tow_mm or h, h)
    a = geo.area_mm2 * (0.5 if geo.use_symmetry else 1.0)
    n = COMPOSITE_TETS_PER_AREA * a * (0.6 / h_tow / h_tow + 0.4 / h / h)
    if geo.void_fraction > 0.0:
        # pores: one per weave window, radius from the void volume (the exact count needs the
        # weave: CompositeGeometry._pores); each pore surface at size h_pore holds ~ 4 pi r^2 / (0.43 h_pore^2)
        # triangles and the pore about as many tets again, inside and around it
        p = geo.tow_pitch_mm
        n_pores = a / p ** 2
        t_li = geo.areal()["li_region"]
        r = (3.0 * geo.void_fraction * t_li * p ** 2 / (4.0 * math.pi)) ** (1.0 / 3.0)
        h_pore = geo.mesh_size_pore_mm or max(2.0 * math.pi * r / 24.0, h / 3.0)
        n += n_pores * 2.0 * 4.0 * math.pi * r ** 2 * TRI_PER_AREA / h_pore / h_pore
    return n


def mesh_counts(geo) -> tuple[str, float, float, float, float]:
    """(model, elements, vertices, P2 nodes = vertices + edges, pressure fields) of the mesh a
    geometry would give, without meshing."""
    from .composite import CompositeGeometry
    from .disc_3d import Disc3DGeometry
    from .homogenised import HomogenisedDiscGeometry
    if isinstance(geo, HomogenisedDiscGeometry):   # structured: exact counts of meshes/homogenised.py
        lay = geo.layered()
        nr = math.ceil((geo.radius_mm - geo.rim_zone_mm) / geo.mesh_size_mm) + \
            math.ceil(geo.rim_zone_mm * geo.rim_refinement / geo.mesh_size_mm)
        nz = sum(rows for _, _, rows in lay.layers())
        n_tri, v = 2.0 * nr * nz, (nr + 1.0) * (nz + 1.0)
        return "axisymmetric", n_tri, v, v + (v + n_tri - 1.0), float(len(lay.layers()))
    if isinstance(geo, CompositeGeometry):
        n = _composite_tets(geo)
        v = n / 4.5   # thin layers and many interfaces: 4.5 tets per vertex (3 mm: 3.5, 15 mm: 4.5)
        return "composite", n, v, v + (v + n), 2.0
    if isinstance(geo, Disc3DGeometry):
        n_tri, v2, e2 = _section_counts(geo)
        nl = len(geo.layer_heights())
        v = v2 * (nl + 1)
        e = e2 * (nl + 1) + v2 * nl + e2 * nl   # in-plane, vertical and prism-face diagonal edges
        return "3d", 3.0 * n_tri * nl, v, v + e, 1.0
    n_tri, v, _ = _axisym_counts(geo)
    return "axisymmetric", n_tri, v, v + (v + n_tri - 1.0), 1.0


# ------------------------------------------------------------------------------------------- memory
def estimate(geo, pressure_space: str = "P1", linear_solver: str = "auto") -> MeshEstimate:
    """Elements, dofs and peak memory (bytes) of a run on geometry `geo` (formula: module docstring)."""
    try:
        model, n, v, p2_nodes, n_p = mesh_counts(geo)
    except (OverflowError, ZeroDivisionError):   # absurdly small sizes: more than any machine holds
        model, n, v, p2_nodes, n_p = type(geo).__name__, math.inf, math.inf, math.inf, 1.0
    dim = 2 if model == "axisymmetric" else 3
    dofs = dim * p2_nodes + n_p * v + (n if pressure_space == "P1+P0" else 0.0)
    nnz = NNZ_PER_DOF[dim] * dofs
    if linear_solver == "auto":
        solver = "gamg" if model == "3d" and dofs >= AUTO_ITERATIVE_MIN_DOFS else "mumps"
    else:
        solver = linear_solver
    if solver == "mumps":
        fill = 2.0 * (dofs / 1e4) ** 0.25 if dim == 2 else 3.0 * (dofs / 1e4) ** 0.4
        solve = BYTES_PER_NNZ * nnz * (2.0 + max(fill, 1.0))
    else:
        solve = 4.0 * BYTES_PER_NNZ * nnz
    fe = (STATE_BYTES_PER_ELEMENT + KERNEL_BYTES_PER_ELEMENT[dim]) * n + BYTES_PER_DOF * dofs + solve
    total = BASE_BYTES[dim] + max(GMSH_BYTES_PER_ELEMENT * n, fe)
    return MeshEstimate(model=model, elements=n, vertices=v, dofs=dofs, nnz=nnz, solver=solver, bytes=total)


def available_memory_bytes() -> float | None:
    """Memory available to a new process now: MemAvailable of /proc/meminfo (Linux), else the
    physical memory (os.sysconf); None if neither can be read."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024.0
    except (OSError, ValueError, IndexError):
        pass
    try:
        return float(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (OSError, ValueError, AttributeError):
        return None


def _measured():
    """Peak RSS of real `python -m fem run` processes (MUMPS, serial, 1 s ramp at 5.19 MPa, about
    20 steps, no field output; /usr/bin/time -v "Maximum resident set size"; 2026-12-03, 2 cores):
    (label, geometry, pressure space, solver, peak RSS GiB, dofs of the run).
    tests/unit/test_mesh_estimate.py checks the estimate against each within 2x."""
    from .composite import CompositeGeometry
    from .disc_3d import Disc3DGeometry
    from .disc_axisym import AxisymDiscGeometry
    ax = AxisymDiscGeometry
    return [
        ("axisym 0.125 mm", ax(mesh_size_mm=0.125), "P1+P0", "mumps", 200588 / 2 ** 20, 1666),
        ("axisym 0.03125 mm", ax(mesh_size_mm=0.03125), "P1+P0", "mumps", 277260 / 2 ** 20, 26411),
        ("axisym 0.0125 mm", ax(mesh_size_mm=0.0125), "P1+P0", "mumps", 728056 / 2 ** 20, 155849),
        # BASE_3D_TOML at 0.5 mm x 2 layers (ru_maxrss of the run process, in tests/unit/test_mesh_estimate.py)
        ("3d 0.5 mm x 2", Disc3DGeometry(mesh_size_mm=0.5, layers=2), "P1", "mumps", 0.526, 14580),
        # docs/benchmarks.md, case F: composite 3 mm quarter disc, 1486 tets, 7841 dofs, peak 261 MiB
        ("composite 3 mm", CompositeGeometry(diameter_mm=3.0, mesh_size_mm=0.3, void_fraction=0.01), "P1",
         "mumps", 261 / 1024, 7841),
        # docs/benchmarks.md: 15 mm composite quarter disc, 34k tets, 163k dofs, resident 2.0-2.7 GB (ps)
        ("composite 15 mm", CompositeGeometry(diameter_mm=15.0, mesh_size_mm=0.3, void_fraction=0.01), "P1",
         "mumps", 2.7e9 / GiB, 163000),
    ]


MEASURED = _measured()
