"""Layered axisymmetric (r, z) section of a homogenised G-LiCFC disc, built with Gmsh and cached.

The disc of meshes/composite.py with its cloth replaced by a homogeneous ply (fem/rve/ply.py): from
the mid-plane up, the cloth ply (tows, the Li in the weave windows, pores: one transversely
isotropic material), the dense Li overlayer above the cloth, the gel skin (GPE). Mid-plane symmetry:
z = 0 is the mid-plane, z = H = thickness / 2 the top platen face. Units: mm.

The layers are the same volumes per area as in the resolved disc: the Li region of thickness T
(tows + Li + pores, from the masses) is split into the cloth cell of thickness T_c (the cloth, its
crests `tow_gap_mm` below the overlayer: the periodic RVE of fem/rve/ply.py) and the overlayer,
(T - T_c) / 2 per side; the gel skin is the resolved disc's.

Mesh: structured (transfinite) triangles, `mesh_size_mm` radially, `rim_refinement` times finer in
the last `rim_zone_mm` before the rim, and a fixed number of element rows per layer (at least 2).

Tags (meshes/common.py): cells PLY = CARBON_WARP (2) the cloth ply, LI (1) the overlayer, GPE (3)
the gel skin; facets BOTTOM (mid-plane), TOP (platen face), AXIS (r = 0), RIM (r = R).
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path

from .common import AXIS, BOTTOM, CARBON_WARP, GPE, LI, RIM, TOP, cache_dir_path, cache_file_ok, write_msh
from .common import AXISYM_FACET_NAMES as FACET_NAMES
from .common import GeometryError
from .gmsh_session import gmsh_model

MESH_CACHE_VERSION = 1
PLY = CARBON_WARP          # cell tag of the homogenised cloth ply
LAYER_TAGS = {"ply": PLY, "li": LI, "gpe": GPE}
LAYER_ORDER = ("ply", "li", "gpe")   # from the mid-plane up


@dataclass(frozen=True)
class LayeredDiscGeometry:
    """Half-thickness layers (mm) of the homogenised disc and its mesh controls."""
    diameter_mm: float
    ply_mm: float            # half the cloth cell thickness T_c / 2
    li_mm: float             # one Li overlayer, (T - T_c) / 2 (0: none)
    gpe_mm: float            # one gel skin (0: none)
    mesh_size_mm: float = 0.1
    rim_refinement: float = 5.0
    rim_zone_mm: float = 0.5
    rows: tuple = (4, 2, 3)   # element rows in ply, overlayer, gel skin
    use_symmetry: bool = True   # always: the mid-plane is z = 0

    def __post_init__(self):
        for k in ("diameter_mm", "ply_mm", "mesh_size_mm", "rim_zone_mm"):
            if not getattr(self, k) > 0.0:
                raise GeometryError(f"{k} = {getattr(self, k)}: must be > 0")
        for k in ("li_mm", "gpe_mm"):
            if getattr(self, k) < 0.0:
                raise GeometryError(f"{k} = {getattr(self, k)}: must be >= 0")
        if self.rim_refinement < 1.0:
            raise GeometryError(f"rim_refinement = {self.rim_refinement}: must be >= 1")
        if self.rim_zone_mm >= self.radius_mm:
            raise GeometryError(f"rim_zone_mm = {self.rim_zone_mm}: must be < the radius {self.radius_mm:g} mm")

    @property
    def radius_mm(self) -> float:
        return 0.5 * self.diameter_mm

    @property
    def height_mm(self) -> float:
        return self.ply_mm + self.li_mm + self.gpe_mm

    @property
    def thickness_mm(self) -> float:
        return 2.0 * self.height_mm

    def layers(self) -> list[tuple[str, float, int]]:
        """(name, thickness, rows) of the present layers, from the mid-plane up."""
        th = {"ply": self.ply_mm, "li": self.li_mm, "gpe": self.gpe_mm}
        return [(n, th[n], max(2, int(r))) for n, r in zip(LAYER_ORDER, self.rows) if th[n] > 0.0]

    def key(self) -> str:
        payload = json.dumps({"v": MESH_CACHE_VERSION, **asdict(self)}, sort_keys=True)
        return hashlib.sha1(payload.encode()).hexdigest()[:16]


def cloth_cell_geometry(composite, mesh_size_mm: float | None = None):
    """(the cloth-only composite of the ply's RVE, the half-thickness layers of the disc) for a
    study's composite (meshes/composite.py CompositeGeometry); analytic, from derived():
        T_c = (cloth thickness + 2 tow_gap_mm)(1 + 1e-6),  the Li mass that fills T_c,
        void_fraction = pore volume per area / T_c,  no gel skins;
    the overlayer is (T - T_c) / 2 per side. GeometryError when it is under 1e-4 mm."""
    from dataclasses import replace
    d = composite.derived()
    ar = d["areal_mm"]
    T, cloth, gap = d["li_region_thickness_mm"], d["cloth_thickness_mm"], composite.tow_gap_mm
    T_c = (cloth + 2.0 * gap) * (1.0 + 1e-6)
    over = 0.5 * (T - T_c)
    if over < 1e-4:
        raise GeometryError(f"li_mass_mg = {composite.li_mass_mg:g}: the homogenised disc needs a Li overlayer of "
                            f">= 1e-4 mm over the cloth (got {over:.3g} mm); raise li_mass_mg")
    li_c = T_c - ar["tow"] - ar["void"]            # Li outside the tows in the cloth cell, mm3/mm2
    li_mass = (li_c + ar["li_in_tows"]) * composite.li_density * composite.reference_area_mm2
    cell_geo = replace(composite, li_mass_mg=li_mass, void_fraction=ar["void"] / T_c, gpe_thickness_mm=0.0,
                       mesh_size_mm=mesh_size_mm or composite.mesh_size_mm)
    got = cell_geo.derived()["li_region_thickness_mm"]
    if abs(got / T_c - 1.0) > 1e-9:
        raise RuntimeError(f"cloth cell thickness {got:.9g} mm, expected {T_c:.9g} mm")
    layers = {"ply_mm": 0.5 * T_c, "li_mm": over, "gpe_mm": d["gpe_thickness_mm"],
              "li_region_mm": T, "cloth_mm": cloth}
    return cell_geo, layers


@dataclass(frozen=True)
class HomogenisedDiscGeometry:
    """`[geometry] model = "composite_homogenised"`: the study's composite (masses, weave; its
    mesh keys are not used) as the layered axisymmetric disc of the homogenised ply."""
    composite: object                 # meshes/composite.py CompositeGeometry
    mesh_size_mm: float = 0.1         # radial element size inside the rim zone
    rim_refinement: float = 5.0
    rim_zone_mm: float = 0.5
    ply_rve_mesh_size_mm: float = 0.2  # element size of the cloth RVE (fem/rve/ply.py)
    ply_law: str = "elastic"          # elastic: cloth ply + creeping Li overlayer; rve_creep: fitted Li-region ply
    ply_rve_pores: str = "neo-hookean"  # the pores of the rve_creep tables' cell (fem/rve/creep.py void_law)
    rows_factor: int = 1              # element rows per layer x this (mesh convergence through the thickness)
    use_symmetry: bool = True

    def __post_init__(self):
        self.layered()   # feasibility (GeometryError)

    @property
    def diameter_mm(self) -> float:
        return self.composite.diameter_mm

    @property
    def radius_mm(self) -> float:
        return 0.5 * self.diameter_mm

    @cached_property
    def _layers(self) -> LayeredDiscGeometry:
        """Computed once per geometry (derived() iterates on the tow section, ~3 ms): the model asks
        for the height at every Newton iteration (measurement, rim contact)."""
        if self.ply_law == "rve_creep":
            d = self.composite.derived()
            return LayeredDiscGeometry(self.diameter_mm, 0.5 * d["li_region_thickness_mm"], 0.0, d["gpe_thickness_mm"],
                                       self.mesh_size_mm, self.rim_refinement, self.rim_zone_mm,
                                       rows=tuple(self.rows_factor * r for r in (6, 2, 3)))
        _, lay = cloth_cell_geometry(self.composite, self.ply_rve_mesh_size_mm)
        return LayeredDiscGeometry(self.diameter_mm, lay["ply_mm"], lay["li_mm"], lay["gpe_mm"], self.mesh_size_mm,
                                   self.rim_refinement, self.rim_zone_mm, rows=tuple(self.rows_factor * r for r in (4, 2, 3)))

    def layered(self) -> LayeredDiscGeometry:
        """ply_law "elastic": the cloth ply and the Li overlayer; "rve_creep": the whole Li region as the ply."""
        return self._layers

    @property
    def height_mm(self) -> float:
        return self._layers.height_mm

    @property
    def thickness_mm(self) -> float:
        return self._layers.thickness_mm


def build_msh(geo: LayeredDiscGeometry, path: Path) -> None:
    """Write the tagged structured triangle mesh of the layered section to `path` (.msh)."""
    import gmsh

    R = geo.radius_mm
    r_split = R - geo.rim_zone_mm
    n_in = max(1, math.ceil(r_split / geo.mesh_size_mm))
    n_rim = max(1, math.ceil(geo.rim_zone_mm * geo.rim_refinement / geo.mesh_size_mm))
    with gmsh_model("disc_homogenised"):
        occ = gmsh.model.occ
        z = 0.0
        surfaces = []   # (name, surface tag, rows)
        for name, t, rows in geo.layers():
            surfaces.append((name, occ.addRectangle(0.0, z, 0.0, r_split, t), rows))
            surfaces.append((name, occ.addRectangle(r_split, z, 0.0, R - r_split, t), rows))
            z += t
        H = z
        out, _ = occ.fragment([(2, s) for _, s, _ in surfaces], [])
        occ.synchronize()
        # classify the fragment's surfaces back to their layers by their centre height
        bounds = []
        z = 0.0
        for name, t, rows in geo.layers():
            bounds.append((name, z, z + t, rows))
            z += t
        by_layer = {name: [] for name, *_ in bounds}
        rows_of = {}
        for dim, s in gmsh.model.getEntities(2):
            _, yc, _ = occ.getCenterOfMass(dim, s)
            for name, z0, z1, rows in bounds:
                if z0 < yc < z1:
                    by_layer[name].append(s)
                    rows_of[s] = rows
        tol = 1e-6 * min(t for _, t, _ in geo.layers())
        curves = {"bottom": [], "top": [], "axis": [], "rim": []}
        for dim, c in gmsh.model.getEntities(1):
            ends = [gmsh.model.getValue(0, p, []) for _, p in gmsh.model.getBoundary([(dim, c)], oriented=False)]
            (x0, y0), (x1, y1) = sorted((e[0], e[1]) for e in ends)
            y0, y1 = min(y0, y1), max(y0, y1)
            horizontal = abs(y1 - y0) < tol
            if horizontal:
                n = n_in if x1 <= r_split + tol else n_rim
                gmsh.model.mesh.setTransfiniteCurve(c, n + 1)
                if abs(y0) < tol:
                    curves["bottom"].append(c)
                elif abs(y0 - H) < tol:
                    curves["top"].append(c)
            else:
                for name, z0, z1, rows in bounds:
                    if abs(y0 - z0) < tol and abs(y1 - z1) < tol:
                        gmsh.model.mesh.setTransfiniteCurve(c, rows + 1)
                if abs(x0) < tol:
                    curves["axis"].append(c)
                elif abs(x0 - R) < tol:
                    curves["rim"].append(c)
        for dim, s in gmsh.model.getEntities(2):
            gmsh.model.mesh.setTransfiniteSurface(s)
        for name, tags in by_layer.items():
            gmsh.model.addPhysicalGroup(2, tags, LAYER_TAGS[name], name=name)
        for tag_id, name in FACET_NAMES.items():
            gmsh.model.addPhysicalGroup(1, curves[name], tag_id, name=name)
        gmsh.model.mesh.generate(2)
        write_msh(gmsh, path)


def cached_msh(geo: LayeredDiscGeometry, cache_dir: Path | None = None) -> Path:
    path = cache_dir_path(cache_dir) / f"disc_homogenised_{geo.key()}.msh"
    if not cache_file_ok(path):
        build_msh(geo, path)
    return path


def load_mesh(geo: LayeredDiscGeometry, comm=None, cache_dir: Path | None = None):
    """(mesh, cell_tags, facet_tags) of the layered section (serial: the axisymmetric path)."""
    from .disc_axisym import load_section
    return load_section(lambda: cached_msh(geo, cache_dir), comm)


__all__ = ["LayeredDiscGeometry", "HomogenisedDiscGeometry", "cloth_cell_geometry", "load_mesh", "PLY", "LI", "GPE", "BOTTOM", "TOP", "AXIS", "RIM"]
