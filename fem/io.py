"""Output files, written atomically: each file is written under a temporary name and renamed
into place, so an interrupted run never leaves a half-written file where a good one was."""
from __future__ import annotations

import csv
import io
import os
import shutil
from pathlib import Path

import numpy as np


def atomic_write_text(path: str | Path, text: str) -> None:
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


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
    reference 3D body (serial runs only); the hydrostatic pressure is the u-p pressure field,
    which is 0 outside the u-p phases (tows, pores) of a composite (with the enriched P1 + P0 pressure,
    the P1 part plus the cell constants averaged over the cells around each node).
    The whole series is written to a staging folder and then moved into place."""
    import basix.ufl
    import meshio
    from dolfinx import fem

    msh = model.mesh
    cell = msh.basix_cell().name
    gdim = msh.geometry.dim
    if msh.comm.size > 1:
        raise RuntimeError("field output is serial only")
    S1 = fem.functionspace(msh, basix.ufl.element("Lagrange", cell, 1))
    V1 = fem.functionspace(msh, basix.ufl.element("Lagrange", cell, 1, shape=(gdim,)))
    conn = S1.dofmap.list
    if not np.array_equal(conn, V1.dofmap.list):
        raise RuntimeError("P1 scalar and vector dof layouts differ")
    pts = S1.tabulate_dof_coordinates()
    u = fem.Function(V1)
    pres = fem.Function(S1)
    w = fem.Function(model.W)
    out_dir = Path(out_dir)
    staging = out_dir / f".staging{os.getpid()}"
    (staging / "fields").mkdir(parents=True, exist_ok=True)
    entries = []
    try:
        for k, snap in enumerate(snapshots):
            w.x.array[:] = snap["u"]
            u.interpolate(w.sub(0))
            pres.interpolate(w.sub(1))
            p_nodal = pres.x.array.copy()
            for i in model.pressure_parts[1:]:
                # P1 + P0: add the cell constants, averaged over the cells around each node
                f0 = w.sub(i).collapse()
                p0 = f0.x.array[f0.function_space.dofmap.list[:len(conn), 0]]
                acc, cnt = np.zeros(len(pts)), np.zeros(len(pts))
                np.add.at(acc, conn, np.repeat(p0[:, None], conn.shape[1], axis=1))
                np.add.at(cnt, conn, 1.0)
                p_nodal += acc / np.maximum(cnt, 1.0)
            disp = np.zeros((len(pts), 3))
            disp[:, :gdim] = u.x.array.reshape(-1, gdim)
            cell_data = {"von_mises_MPa": [snap["von_mises"]], "equivalent_creep_strain": [snap["p_eq"]]}
            if hasattr(model, "material_id"):
                cell_data["material_id"] = [model.material_id]
            m = meshio.Mesh(pts, [("triangle" if gdim == 2 else "tetra", conn)],
                            point_data={"displacement": disp, "hydrostatic_pressure_MPa": -p_nodal},
                            cell_data=cell_data)
            name = f"fields/step_{k:04d}.vtu"
            meshio.write(staging / name, m, file_format="vtu", binary=True)
            entries.append(f'    <DataSet timestep="{snap["t"]:.12g}" group="" part="0" file="{name}"/>')
        pvd = ('<?xml version="1.0"?>\n<VTKFile type="Collection" version="0.1" byte_order="LittleEndian">\n'
               "  <Collection>\n" + "\n".join(entries) + "\n  </Collection>\n</VTKFile>\n")
        (staging / "fields.pvd").write_text(pvd)
        old = out_dir / f".old{os.getpid()}"
        if (out_dir / "fields").exists():
            os.replace(out_dir / "fields", old)
        os.replace(staging / "fields", out_dir / "fields")
        os.replace(staging / "fields.pvd", out_dir / "fields.pvd")
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out_dir / "fields.pvd"
