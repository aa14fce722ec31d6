"""Periodic RVE cells for effective stiffness (fem/rve): a layered box and one plain-weave cell of
the G-LiCFC ply, meshed with matching (Gmsh `setPeriodic`) node sets on opposite x and y faces.

Both cells are boxes [0, Lx] x [0, Ly] x [0, H] (mm), z through the thickness; cells are linear
tetrahedra (the solver puts P2 or P1 displacements on them).

* `LaminateCell`: layers normal to z, bottom to top, each of one material named by the study's
  material tables (li, gpe, carbon, void; cell tags LI, GPE, CARBON_WARP (= CARBON, fibres along x),
  VOID of meshes/common.py). In-plane side Lx = Ly = `side_mm` (default: the total thickness; the
  exact solution of a laminate does not depend on it). Element size `mesh_size_mm`; a layer thinner
  than that gets flat elements (one across it at least), which is fine for the layered field.
* `WeaveCell`: one repeating unit of the plain weave of meshes/composite.py, built from the same
  tow construction (`_tow_section`: vertical elliptical sections of two half-ellipses, swept with
  ThruSections through tow_pitch / sections_per_pitch stations) and the same design
  (`CompositeGeometry.derived()`: the infinite-cloth areal balances of the masses, i.e. exactly
  what a cell of an infinite ply holds). Warp tows run along x at y = k p with centre line
  z = z_mid + a (-1)^k cos(pi x / p), weft tows along y at x = k p with z = z_mid - a (-1)^k cos(pi y / p),
  so the pattern repeats after two pitches: the cell is [0, 2p] x [0, 2p] (p = tow_pitch_mm) with
  the tows at k = 0, 1, 2 (those at 0 and 2p are halves, cut along their centre planes by the cell
  faces; the faces x = 0 and 2p cut the warp tows at a section station). Li fills the box between
  the GPE skins (thickness T = the Li region of the disc, skins t_g each: H = T + 2 t_g is the
  composite thickness of the disc), one pore sits in each of the four weave windows at
  ((i + 1/2) p, (j + 1/2) p, z_mid) with the volume of `void_fraction` (sphere, or spheroid of
  horizontal radius (p - w)/2 - gap when a sphere does not fit, as in the disc builder).
  Volumes are checked after the OCC fragment against the areal targets x (2p)^2 (RuntimeError if a
  phase is off by more than 2 %); the report gives the geometric and the meshed volumes.
  Fibre direction: meshes.composite.tow_tangent (the same crimp slopes; the tow index is the
  nearest centre line, which holds in the cell because it starts at the origin like the disc).

Periodic meshing: after the fragment, each face on x = Lx (y = Ly) is matched to the face on x = 0
(y = 0) with the same translated bounding box, area and centroid, and declared its periodic copy
(`gmsh.model.mesh.setPeriodic`), so Gmsh meshes the master and copies the nodes: opposite faces
carry node sets that are exact translates (checked again by the solver's dof matching).
A face without a partner raises GeometryError ("not periodic").

Meshes are cached by parameter hash in the mesh cache (meshes/common.py), .msh + .json report.
"""
from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .common import (CARBON_WARP, CARBON_WEFT, GPE, LI, VOID, GeometryError, cache_dir_path,
                     cached_msh_with_report, on_root, read_msh, write_msh)
from .composite import CompositeGeometry, loft_tow, size_fields
from .gmsh_session import gmsh_model

RVE_CACHE_VERSION = 1
# material table name -> cell tag (the laminate's layers; the weave uses all five tags of meshes/common.py)
MATERIAL_TAGS = {"li": LI, "gpe": GPE, "carbon": CARBON_WARP, "void": VOID}
MIN_LAYER_FRACTION = 1e-4   # a layer thinner than this x the total thickness is refused (mesh quality)


@dataclass(frozen=True)
class LaminateCell:
    layer_materials: tuple = ()
    layer_thickness_mm: tuple = ()
    mesh_size_mm: float = 0.1
    side_mm: float | None = None   # in-plane side; None: the total thickness

    def __post_init__(self):
        mats, ts = tuple(self.layer_materials), tuple(self.layer_thickness_mm)
        object.__setattr__(self, "layer_materials", mats)
        object.__setattr__(self, "layer_thickness_mm", tuple(float(t) for t in ts))
        if not mats:
            raise GeometryError("layer_materials = []: give at least one layer (e.g. [\"li\", \"gpe\"])")
        for m in mats:
            if m not in MATERIAL_TAGS:
                raise GeometryError(f"layer_materials: {m!r} is not a material; allowed: {', '.join(MATERIAL_TAGS)}")
        if len(ts) != len(mats):
            raise GeometryError(f"layer_thickness_mm has {len(ts)} entries: must have one per layer_materials entry ({len(mats)})")
        for t in self.layer_thickness_mm:
            if not (math.isfinite(t) and t > 0.0):
                raise GeometryError(f"layer_thickness_mm: {t!r} must be a finite number > 0")
        H = self.thickness_mm
        if not math.isfinite(H):
            raise GeometryError(f"layer_thickness_mm: total {H!r} must be finite")
        thin = min(self.layer_thickness_mm)
        if thin < MIN_LAYER_FRACTION * H:
            raise GeometryError(f"layer_thickness_mm: a layer of {thin:g} mm is thinner than {MIN_LAYER_FRACTION:g} x the "
                                f"total {H:g} mm; must be >= {MIN_LAYER_FRACTION * H:.3g} mm (merge or drop it)")
        if not (math.isfinite(self.mesh_size_mm) and self.mesh_size_mm > 0.0):
            raise GeometryError(f"mesh_size_mm = {self.mesh_size_mm!r}: must be a finite number > 0")

    @property
    def thickness_mm(self) -> float:
        return float(sum(self.layer_thickness_mm))

    @property
    def box(self) -> tuple[float, ...]:
        s = self.side_mm or self.thickness_mm
        return (0.0, 0.0, 0.0, s, s, self.thickness_mm)

    def key(self) -> str:
        payload = json.dumps({"v": RVE_CACHE_VERSION, "kind": "laminate", **asdict(self)}, sort_keys=True)
        return hashlib.sha1(payload.encode()).hexdigest()[:16]

    def volume_fractions(self) -> dict:
        out = {}
        for m, t in zip(self.layer_materials, self.layer_thickness_mm):
            out[m] = out.get(m, 0.0) + t / self.thickness_mm
        return out


@dataclass(frozen=True)
class WeaveCell:
    composite: CompositeGeometry   # weave, masses, mesh sizes (its diameter and symmetry keys are not used)

    def __post_init__(self):
        self.design()   # feasibility (GeometryError)

    @property
    def pitch_mm(self) -> float:
        return self.composite.tow_pitch_mm

    @property
    def box(self) -> tuple[float, ...]:
        d = self.design()
        L = 2.0 * self.pitch_mm
        return (0.0, 0.0, 0.0, L, L, d["thickness_mm"])

    def key(self) -> str:
        payload = json.dumps({"v": RVE_CACHE_VERSION, "kind": "weave", **asdict(self.composite)}, sort_keys=True)
        return hashlib.sha1(payload.encode()).hexdigest()[:16]

    def design(self) -> dict:
        """Tow section, crimp, layer thicknesses and pore size of the cell (infinite-cloth design)."""
        geo = self.composite
        d = geo.derived()
        p, g = geo.tow_pitch_mm, geo.tow_gap_mm
        ar = d["areal_mm"]
        T, t_g = d["li_region_thickness_mm"], d["gpe_thickness_mm"]
        w = d["tow_width_mm"]
        v_each = ar["void"] * p * p          # one pore per window of area p^2
        r = c = 0.0
        if v_each > 0.0:
            r_max, c_max = 0.5 * (p - w) - g, 0.5 * T - g
            if r_max <= 0.0:
                raise GeometryError(f"void_fraction = {geo.void_fraction}: no room for pores between tows; use void_fraction = 0")
            r = c = (3.0 * v_each / (4.0 * math.pi)) ** (1.0 / 3.0)
            if r > min(r_max, c_max):
                r = r_max
                c = v_each / (4.0 / 3.0 * math.pi * r * r)
                if c > c_max:
                    raise GeometryError(f"void_fraction = {geo.void_fraction}: pores do not fit the weave windows of the cell")
        L = 2.0 * p
        A = L * L
        return {"tow_width_mm": w, "tow_height_mm": d["tow_height_mm"], "crimp_amplitude_mm": d["crimp_amplitude_mm"],
                "li_region_thickness_mm": T, "gpe_thickness_mm": t_g, "thickness_mm": T + 2.0 * t_g,
                "z_cloth_mid_mm": t_g + 0.5 * T, "cell_side_mm": L, "pore_radius_mm": r, "pore_half_height_mm": c,
                "n_pores": 4 if v_each > 0.0 else 0,
                "target_volumes_mm3": {"carbon": ar["tow"] * A, "li": ar["li"] * A, "void": ar["void"] * A,
                                       "gpe": 2.0 * t_g * A}}

    def fibre_direction(self):
        """{cell tag: callable x -> (3, n) unit fibre direction} for the two tow families."""
        from .composite import tow_tangent
        d = self.design()
        p, a = self.pitch_mm, d["crimp_amplitude_mm"]
        return {fam: (lambda x, fam=fam: tow_tangent(x[0], x[1], x[2], fam, p, a)) for fam in (CARBON_WARP, CARBON_WEFT)}


# ------------------------------------------------------------------------------ periodic meshing
def set_periodic(gmsh, box, tol: float) -> dict:
    """Declare every face on x = x1 (y = y1) the periodic copy of its partner on x = x0 (y = y0)
    (translated bounding box, area and centroid within tol). Returns {axis: pairs}."""
    occ = gmsh.model.occ
    x0, y0, z0, x1, y1, z1 = box
    out = {}
    for axis in (0, 1):
        lo, hi = (x0, x1) if axis == 0 else (y0, y1)
        shift = np.zeros(3)
        shift[axis] = hi - lo
        affine = [1, 0, 0, shift[0], 0, 1, 0, shift[1], 0, 0, 1, shift[2], 0, 0, 0, 1]

        def faces_at(v):
            bb = [x0 - tol, y0 - tol, z0 - tol, x1 + tol, y1 + tol, z1 + tol]
            bb[axis], bb[axis + 3] = v - tol, v + tol
            return [t for _, t in gmsh.model.getEntitiesInBoundingBox(*bb, 2)]

        masters, slaves = faces_at(lo), faces_at(hi)
        if len(masters) != len(slaves) or not masters:
            raise GeometryError(f"cell is not periodic: {len(masters)} faces on {'xy'[axis]} = {lo:g}, "
                                f"{len(slaves)} on {'xy'[axis]} = {hi:g}")

        def signature(t, sh):
            bb = np.array(gmsh.model.getBoundingBox(2, t))
            bb[[axis, axis + 3]] -= sh[axis]
            return bb, occ.getMass(2, t), np.array(occ.getCenterOfMass(2, t)) - sh

        msig = {m: signature(m, np.zeros(3)) for m in masters}
        pairs, used = [], set()
        for s in slaves:
            sb, sa, sc = signature(s, shift)
            cand = [m for m in masters if m not in used and np.abs(msig[m][0] - sb).max() < 10 * tol
                    and abs(msig[m][1] - sa) <= 1e-6 * max(sa, 1e-12) + tol * tol
                    and np.abs(msig[m][2] - sc).max() < tol]
            if len(cand) != 1:
                raise GeometryError(f"cell is not periodic: face {s} on {'xy'[axis]} = {hi:g} has {len(cand)} partners")
            used.add(cand[0])
            pairs.append((s, cand[0]))
            gmsh.model.mesh.setPeriodic(2, [s], [cand[0]], affine)
        out["xy"[axis]] = pairs
    return out


def _mesh_and_report(gmsh, report: dict, groups: dict, path: Path | None) -> dict:
    """Physical groups, generate(3), element counts/quality/volumes per tag, write the .msh."""
    for tag_id, vols in groups.items():
        if vols:
            gmsh.model.addPhysicalGroup(3, sorted(vols), tag_id)
    t0 = time.perf_counter()
    try:
        gmsh.model.mesh.generate(3)
    except Exception as e:   # Gmsh raises a bare Exception with its message
        raise RuntimeError(f"RVE mesh failed: {e}") from e
    report["gmsh_mesh_s"] = time.perf_counter() - t0
    types, tags, _ = gmsh.model.mesh.getElements(3)
    tets = [t for et, t in zip(types, tags) if et == 4]
    if not tets or not len(tets[0]):
        raise RuntimeError("RVE mesh failed: Gmsh produced no tetrahedra")
    tet_tags = np.concatenate(tets)
    report["n_tets"] = int(len(tet_tags))
    q = gmsh.model.mesh.getElementQualities(tet_tags, "minSICN")
    report["quality_sicn"] = {"min": float(q.min()), "mean": float(q.mean()), "n_below_0.1": int((q < 0.1).sum())}
    mvol = {}
    for tag_id, vols in groups.items():
        s = 0.0
        for v in vols:
            et, tt, _ = gmsh.model.mesh.getElements(3, v)
            for e, t in zip(et, tt):
                if e == 4:
                    s += float(np.sum(gmsh.model.mesh.getElementQualities(t, "volume")))
        mvol[int(tag_id)] = s
    report["mesh_volumes_mm3_by_tag"] = mvol
    if path is not None:
        write_msh(gmsh, Path(path))
    return report


def _mesh_options(gmsh, h: float, h_min: float | None = None):
    gmsh.option.setNumber("Mesh.MeshSizeMax", h)
    gmsh.option.setNumber("Mesh.MeshSizeMin", h_min or 0.1 * h)
    gmsh.option.setNumber("Mesh.MeshSizeFromCurvature", 0)
    gmsh.option.setNumber("Mesh.MeshSizeFromPoints", 0)
    gmsh.option.setNumber("Mesh.Algorithm", 5)
    gmsh.option.setNumber("Mesh.Algorithm3D", 1)


def build_laminate_msh(cell: LaminateCell, path: Path | None) -> dict:
    with gmsh_model("rve_laminate") as gmsh:
        occ = gmsh.model.occ
        x0, y0, _, x1, y1, H = cell.box
        z, boxes = 0.0, []
        for t in cell.layer_thickness_mm:
            boxes.append(occ.addBox(x0, y0, z, x1 - x0, y1 - y0, t))
            z += t
        if len(boxes) > 1:
            _, omap = occ.fragment([(3, boxes[0])], [(3, b) for b in boxes[1:]])
            pieces = [[t for d, t in m if d == 3] for m in omap]
        else:
            pieces = [[boxes[0]]]
        occ.synchronize()
        groups: dict[int, set] = {}
        for m, vols in zip(cell.layer_materials, pieces):
            groups.setdefault(MATERIAL_TAGS[m], set()).update(vols)
        tol = 1e-6 * max(x1 - x0, H)
        report = {"kind": "laminate", "cell": asdict(cell), "key": cell.key(), "box_mm": list(cell.box)}
        report["periodic_faces"] = {k: len(v) for k, v in set_periodic(gmsh, cell.box, tol).items()}
        _mesh_options(gmsh, cell.mesh_size_mm, min(0.1 * cell.mesh_size_mm, min(cell.layer_thickness_mm)))
        return _mesh_and_report(gmsh, report, groups, path)


def _add_cell_tows(occ, p, w, h, a, z_mid, n):
    """Warp and weft tows k = 0, 1, 2 of the cell [0, 2p]^2, from x (y) = -p/2 to 5p/2, one
    ThruSections solid per pitch joined at the window centre lines (as meshes/composite.py _add_tows)."""
    out = {CARBON_WARP: [], CARBON_WEFT: []}
    s0, s1 = -(n // 2), 2 * n + n // 2
    for family in (CARBON_WARP, CARBON_WEFT):
        for k in (0, 1, 2):
            out[family].extend(loft_tow(occ, family, k, k * p, s0, s1, p, n, w, h, a, z_mid))
    return out[CARBON_WARP], out[CARBON_WEFT]


def build_weave_msh(cell: WeaveCell, path: Path | None) -> dict:
    geo = cell.composite
    d = cell.design()
    p, L = geo.tow_pitch_mm, d["cell_side_mm"]
    w, h, a = d["tow_width_mm"], d["tow_height_mm"], d["crimp_amplitude_mm"]
    T, t_g, z_mid = d["li_region_thickness_mm"], d["gpe_thickness_mm"], d["z_cloth_mid_mm"]
    with gmsh_model("rve_weave") as gmsh:
        occ = gmsh.model.occ
        t0 = time.perf_counter()
        warp, weft = _add_cell_tows(occ, p, w, h, a, z_mid, geo.sections_per_pitch)
        li = occ.addBox(0.0, 0.0, t_g, L, L, T)
        gpe = [occ.addBox(0.0, 0.0, 0.0, L, L, t_g), occ.addBox(0.0, 0.0, t_g + T, L, L, t_g)] if t_g > 0.0 else []
        pores = []
        if d["n_pores"]:
            r, c = d["pore_radius_mm"], d["pore_half_height_mm"]
            for i in (0, 1):
                for j in (0, 1):
                    x, y = (i + 0.5) * p, (j + 0.5) * p
                    s = occ.addSphere(x, y, z_mid, r)
                    if abs(c / r - 1.0) > 1e-12:
                        occ.dilate([(3, s)], x, y, z_mid, 1.0, 1.0, c / r)
                    pores.append(s)
        objects = [(3, li)] + [(3, t) for t in gpe]
        tools = [(3, t) for t in warp + weft + pores]
        _, omap = occ.fragment(objects, tools)
        children = {dt[1]: {t for dd, t in pieces if dd == 3} for dt, pieces in zip(objects + tools, omap)}
        inside = set(children[li]).union(*(children[t] for t in gpe))
        outside = {t for _, t in occ.getEntities(3)} - inside
        if outside:
            occ.remove([(3, t) for t in sorted(outside)], recursive=True)
        occ.synchronize()
        groups = {LI: set(children[li]), GPE: set().union(*(children[t] for t in gpe)),
                  CARBON_WARP: set().union(*(children[t] for t in warp)) & inside,
                  CARBON_WEFT: set().union(*(children[t] for t in weft)) & inside,
                  VOID: set().union(*(children[t] for t in pores)) & inside}
        groups[LI] -= groups[CARBON_WARP] | groups[CARBON_WEFT] | groups[VOID]
        all_vols = {t for _, t in gmsh.model.getEntities(3)}
        if all_vols != set().union(*groups.values()):
            raise RuntimeError("RVE weave: fragment classification failed")
        vol = {k: float(sum(occ.getMass(3, t) for t in v)) for k, v in groups.items()}
        achieved = {"carbon": vol[CARBON_WARP] + vol[CARBON_WEFT], "li": vol[LI], "gpe": vol[GPE], "void": vol[VOID]}
        tgt = d["target_volumes_mm3"]
        rel = {k: (achieved[k] / tgt[k] - 1.0 if tgt[k] > 0 else 0.0) for k in tgt}
        report = {"kind": "weave", "cell": asdict(geo), "key": cell.key(), "box_mm": list(cell.box),
                  "design": d, "achieved_volumes_mm3": achieved, "rel_error": rel,
                  "box_volume_check": sum(achieved.values()) / (L * L * d["thickness_mm"]) - 1.0,
                  "occ_s": time.perf_counter() - t0}
        if max(abs(v) for v in rel.values()) > 0.02:
            raise RuntimeError(f"RVE weave volumes off target: {rel}")
        report["periodic_faces"] = {k: len(v) for k, v in set_periodic(gmsh, cell.box, 1e-5).items()}
        hmax = geo.mesh_size_mm
        h_tow = min(geo.mesh_size_tow_mm or hmax, hmax)
        r_pore = min(d["pore_radius_mm"], d["pore_half_height_mm"]) if d["n_pores"] else 0.0
        h_pore = min(geo.mesh_size_pore_mm or max(2.0 * math.pi * r_pore / 24.0, hmax / 3.0), hmax)
        _mesh_options(gmsh, hmax, geo.mesh_size_min_mm)
        size_fields(gmsh, hmax, [(h_tow, sorted(groups[CARBON_WARP] | groups[CARBON_WEFT])),
                                 (h_pore, sorted(groups[VOID]))])
        gmsh.option.setNumber("Mesh.OptimizeNetgen", int(geo.optimize_netgen))
        report["mesh_sizes_mm"] = {"max": hmax, "tow": h_tow, "pore": h_pore}
        report = _mesh_and_report(gmsh, report, groups, path)
        mv = report["mesh_volumes_mm3_by_tag"]
        report["mesh_volumes_mm3"] = {"carbon": mv[CARBON_WARP] + mv[CARBON_WEFT], "li": mv[LI], "gpe": mv[GPE],
                                      "void": mv[VOID]}
        report["mesh_rel_error"] = {k: (v / tgt[k] - 1.0 if tgt[k] > 0 else 0.0)
                                    for k, v in report["mesh_volumes_mm3"].items()}
        return report


def build_msh(cell, path: Path | None) -> dict:
    return (build_laminate_msh if isinstance(cell, LaminateCell) else build_weave_msh)(cell, path)


def cached_msh(cell, cache_dir: Path | None = None) -> tuple[Path, dict]:
    """(path of the cached .msh, report), building both if needed (report = .json beside the .msh)."""
    kind = "laminate" if isinstance(cell, LaminateCell) else "weave"
    path = cache_dir_path(cache_dir) / f"rve_{kind}_{cell.key()}.msh"
    return cached_msh_with_report(path, cell.key(), lambda p: build_msh(cell, p))


def load_mesh(cell, comm=None, cache_dir: Path | None = None):
    """(mesh, cell_tags, report) of a cell, building it on rank 0 into the cache if needed."""
    import dolfinx_solver  # noqa: F401  (must precede dolfinx)
    from mpi4py import MPI

    comm = comm or MPI.COMM_WORLD
    path, report = on_root(comm, lambda: cached_msh(cell, cache_dir))
    data = read_msh(path, comm, gdim=3)
    return data.mesh, data.cell_tags, report


# ------------------------------------------------------------------------------ size estimate
def estimate_cell(cell, degree: int = 2) -> dict:
    """Tetrahedra, dofs and peak memory (bytes) of an RVE solve, before meshing (closed form, same
    constants as meshes/estimate.py: MUMPS fill 3 (n/1e4)^0.4, 12 B per nonzero)."""
    from .estimate import BASE_BYTES, BYTES_PER_DOF, BYTES_PER_NNZ, COMPOSITE_TETS_PER_AREA, GMSH_BYTES_PER_ELEMENT
    try:
        if isinstance(cell, LaminateCell):
            x0, y0, _, x1, y1, _ = cell.box
            A, h = (x1 - x0) * (y1 - y0), cell.mesh_size_mm
            n = sum(max(6.5 * A * t / h ** 3, 4.6 * A / h ** 2) for t in cell.layer_thickness_mm)
        else:
            geo = cell.composite
            h = geo.mesh_size_mm
            h_tow = min(geo.mesh_size_tow_mm or h, h)
            A = (2.0 * geo.tow_pitch_mm) ** 2
            n = COMPOSITE_TETS_PER_AREA * A * (0.6 / h_tow ** 2 + 0.4 / h ** 2) + 4 * 2000.0
        v = n / 4.5
        dofs = 3.0 * (v + (v + n) if degree == 2 else v)
        nnz = (81.0 if degree == 2 else 40.0) * dofs
        fill = max(3.0 * (dofs / 1e4) ** 0.4, 1.0)
        fe = 1000.0 * n + BYTES_PER_DOF * dofs + BYTES_PER_NNZ * nnz * (3.0 + fill)
        total = BASE_BYTES[3] + max(GMSH_BYTES_PER_ELEMENT * n, fe)
    except (OverflowError, ZeroDivisionError):
        n = dofs = total = math.inf
    return {"elements": n, "dofs": dofs, "bytes": total}
