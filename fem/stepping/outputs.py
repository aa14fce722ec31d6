"""Output files, written atomically: each file is written under a temporary name and renamed
into place, so an interrupted run never leaves a half-written file where a good one was."""
from __future__ import annotations

import csv
import io
import os
import shutil
from pathlib import Path

import numpy as np


_fsync = os.fsync   # one place for the durability call (tests replace it to simulate a full disk)


def fsync_dir(path: str | Path) -> None:
    """Make a rename in directory `path` durable (a power cut after it keeps the new name)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass   # some filesystems refuse fsync on a directory
    finally:
        os.close(fd)


def atomic_write(path: str | Path, write, binary: bool = False) -> None:
    """write(f) into a temporary file next to `path` (same directory, hidden name), flush, fsync,
    rename it over `path`, fsync the directory. On any failure (disk full, permission) the temporary
    file is removed, `path` keeps its old content, and the OSError propagates."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "wb" if binary else "w") as f:
            write(f)
            f.flush()
            _fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise
    fsync_dir(path.parent)


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write(path, lambda f: f.write(text))


def atomic_output(path: str | Path, write) -> None:
    """Call write(tmp_path) to make a file (a figure, a screenshot), then rename it into place.
    The temporary name keeps the suffix, so writers that go by it (matplotlib, VTK) still work."""
    path = Path(path)
    tmp = path.with_name(f".tmp{os.getpid()}.{path.name}")
    try:
        write(str(tmp))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_history_csv(path: Path, columns: list[str], rows: list[dict]) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: (f"{v:.10g}" if isinstance(v, float) else v) for k, v in r.items()})
    atomic_write_text(path, buf.getvalue())


FIELD_NAMES = {
    "displacement": "displacement u = (u_r, u_z, 0) in mm (point data, P1 nodes)",
    "hydrostatic_pressure_MPa": "hydrostatic pressure -tr(sigma)/3, MPa, positive in compression (point data)",
    "von_mises_MPa": "von Mises Cauchy stress, MPa (cell data, cell average)",
    "equivalent_creep_strain": "equivalent creep strain, - (cell data, cell average)",
    "material_id": "3D: cell tag of the phase (1 Li, 2 warp tow, 3 GPE, 4 pore, 5 weft tow; bare Li 1), for Threshold",
}


def write_fields_vtk(out_dir: Path, model, snapshots: list[dict]) -> Path:
    """Time series of FIELD_NAMES as VTK: out_dir/fields.pvd + out_dir/fields/step_NNNN.vtu.

    One unstructured grid per time carries all arrays, so any ParaView opens it with no reader
    choice and 'Warp By Vector' (displacement) + colouring by creep strain work on one object.
    Coordinates are the reference (r, z) section (z = 0 is the mid-plane with symmetry), or the
    reference 3D body; the hydrostatic pressure is the u-p pressure field, which is 0 outside the
    u-p phases (tows, pores) of a composite (on a Li/gel interface node: the mean of the two
    phases' pressure fields; with the enriched P1 + P0 pressure: the P1 part plus the cell
    constants averaged over the cells around each node; serial runs only).
    The whole series is written to a staging folder and then moved into place.

    Collective under MPI (every process must call it): each process interpolates its part into P1
    and sends the owned P1 nodes (by global index) and owned cells (connectivity in global node
    indices) to process 0, which assembles the whole mesh (points in global index order, cells in
    process order) and writes the files; the outcome is broadcast so that an error on any process
    raises on all of them. Serial runs write the same arrays in the same order as before."""
    import basix.ufl
    import meshio
    from dolfinx import fem
    from mpi4py import MPI

    msh = model.mesh
    comm = msh.comm
    root = comm.rank == 0
    cell = msh.basix_cell().name
    gdim = msh.geometry.dim
    tdim = msh.topology.dim
    # one P1 field per u-p phase; with the enriched P1 + P0 pressure (one u-p phase) its cell constants
    phase_pressure = tuple(ks[0] for ks in model.phase_pressure.values())
    extra_pressure = tuple(k for ks in model.phase_pressure.values() for k in ks[1:])
    if extra_pressure and comm.size > 1:
        raise RuntimeError("field output: the P1 + P0 pressure average (pressure_space = 'P1+P0') is serial "
                           "only; run without MPI or with pressure_space = 'P1'")
    S1 = fem.functionspace(msh, basix.ufl.element("Lagrange", cell, 1))
    V1 = fem.functionspace(msh, basix.ufl.element("Lagrange", cell, 1, shape=(gdim,)))
    conn = S1.dofmap.list
    imap = S1.dofmap.index_map
    same = (np.array_equal(conn, V1.dofmap.list)
            and V1.dofmap.index_map.size_local == imap.size_local)
    if not comm.allreduce(bool(same), op=MPI.LAND):
        raise RuntimeError("P1 scalar and vector dof layouts differ")
    n_snap = comm.allgather(len(snapshots))
    if len(set(n_snap)) != 1:
        raise RuntimeError(f"field output: the processes hold different numbers of snapshots {n_snap}")
    pts = S1.tabulate_dof_coordinates()
    n_own = imap.size_local
    n_glob = imap.size_global
    n_cells = msh.topology.index_map(tdim).size_local
    l2g = imap.local_to_global(np.arange(n_own + imap.num_ghosts, dtype=np.int32))
    # connectivity of the owned cells in global P1 indices (serial: the local list itself, same dtype)
    conn_dtype = conn.dtype if n_glob < np.iinfo(np.int32).max else np.int64
    mesh_part = (int(imap.local_range[0]), pts[:n_own], l2g[conn[:n_cells]],
                 model.material_id if model.dim == 3 else None)   # the section has one material
    u = fem.Function(V1)
    pres = fem.Function(S1)
    w = fem.Function(model.W)
    support = None
    if len(phase_pressure) > 1:
        # several phase pressure fields, each 0 outside its phase: a node on a phase interface
        # shows the mean of the fields it belongs to (support: how many of them, from the free dofs)
        w.x.array[:] = 0.0
        w.x.array[model.is_pressure_dof] = 1.0
        w.x.array[model.constrained] = 0.0
        support = np.zeros(pres.x.array.size)
        for i in phase_pressure:
            pres.interpolate(w.sub(i))
            support += pres.x.array
        support = np.maximum(support, 1.0)

    def gather(obj):
        return [obj] if comm.size == 1 else comm.gather(obj, root=0)

    def local_part(snap):
        u.interpolate(w.sub(0))
        p_nodal = np.zeros(pres.x.array.size)
        for i in phase_pressure:
            pres.interpolate(w.sub(i))
            p_nodal += pres.x.array
        if support is not None:
            p_nodal /= support
        for i in extra_pressure:   # serial only (checked above)
            # P1 + P0: add the cell constants, averaged over the cells around each node
            f0 = w.sub(i).collapse()
            p0 = f0.x.array[f0.function_space.dofmap.list[:len(conn), 0]]
            acc, cnt = np.zeros(len(pts)), np.zeros(len(pts))
            np.add.at(acc, conn, np.repeat(p0[:, None], conn.shape[1], axis=1))
            np.add.at(cnt, conn, 1.0)
            p_nodal += acc / np.maximum(cnt, 1.0)
        disp = u.x.array.reshape(-1, gdim)[:n_own]
        vm, peq = np.asarray(snap["von_mises"]), np.asarray(snap["p_eq"])
        if len(vm) != n_cells or len(peq) != n_cells:
            raise ValueError(f"snapshot cell arrays have {len(vm)}/{len(peq)} values for {n_cells} owned cells")
        return disp.copy(), -p_nodal[:n_own], vm, peq

    def to_global(parts, offsets, k, shape):
        """Array of global P1 nodes from the k-th entry (owned nodes) of each process's part."""
        a = np.zeros(shape)
        for off, part in zip(offsets, parts):
            a[off:off + len(part[k])] = part[k]
        return a

    def assemble_mesh(parts, offsets):
        P = to_global(parts, offsets, 1, (n_glob, pts.shape[1]))
        C = np.concatenate([c for _, _, c, _ in parts]).astype(conn_dtype)
        mid = None if parts[0][3] is None else np.concatenate([m for _, _, _, m in parts])
        return P, C, mid

    out_dir = Path(out_dir)
    staging = out_dir / f".staging{os.getpid()}"
    status = cause = None   # process 0: None or the error message (and the exception)
    mesh_parts = gather(mesh_part)
    try:
        if root:
            (staging / "fields").mkdir(parents=True, exist_ok=True)
            offsets = [mp[0] for mp in mesh_parts]
            pts_g, conn_g, mid_g = assemble_mesh(mesh_parts, offsets)
            entries = []
    except Exception as e:   # noqa: BLE001  (reported to every process below)
        status, cause = f"field output: {type(e).__name__}: {e}", e
    try:
        for k, snap in enumerate(snapshots):
            err = part = None
            try:
                w.x.array[:] = snap["u"]
            except Exception as e:   # noqa: BLE001
                err = e
            w.x.scatter_forward()   # collective: up-to-date ghost values for the interpolation
            if err is None:
                try:
                    part = local_part(snap)
                except Exception as e:   # noqa: BLE001
                    err = e
            parts = gather(part if err is None else f"process {comm.rank}: {type(err).__name__}: {err}")
            if root and status is None:
                try:
                    bad = [q for q in parts if isinstance(q, str)]
                    if bad:
                        raise RuntimeError("; ".join(bad))
                    disp = np.zeros((n_glob, 3))
                    disp[:, :gdim] = to_global(parts, offsets, 0, (n_glob, gdim))
                    p_nodal = to_global(parts, offsets, 1, n_glob)
                    cell_data = {"von_mises_MPa": [np.concatenate([q[2] for q in parts])],
                                 "equivalent_creep_strain": [np.concatenate([q[3] for q in parts])]}
                    if mid_g is not None:
                        cell_data["material_id"] = [mid_g]
                    m = meshio.Mesh(pts_g, [("triangle" if gdim == 2 else "tetra", conn_g)],
                                    point_data={"displacement": disp, "hydrostatic_pressure_MPa": p_nodal},
                                    cell_data=cell_data)
                    name = f"fields/step_{k:04d}.vtu"
                    meshio.write(staging / name, m, file_format="vtu", binary=True)
                    entries.append(f'    <DataSet timestep="{snap["t"]:.12g}" group="" part="0" file="{name}"/>')
                except Exception as e:   # noqa: BLE001
                    status, cause = f"field output: {type(e).__name__}: {e}", e
            # stop every process at the first failure (one broadcast per snapshot keeps them in step)
            if comm.size > 1:
                status = comm.bcast(status, root=0)
            if status is not None:
                break
        if root and status is None:
            try:
                pvd = ('<?xml version="1.0"?>\n<VTKFile type="Collection" version="0.1" byte_order="LittleEndian">\n'
                       "  <Collection>\n" + "\n".join(entries) + "\n  </Collection>\n</VTKFile>\n")
                (staging / "fields.pvd").write_text(pvd)
                old = out_dir / f".old{os.getpid()}"
                if (out_dir / "fields").exists():
                    os.replace(out_dir / "fields", old)
                os.replace(staging / "fields", out_dir / "fields")
                os.replace(staging / "fields.pvd", out_dir / "fields.pvd")
                shutil.rmtree(old, ignore_errors=True)
            except Exception as e:   # noqa: BLE001
                status, cause = f"field output: {type(e).__name__}: {e}", e
    finally:
        if root:
            shutil.rmtree(staging, ignore_errors=True)
    if comm.size > 1:
        status = comm.bcast(status, root=0)   # the others wait here until process 0 has written
    if status is not None:
        raise RuntimeError(status) from cause
    return out_dir / "fields.pvd"
