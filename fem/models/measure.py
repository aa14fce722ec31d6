"""Measurements as the experiment takes them (lengths in mm), for both dimensions and under MPI.

thickness: the platen gap, h = h0 - 2 delta with mid-plane symmetry (h0 - delta without);
diameter : twice the largest deformed distance from the disc axis over all displacement nodes,
           anywhere on the disc, so a barrelled rim counts.
Changes are reported in %: thickness_change_pct = (h0 - h)/h0 * 100 (positive when the disc
thins, as the paper reports it); diameter_change_pct = (D - D0)/D0 * 100.
"""
from __future__ import annotations

import numpy as np
from mpi4py import MPI

THICKNESS_SIGN = "thickness_change_pct = (h0-h)/h0*100 > 0 when thinner"


def thickness_mm(h0: float, delta: float, use_symmetry: bool) -> float:
    return h0 - (2.0 * delta if use_symmetry else delta)


def max_radius_mm(X_inplane: np.ndarray, u_inplane: np.ndarray, comm=None) -> float:
    """Largest deformed distance from the axis, |X + u| over the in-plane coordinates (r in the
    axisymmetric section; x, y in 3D), over all processes."""
    r = np.sqrt(np.sum((np.asarray(X_inplane) + np.asarray(u_inplane)) ** 2, axis=1))
    local = float(r.max(initial=0.0))
    return local if comm is None or comm.size == 1 else comm.allreduce(local, op=MPI.MAX)


def changes(h0: float, D0: float, h: float, D: float) -> dict:
    return {"gap_mm": h, "diameter_mm": D,
            "thickness_change_pct": 100.0 * (h0 - h) / h0,
            "diameter_change_pct": 100.0 * (D - D0) / D0}
