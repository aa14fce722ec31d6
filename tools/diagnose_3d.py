"""Where does a stalled 3D run creep? Reads a run's case.toml and checkpoint.npz (serial run) and
prints the cells with the highest creep rate (location, radius, creep strain), the Li volume ratio
J range and the outline from the element vertices. Used to find the degenerate Li tets that stop
the 30 MPa composite runs (README "Composite (G-LiCFC) in 3D").

    .venv/bin/python tools/diagnose_3d.py results/composite_glicfc_nopores/pressure_MPa-30
"""
import json
import sys
from pathlib import Path

import dolfinx_solver  # noqa: E402,F401
import numpy as np  # noqa: E402
from dolfinx import mesh as dm  # noqa: E402

from fem.stepping.run import build_model  # noqa: E402
from fem.study import load_study  # noqa: E402


def main(run_dir: str, n: int = 8) -> None:
    d = Path(run_dir)
    model, _, _, _ = build_model(load_study(d / "case.toml"))
    with np.load(d / "checkpoint.npz") as z:
        model.w.x.array[:] = z["x"]
        model.Cc_inv_n.x.array[:] = z["Cc_inv"]
        model.p_eq.x.array[:] = z["p_eq"]
        rate = z["rate_n"]
        meta = json.loads(str(z["meta"]))
    print(f"t = {meta['t']:.6g} s, next dt = {meta['dt_next']:.3g} s")
    nq = len(model.qweights)
    r = rate.reshape(len(model.cells), nq).max(axis=1)
    pe = model.p_eq.x.array.reshape(len(model.cells), nq).max(axis=1)
    order = np.argsort(-r)[:n]
    mid = dm.compute_midpoints(model.mesh, 3, model.cells[order])
    for k, c in enumerate(order):
        print(f"  creep rate {r[c]:.3e} 1/s  creep strain {pe[c]:.3f}  at {np.round(mid[k], 4)}  "
              f"radius {np.hypot(mid[k][0], mid[k][1]):.3f} mm")
    print(f"median creep rate {np.median(r):.3g} 1/s")
    print("outline:", json.dumps(model.phase_results().get("outline")))
    J = model.eval_phase(model.creep_phase, "J")
    print(f"Li J range {J.min():.4g} .. {J.max():.4g} (an incompressible phase: far from 1 = degenerate tets)")


if __name__ == "__main__":
    main(sys.argv[1])
