"""Measurements as the experiment takes them (lengths in mm).

thickness: the platen gap, h = h0 - 2 delta with mid-plane symmetry (h0 - delta without);
diameter : twice the largest deformed radius anywhere on the disc, so a barrelled rim counts.
Changes are reported in %: thickness_change_pct = (h0 - h)/h0 * 100 (positive when the disc
thins, as the paper reports it); diameter_change_pct = (D - D0)/D0 * 100.
"""
from __future__ import annotations

import numpy as np


def thickness_mm(h0: float, delta: float, use_symmetry: bool) -> float:
    return h0 - (2.0 * delta if use_symmetry else delta)


def diameter_mm(r_ref: np.ndarray, u_r: np.ndarray) -> float:
    return 2.0 * float(np.max(r_ref + u_r))
