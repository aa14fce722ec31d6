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


def write_history_csv(path: Path, columns: list[str], rows: list[dict]) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: (f"{v:.10g}" if isinstance(v, float) else v) for k, v in r.items()})
    atomic_write_text(path, buf.getvalue())


FIELD_NAMES = {
    "displacement": "displacement u = (u_r, u_z) in mm (P1 nodes)",
    "von_mises_MPa": "von Mises Cauchy stress, MPa (cell average)",
    "equivalent_creep_strain": "equivalent creep strain, - (cell average)",
    "hydrostatic_pressure_MPa": "hydrostatic pressure -tr(sigma)/3, MPa (positive in compression, P1 nodes)",
}


def write_fields_xdmf(path: Path, model, snapshots: list[dict]) -> None:
    """Time series of the fields in FIELD_NAMES, in XDMF/HDF5 (opens in every ParaView).
    Coordinates are the reference (r, z) section; use 'Warp By Vector' on displacement."""
    import basix.ufl
    from dolfinx import fem
    from dolfinx.io import XDMFFile

    msh = model.mesh
    cell = msh.basix_cell().name
    V1 = fem.functionspace(msh, basix.ufl.element("Lagrange", cell, 1, shape=(2,)))
    S1 = fem.functionspace(msh, basix.ufl.element("Lagrange", cell, 1))
    D0 = fem.functionspace(msh, basix.ufl.element("DG", cell, 0))
    u = fem.Function(V1, name="displacement")
    pres = fem.Function(S1, name="hydrostatic_pressure_MPa")
    vm = fem.Function(D0, name="von_mises_MPa")
    peq = fem.Function(D0, name="equivalent_creep_strain")
    w = fem.Function(model.W)
    path = Path(path)
    staging = path.parent / f".staging{os.getpid()}"
    staging.mkdir(exist_ok=True)
    try:
        xdmf_tmp = staging / path.name
        with XDMFFile(msh.comm, str(xdmf_tmp), "w") as f:
            f.write_mesh(msh)
            for s in snapshots:
                w.x.array[:] = s["u"]
                u.interpolate(w.sub(0))
                pres.interpolate(w.sub(1))
                pres.x.array[:] *= -1.0
                vm.x.array[:] = s["von_mises"]
                peq.x.array[:] = s["p_eq"]
                for fn in (u, vm, peq, pres):
                    f.write_function(fn, s["t"])
        h5 = xdmf_tmp.with_suffix(".h5")
        os.replace(h5, path.with_suffix(".h5"))
        os.replace(xdmf_tmp, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def snapshot_arrays_ok(s: dict) -> bool:
    return all(np.all(np.isfinite(s[k])) for k in ("u", "von_mises", "p_eq"))
