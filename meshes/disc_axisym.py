"""Axisymmetric (r, z) section of a disc, built with Gmsh and cached by parameter hash.

Coordinates: x[0] = r (radial, mm), x[1] = z (axial, mm). The section is the rectangle
[0, R0] x [0, H] with H = h0/2 when the mid-plane symmetry is used (z = 0 is the mid-plane)
and H = h0 otherwise (z = 0 is the bottom platen face).

Facet tags (also Gmsh physical groups; all tags of all builders: meshes/common.py):
    1 BOTTOM  z = 0: mid-plane (symmetry) or bottom platen face
    2 TOP     z = H: top platen face
    3 AXIS    r = 0
    4 RIM     r = R0: free outer edge
Cell tag 1 = Li.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from .common import AXIS, BOTTOM, LI, RIM, TOP, cache_dir_path  # noqa: F401  (tags re-exported)
from .common import cache_file_ok, write_msh
from .common import AXISYM_FACET_NAMES as FACET_NAMES
from .gmsh_session import gmsh_model

MESH_CACHE_VERSION = 2  # bump when the builder changes so old cached meshes are not reused


@dataclass(frozen=True)
class AxisymDiscGeometry:
    diameter_mm: float = 15.0
    thickness_mm: float = 0.5
    mesh_size_mm: float = 0.05
    rim_refinement: float = 1.0     # element size at the rim = mesh_size / rim_refinement (>= 1)
    rim_zone_mm: float = 0.5        # radial width of the refined band at the rim
    platen_refinement: float = 1.0  # element size at the platen faces = mesh_size / platen_refinement (>= 1)
    platen_zone_mm: float = 0.05    # thickness of the refined layer under each platen face (shear layer)
    use_symmetry: bool = True       # model only the upper half, z = 0 is the mid-plane

    @property
    def radius_mm(self) -> float:
        return 0.5 * self.diameter_mm

    @property
    def height_mm(self) -> float:
        return 0.5 * self.thickness_mm if self.use_symmetry else self.thickness_mm

    def key(self) -> str:
        payload = json.dumps({"v": MESH_CACHE_VERSION, **asdict(self)}, sort_keys=True)
        return hashlib.sha1(payload.encode()).hexdigest()[:16]


def build_msh(geo: AxisymDiscGeometry, path: Path) -> None:
    """Write a tagged second-order-ready (linear geometry) triangle mesh to `path` (.msh)."""
    import gmsh

    R, H, h = geo.radius_mm, geo.height_mm, geo.mesh_size_mm
    with gmsh_model("disc_axisym"):
        occ = gmsh.model.occ
        surf = occ.addRectangle(0.0, 0.0, 0.0, R, H)
        occ.synchronize()
        curves = {"bottom": [], "top": [], "axis": [], "rim": []}
        for dim, tag in gmsh.model.getBoundary([(2, surf)], oriented=False):
            x, y, _ = gmsh.model.occ.getCenterOfMass(dim, tag)
            if abs(y) < 1e-9 * H + 1e-12:
                curves["bottom"].append(tag)
            elif abs(y - H) < 1e-9 * H + 1e-12:
                curves["top"].append(tag)
            elif abs(x) < 1e-9 * R + 1e-12:
                curves["axis"].append(tag)
            else:
                curves["rim"].append(tag)
        gmsh.model.addPhysicalGroup(2, [surf], LI, name="li")
        for tag_id, name in FACET_NAMES.items():
            gmsh.model.addPhysicalGroup(1, curves[name], tag_id, name=name)

        finest = h / max(geo.rim_refinement, geo.platen_refinement, 1.0)
        gmsh.option.setNumber("Mesh.CharacteristicLengthMax", h)
        gmsh.option.setNumber("Mesh.CharacteristicLengthMin", 0.5 * finest)
        fields = []

        def box(size, xmin, xmax, ymin, ymax, width):
            f = gmsh.model.mesh.field.add("Box")
            for k, v in (("VIn", size), ("VOut", h), ("XMin", xmin), ("XMax", xmax), ("YMin", ymin),
                         ("YMax", ymax), ("Thickness", width)):
                gmsh.model.mesh.field.setNumber(f, k, v)
            fields.append(f)

        if geo.rim_refinement > 1.0:
            box(h / geo.rim_refinement, R - geo.rim_zone_mm, R + 1.0, -1.0, H + 1.0, geo.rim_zone_mm)
        if geo.platen_refinement > 1.0:
            # creep under a frictional platen concentrates in a thin shear layer at the face
            z = geo.platen_zone_mm
            box(h / geo.platen_refinement, -1.0, R + 1.0, H - z, H + 1.0, 2 * z)
            if not geo.use_symmetry:
                box(h / geo.platen_refinement, -1.0, R + 1.0, -1.0, z, 2 * z)
        if fields:
            fmin = gmsh.model.mesh.field.add("Min")
            gmsh.model.mesh.field.setNumbers(fmin, "FieldsList", fields)
            gmsh.model.mesh.field.setAsBackgroundMesh(fmin)
            gmsh.option.setNumber("Mesh.MeshSizeExtendFromBoundary", 0)
        gmsh.option.setNumber("Mesh.Algorithm", 6)  # Frontal-Delaunay
        gmsh.model.mesh.generate(2)
        gmsh.model.mesh.optimize("Laplace2D")
        write_msh(gmsh, path)   # unique temporary file, checksum, atomic rename


def cached_msh(geo: AxisymDiscGeometry, cache_dir: Path | None = None) -> Path:
    """Return the path of the cached .msh for these parameters, building it if needed."""
    path = cache_dir_path(cache_dir) / f"disc_axisym_{geo.key()}.msh"
    if not cache_file_ok(path):   # missing, or truncated/corrupted (one warning line): (re)build
        build_msh(geo, path)
    return path


def load_mesh(geo: AxisymDiscGeometry, comm=None, cache_dir: Path | None = None):
    """Return (mesh, cell_tags, facet_tags) for the geometry, as DOLFINx objects."""
    return load_section(lambda: cached_msh(geo, cache_dir), comm)


def load_section(build_or_find, comm=None):
    """(mesh, cell_tags, facet_tags) of a 2D (r, z) section whose cached .msh path `build_or_find()`
    returns (called on rank 0 only): the loader of every axisymmetric builder."""
    import dolfinx_solver  # noqa: F401  (must precede dolfinx)
    from mpi4py import MPI
    from dolfinx.io import gmsh as dgmsh

    comm = comm or MPI.COMM_WORLD
    path = build_or_find() if comm.rank == 0 else None
    path = comm.bcast(path, root=0)
    import gmsh

    gmsh.initialize(interruptible=False)
    try:
        gmsh.option.setNumber("General.Terminal", 0)
        if comm.rank == 0:
            gmsh.open(str(path))
        data = dgmsh.model_to_mesh(gmsh.model, comm, 0, gdim=2)
    finally:
        gmsh.finalize()
    return data.mesh, data.cell_tags, data.facet_tags
