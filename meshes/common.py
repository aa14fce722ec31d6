"""What the mesh builders share: every cell and facet tag, the geometry error, the mesh cache and
the distributed loading of a cached .msh.

Tags are Gmsh physical groups, read back as DOLFINx cell_tags / facet_tags. The builder modules
import (and so re-export) them from here: `from meshes.disc_axisym import TOP` and
`meshes.composite.CARBON_WEFT` keep working.

Facet tags
    1 BOTTOM        z = 0: the mid-plane (symmetry) or the bottom platen face     (all builders)
    2 TOP           z = H: the top platen face                                     (all builders)
    3 AXIS          r = 0                                          (disc_axisym only; unused in 3D)
    4 RIM           r = R0: the free outer edge                                    (all builders)
    5 SYM_X         plane x = 0 of a quarter disc                         (disc_3d, composite)
    6 SYM_Y         plane y = 0 of a quarter disc                         (disc_3d, composite)
    7 VOID_SURFACE  pore walls, interior facets                                    (composite)
Cell tags
    1 LI            lithium                                                        (all builders)
    2 CARBON_WARP   carbon tows along x (= CARBON)                                 (composite)
    3 GPE           gel polymer electrolyte skins                                  (composite)
    4 VOID          closed pores                                                   (composite)
    5 CARBON_WEFT   carbon tows along y                                            (composite)
    6 CROSSING      Li cells between crossing tows, retagged at solve time (not a Gmsh group) when a
                    study's [crossing] law = "bonded" (meshes.composite.retag_crossings)
"""
from __future__ import annotations

import hashlib
import json
import os
import socket
import sys
import uuid
from pathlib import Path

# ---- facet tags
BOTTOM, TOP, AXIS, RIM, SYM_X, SYM_Y, VOID_SURFACE = 1, 2, 3, 4, 5, 6, 7
# ---- cell tags
LI, CARBON, GPE, VOID, CARBON_WEFT = 1, 2, 3, 4, 5
CROSSING = 6
CARBON_WARP = CARBON

# names of the Gmsh physical groups, per builder
AXISYM_FACET_NAMES = {BOTTOM: "bottom", TOP: "top", AXIS: "axis", RIM: "rim"}
DISC3D_FACET_NAMES = {BOTTOM: "bottom", TOP: "top", RIM: "rim", SYM_X: "sym_x", SYM_Y: "sym_y"}
COMPOSITE_FACET_NAMES = {**DISC3D_FACET_NAMES, VOID_SURFACE: "void_surface"}
COMPOSITE_CELL_NAMES = {LI: "li", CARBON_WARP: "carbon_warp", GPE: "gpe", VOID: "void", CARBON_WEFT: "carbon_weft"}


class GeometryError(ValueError):
    """Invalid geometry parameter: the message names the field and its allowed range."""


def cache_dir_path(cache_dir: Path | None = None) -> Path:
    """The mesh cache folder: `cache_dir`, else $FEM_MESH_CACHE, else <repo>/.cache/meshes (created)."""
    d = Path(cache_dir or os.environ.get("FEM_MESH_CACHE",
                                         Path(__file__).resolve().parent.parent / ".cache" / "meshes"))
    d.mkdir(parents=True, exist_ok=True)
    return d


# ---- the mesh cache: atomic, checksummed .msh files
# A cached .msh ends with a section that Gmsh ignores (the MSH format skips sections it does not
# know): "$FemChecksum\nsha256 <hex of every byte before the section> <that byte count>\n$EndFemChecksum\n".
# Files are written under a unique temporary name in the cache folder and renamed into place
# (os.replace: atomic on POSIX, also on NFS within one folder), so readers see either no file or a
# whole one and concurrent writers of the same entry (processes, MPI jobs, hosts sharing the cache)
# each publish a complete file, the last rename wins. `cache_file_ok` checks a file before it is used:
# a truncated or corrupted one gives one warning line on stderr and is rebuilt.
_CHECKSUM_HEAD = b"$FemChecksum\n"
_CHECKSUM_TAIL = b"$EndFemChecksum\n"


def unique_tmp_path(path: Path) -> Path:
    """A temporary name beside `path`, unique across processes and hosts, with the same suffix
    (Gmsh picks the format from it)."""
    path = Path(path)
    tag = f"{socket.gethostname()}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
    return path.with_name(f".{path.stem}.{tag}.tmp{path.suffix}")


def publish(tmp: Path, path: Path) -> None:
    """Append the checksum section to the finished temporary file `tmp` and rename it to `path`."""
    data = Path(tmp).read_bytes()
    with open(tmp, "ab") as f:
        f.write(_CHECKSUM_HEAD + f"sha256 {hashlib.sha256(data).hexdigest()} {len(data)}\n".encode()
                + _CHECKSUM_TAIL)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write_msh(gmsh, path: Path) -> None:
    """gmsh.write the current model to `path` atomically, with the checksum section."""
    path = Path(path)
    tmp = unique_tmp_path(path)
    try:
        gmsh.write(str(tmp))
        publish(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def msh_problem(path: Path) -> str | None:
    """None if the cached .msh `path` is whole, else what is wrong with it (one phrase).

    Files with the checksum section are verified byte for byte; files written before it existed
    must at least end with a complete "$End..." line (a truncated file does not)."""
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        return f"cannot be read ({e.strerror or e})"
    i = data.rfind(_CHECKSUM_HEAD)
    if i < 0:
        if not data.endswith(b"\n") or not data.rstrip(b"\n").rsplit(b"\n", 1)[-1].startswith(b"$End"):
            return f"truncated ({len(data)} bytes, no checksum)"
        return None
    try:
        line = data[i + len(_CHECKSUM_HEAD):].split(b"\n", 1)[0].decode()
        algo, digest, n = line.split()
        n = int(n)
    except (UnicodeDecodeError, ValueError):
        return "damaged checksum section"
    if algo != "sha256" or n != i or not data.endswith(_CHECKSUM_TAIL):
        return f"truncated or damaged ({len(data)} bytes)"
    if hashlib.sha256(data[:i]).hexdigest() != digest:
        return "checksum mismatch (corrupted)"
    return None


def cache_file_ok(path: Path, check=msh_problem) -> bool:
    """True if the cache file `path` exists and `check(path)` finds no problem; a damaged file gives
    one warning line on stderr (the caller then rebuilds it, replacing the file atomically)."""
    path = Path(path)
    if not path.exists():
        return False
    problem = check(path)
    if problem is None:
        return True
    print(f"warning: mesh cache {path}: {problem}; rebuilding it", file=sys.stderr, flush=True)
    return False


def classify_boundary(gmsh, volumes, z_bottom: float, z_top: float, tol: float = 1e-5) -> dict[int, list[int]]:
    """Sort the exterior surfaces of `volumes` into BOTTOM, TOP, SYM_X, SYM_Y and RIM by bounding box
    (OCC pads bounding boxes by about 1e-7 mm, hence the tolerance)."""
    out = {BOTTOM: [], TOP: [], RIM: [], SYM_X: [], SYM_Y: []}
    for dim, tag in gmsh.model.getBoundary(volumes, combined=True, oriented=False):
        x0, y0, z0, x1, y1, z1 = gmsh.model.getBoundingBox(dim, tag)
        if abs(z0 - z_bottom) < tol and abs(z1 - z_bottom) < tol:
            out[BOTTOM].append(tag)
        elif abs(z0 - z_top) < tol and abs(z1 - z_top) < tol:
            out[TOP].append(tag)
        elif abs(x0) < tol and abs(x1) < tol:
            out[SYM_X].append(tag)
        elif abs(y0) < tol and abs(y1) < tol:
            out[SYM_Y].append(tag)
        else:
            out[RIM].append(tag)
    return out


def read_msh(path: Path | None, comm, gdim: int = 3):
    """Read a .msh on rank 0 and distribute it over `comm`; returns DOLFINx MeshData."""
    import dolfinx_solver  # noqa: F401  (must precede dolfinx)
    import gmsh
    from dolfinx.io import gmsh as dgmsh

    gmsh.initialize(interruptible=False)
    try:
        gmsh.option.setNumber("General.Terminal", 0)
        if comm.rank == 0:
            gmsh.open(str(path))
        return dgmsh.model_to_mesh(gmsh.model, comm, 0, gdim=gdim)
    finally:
        gmsh.finalize()


def on_root(comm, fn):
    """Run fn() on rank 0 and broadcast its result; the other ranks wait without spinning a core
    (MPICH busy-polls in a plain bcast, which would slow the Gmsh build on small machines).
    An exception on rank 0 is re-raised on every rank."""
    import time

    result, exc = None, None
    if comm.rank == 0:
        try:
            result = fn()
        except Exception as e:  # noqa: BLE001  (re-raised on every rank below)
            exc = e
    req = comm.Ibarrier()
    while not req.Test():
        time.sleep(0.02)
    result, exc = comm.bcast((result, exc), root=0)
    if exc is not None:
        raise exc
    return result


def cached_msh_with_report(path: Path, key: str, build) -> tuple[Path, dict]:
    """(path, report) of a cached .msh and its JSON report beside it (same stem), built by
    build(path) -> report when either is missing or damaged. The .msh is checked first: a damaged
    report alone is rebuilt with its mesh (one warning line). Concurrent builders: each file is
    written whole under a unique temporary name and renamed; the last rename wins."""
    rpath = path.with_suffix(".json")

    def report_problem(p: Path) -> str | None:
        try:
            r = json.loads(p.read_text())
        except (OSError, UnicodeDecodeError, ValueError) as e:
            return f"unreadable report ({type(e).__name__})"
        return None if isinstance(r, dict) and r.get("key") == key else "report of another mesh"

    if cache_file_ok(path) and cache_file_ok(rpath, report_problem):
        return path, json.loads(rpath.read_text())
    report = build(path)
    text = json.dumps(report, indent=1, default=float)
    tmp = unique_tmp_path(rpath)
    try:
        tmp.write_text(text)
        os.replace(tmp, rpath)
    finally:
        tmp.unlink(missing_ok=True)
    return path, json.loads(text)
