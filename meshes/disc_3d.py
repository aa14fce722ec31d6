"""3D bare-Li disc (quarter or full), built with Gmsh and cached by parameter hash.

Coordinates (mm): x, y in-plane, z axial. The quarter disc (default) is x >= 0, y >= 0,
r <= R0 = D/2; the full disc is r <= R0. With the mid-plane symmetry (default) the modelled
height is H = h0/2 and z = 0 is the mid-plane; otherwise H = h0 and z = 0 is the bottom
platen face. The top platen face is z = H.

Meshing choice: the disc is thin (R/h = 15 for a 0.5 mm disc), so isotropic tets would be
either very many or one element thick. The 2D cross-section (quarter disc in the xy plane) is
meshed with triangles of size `mesh_size_mm` (optionally refined in a band of width
`rim_zone_mm` at the rim) and then extruded in z with `layers` element layers (Gmsh
structured extrusion, each prism split into 3 tetrahedra). The in-plane and through-thickness
resolutions are therefore independent. With `platen_refinement` > 1 the layers inside the
`platen_zone_mm` under each platen face are `platen_refinement` times thinner (shear layer).
The mesh is conforming, linear tetrahedra; every node lies on one of the layer planes.

Facet tags (also Gmsh physical groups), shared with meshes.composite (all tags: meshes/common.py):
    1 BOTTOM  z = 0: mid-plane (symmetry) or bottom platen face
    2 TOP     z = H: top platen face
    4 RIM     r = R0: free outer edge
    5 SYM_X   plane x = 0 (quarter disc only)
    6 SYM_Y   plane y = 0 (quarter disc only)
Tag 3 is not used in 3D (it is AXIS in the axisymmetric builder).
Cell tags: 1 LI (the composite builder adds 2 CARBON, 3 GPE, 4 VOID, 5 CARBON_WEFT).
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

# tags, the geometry error and the cache/loading helpers are shared with meshes.composite; re-exported here
from .common import (BOTTOM, CARBON, GPE, LI, RIM, SYM_X, SYM_Y, TOP, VOID, GeometryError,  # noqa: F401
                     cache_dir_path, classify_boundary, on_root, read_msh)
from .common import cache_file_ok, write_msh
from .common import DISC3D_FACET_NAMES as FACET_NAMES
from .gmsh_session import gmsh_model

MESH_CACHE_VERSION = 1  # bump when the builder changes so old cached meshes are not reused


@dataclass(frozen=True)
class Disc3DGeometry:
    diameter_mm: float = 15.0
    thickness_mm: float = 0.5
    mesh_size_mm: float = 0.25      # in-plane triangle size of the extruded cross-section
    layers: int = 4                 # element layers across the modelled height H (before platen refinement)
    rim_refinement: float = 1.0     # in-plane size at the rim = mesh_size / rim_refinement (>= 1)
    rim_zone_mm: float = 0.5        # radial width of the refined band at the rim
    platen_refinement: float = 1.0  # layer thickness in the platen zone = (H/layers) / platen_refinement (>= 1)
    platen_zone_mm: float = 0.05    # thickness of the refined layer under each platen face (shear layer)
    use_symmetry: bool = True       # model only the upper half, z = 0 is the mid-plane
    quarter: bool = True            # model the quarter x >= 0, y >= 0 (symmetry planes x = 0, y = 0)

    def __post_init__(self):
        for name in ("diameter_mm", "thickness_mm", "mesh_size_mm", "rim_zone_mm", "platen_zone_mm"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise GeometryError(f"{name} = {v!r}: must be a finite number > 0")
        if not (isinstance(self.layers, int) and self.layers >= 1):
            raise GeometryError(f"layers = {self.layers!r}: must be an integer >= 1")
        for name in ("rim_refinement", "platen_refinement"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 1):
                raise GeometryError(f"{name} = {v!r}: must be a finite number >= 1")
        if self.rim_zone_mm > self.radius_mm:
            raise GeometryError(f"rim_zone_mm = {self.rim_zone_mm}: must be in (0, radius = {self.radius_mm}]")
        zones = 1 if self.use_symmetry else 2
        if self.platen_refinement > 1 and zones * self.platen_zone_mm >= self.height_mm:
            raise GeometryError(f"platen_zone_mm = {self.platen_zone_mm}: must be in (0, {self.height_mm / zones:g}) "
                                "(the modelled height per refined face)")

    @property
    def radius_mm(self) -> float:
        return 0.5 * self.diameter_mm

    @property
    def height_mm(self) -> float:
        return 0.5 * self.thickness_mm if self.use_symmetry else self.thickness_mm

    @property
    def volume_mm3(self) -> float:
        """Exact volume of the modelled region (pi R^2 H, a quarter of it for the quarter disc)."""
        v = math.pi * self.radius_mm ** 2 * self.height_mm
        return 0.25 * v if self.quarter else v

    def layer_heights(self) -> list[float]:
        """Thickness of each element layer from z = 0 upwards (sums to H)."""
        H, n = self.height_mm, self.layers
        if self.platen_refinement <= 1.0:
            return [H / n] * n
        zone = self.platen_zone_mm
        fine = (H / n) / self.platen_refinement
        n_f = max(1, math.ceil(zone / fine - 1e-9))
        n_zones = 1 if self.use_symmetry else 2
        rest = H - n_zones * zone
        n_c = max(1, round(rest / (H / n)))
        core = [rest / n_c] * n_c
        top = [zone / n_f] * n_f
        return (top + core + top) if n_zones == 2 else (core + top)

    def key(self) -> str:
        payload = json.dumps({"v": MESH_CACHE_VERSION, **asdict(self)}, sort_keys=True)
        return hashlib.sha1(payload.encode()).hexdigest()[:16]


def add_cross_section(occ, R: float, quarter: bool, z: float = 0.0) -> tuple[int, int]:
    """Plane disc (or quarter disc x, y >= 0) of radius R at height z. Returns (surface, rim curve)."""
    if not quarter:
        rim = occ.addCircle(0.0, 0.0, z, R)
        surf = occ.addPlaneSurface([occ.addCurveLoop([rim])])
        return surf, rim
    p0 = occ.addPoint(0.0, 0.0, z)
    p1 = occ.addPoint(R, 0.0, z)
    p2 = occ.addPoint(0.0, R, z)
    rim = occ.addCircleArc(p1, p0, p2)
    loop = occ.addCurveLoop([occ.addLine(p0, p1), rim, occ.addLine(p2, p0)])
    return occ.addPlaneSurface([loop]), rim


def build_msh(geo: Disc3DGeometry, path: Path) -> dict:
    """Write the tagged tetrahedral mesh to `path` (.msh); return a small report."""
    import time

    import gmsh

    R, H, h = geo.radius_mm, geo.height_mm, geo.mesh_size_mm
    t0 = time.perf_counter()
    with gmsh_model("disc_3d"):
        occ = gmsh.model.occ
        surf, rim_curve = add_cross_section(occ, R, geo.quarter)
        dz = geo.layer_heights()
        cum = [sum(dz[: i + 1]) / H for i in range(len(dz))]
        cum[-1] = 1.0
        out = occ.extrude([(2, surf)], 0.0, 0.0, H, numElements=[1] * len(dz), heights=cum)
        occ.synchronize()
        vols = [dt for dt in out if dt[0] == 3]
        gmsh.model.addPhysicalGroup(3, [t for _, t in vols], LI, name="li")
        groups = classify_boundary(gmsh, vols, 0.0, H)
        for tag_id, name in FACET_NAMES.items():
            if groups[tag_id]:
                gmsh.model.addPhysicalGroup(2, groups[tag_id], tag_id, name=name)

        gmsh.option.setNumber("Mesh.CharacteristicLengthMax", h)
        gmsh.option.setNumber("Mesh.CharacteristicLengthMin", 0.5 * h / geo.rim_refinement)
        if geo.rim_refinement > 1.0:
            fd = gmsh.model.mesh.field.add("Distance")
            gmsh.model.mesh.field.setNumbers(fd, "CurvesList", [rim_curve])
            gmsh.model.mesh.field.setNumber(fd, "Sampling", 200)
            ft = gmsh.model.mesh.field.add("Threshold")
            for k, v in (("InField", fd), ("SizeMin", h / geo.rim_refinement), ("SizeMax", h),
                         ("DistMin", geo.rim_zone_mm), ("DistMax", geo.rim_zone_mm + h)):
                gmsh.model.mesh.field.setNumber(ft, k, v)
            gmsh.model.mesh.field.setAsBackgroundMesh(ft)
            gmsh.option.setNumber("Mesh.MeshSizeExtendFromBoundary", 0)
        gmsh.option.setNumber("Mesh.MeshSizeFromPoints", 0)
        gmsh.option.setNumber("Mesh.Algorithm", 6)  # Frontal-Delaunay for the cross-section
        gmsh.model.mesh.generate(3)
        n_tets = sum(len(t) for et, t in zip(*gmsh.model.mesh.getElements(3)[:2]) if et == 4)
        write_msh(gmsh, path)   # unique temporary file, checksum, atomic rename
    return {"n_tets": int(n_tets), "layers": len(dz), "gmsh_time_s": time.perf_counter() - t0,
            "volume_mm3": geo.volume_mm3}


def cached_msh(geo: Disc3DGeometry, cache_dir: Path | None = None) -> Path:
    """Return the path of the cached .msh for these parameters, building it if needed."""
    path = cache_dir_path(cache_dir) / f"disc_3d_{geo.key()}.msh"
    if not cache_file_ok(path):   # missing, or truncated/corrupted (one warning line): (re)build
        build_msh(geo, path)
    return path


def load_mesh(geo: Disc3DGeometry, comm=None, cache_dir: Path | None = None):
    """Return (mesh, cell_tags, facet_tags) for the geometry, as DOLFINx objects (distributed over comm).

    The mesh is built on rank 0 into the cache if needed, read on rank 0 and distributed."""
    import dolfinx_solver  # noqa: F401  (must precede dolfinx)
    from mpi4py import MPI

    comm = comm or MPI.COMM_WORLD
    path = on_root(comm, lambda: cached_msh(geo, cache_dir))
    data = read_msh(path, comm, gdim=3)
    return data.mesh, data.cell_tags, data.facet_tags
