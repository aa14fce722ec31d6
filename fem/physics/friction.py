"""Friction at a rigid platen: regularised Coulomb, one kernel for the axisymmetric (one in-plane
slip component, radial) and the 3D model (two components, x and y). Units: mm, N, s.

A platen-face node k is pushed by the platen with a normal force N_k (the reaction of its
u_n = platen-motion constraint) and dragged by a tangential force

    f_k = mu N+_k s_k / sqrt(|s_k|^2 + eps^2),        eps = v_reg dt    (dt > 0)
                                                      eps = s_floor     (dt = 0: instantaneous load step)

(added to the residual, i.e. it opposes the slip), where s_k is the in-plane slip of the node over
the time step (the platen does not move in-plane).

* Regularisation in slip *velocity*: with eps = v_reg dt the force depends only on the slip rate
  s/dt (full Coulomb above v_reg, viscous below), so results do not depend on the step size. A
  fixed width, or a floor added to v_reg dt, makes them do so (with a floor, friction fades as
  dt -> 0, which also defeats time-step error control). Where Newton needs help (very sharp
  regularisation), fem/models/newton.py continues in the width within the step (1e4 eps ... eps),
  which does not change the converged answer.
* Smooth positive part of the normal force, N+ = (N + sqrt(N^2 + d^2)) / 2, d = 1e-4 x the mean
  nodal platen force: with quadratic faces the consistent nodal reactions of a uniform pressure are
  ~0 at the face vertices (it all sits at the edge midpoints), so N hovers around 0 there; clipping
  switched friction on and off between Newton iterations in 3D, and a signed N gives a negative
  tangential stiffness. The smoothing changes a node's friction force by < mu d / 2.

Tresca cap (`tresca_m` > 0): the tangential traction of a metal that cold-welds to the platen cannot
exceed the shear flow stress of the metal, tau <= m k (friction factor m, 0 < m <= 1; k the shear
flow stress), the classic friction model of upsetting. Per node the Coulomb force magnitude mu N+ is
capped smoothly at c_k = m k a_k, a_k the node's share of the current platen contact area (the
consistent nodal area of the face, lagged at the start of the step: fem/models/base.py
`friction_cap`):
    |f_k| = smin(mu N+_k, c_k),   smin(a, c) = (a + c - sqrt((a - c)^2 + (w c)^2)) / 2,  w = CAP_SMOOTHING
so the face sticks where mu p < m k and slides at the cap where the pressure is high (the 17.79 MPa
case: mu p = 3.6-5.3 MPa against k ~ 0.45 MPa).

The functions return the forces and their exact derivatives (for the consistent Jacobian, checked
by finite differences in tests/unit/test_friction.py); the assembly into the system matrix lives in
fem/models/contact.py.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FRICTION_MODES = ("frictionless", "sticking", "coulomb")
NORMAL_SMOOTHING = 1e-4   # d / (mean nodal platen force) of the smooth positive part of N
CAP_SMOOTHING = 1e-3      # width of the smooth minimum of the Tresca cap, relative to the cap
# Shear flow stress k of Li for the Tresca cap: k = sigma_y / sqrt(3) with the tensile yield
# strength 0.73-0.81 MPa of Masias, Felten, Garcia-Mendez, Wolfenstine & Sakamoto, J. Mater. Sci.
# 54 (2019) 2585 (the same study as E = 7.82 GPa of fem/physics/materials.py): k = 0.42-0.47 MPa.
SHEAR_FLOW_STRESS_SOURCE = ("Masias et al. 2019, J. Mater. Sci. 54:2585: Li tensile yield strength "
                            "0.73-0.81 MPa; k = sigma_y / sqrt(3) = 0.42-0.47 MPa (default 0.44)")


@dataclass(frozen=True, slots=True)
class FrictionSpec:
    """The platen-surface condition of a study's [platen] table."""
    friction: str = "coulomb"
    mu: float = 0.0                             # Coulomb coefficient (-)
    slip_regularization_mm_per_s: float = 1e-4  # v_reg: below this slip speed friction is viscous
    slip_floor_mm: float = 1e-6                 # eps of instantaneous (dt = 0) load steps
    tresca_m: float = 0.0                       # friction factor m of the Tresca cap (0: no cap)
    shear_flow_stress_MPa: float = 0.44         # k of the cap (SHEAR_FLOW_STRESS_SOURCE)

    def __post_init__(self):
        if self.friction not in FRICTION_MODES:
            raise ValueError(f"friction = {self.friction!r}: must be one of {', '.join(FRICTION_MODES)}")
        if not 0.0 <= self.tresca_m <= 1.0:
            raise ValueError(f"tresca_m = {self.tresca_m}: must be 0 <= m <= 1")

    @property
    def capped(self) -> bool:
        """Coulomb friction with a Tresca cap."""
        return self.friction == "coulomb" and self.tresca_m > 0.0


def regularisation_width(spec: FrictionSpec, dt: float, scale: float = 1.0) -> float:
    """eps (mm): v_reg dt for a time step, the floor for an instantaneous step; `scale` > 1 is the
    continuation of fem/models/newton.py."""
    return scale * (spec.slip_regularization_mm_per_s * dt if dt > 0.0 else spec.slip_floor_mm)


def smooth_positive(N: np.ndarray, d: float) -> tuple[np.ndarray, np.ndarray]:
    """(N+, dN+/dN) with N+ = (N + sqrt(N^2 + d^2)) / 2; d = 0 gives the exact positive part."""
    N = np.asarray(N, dtype=float)
    if d <= 0.0:
        return np.maximum(N, 0.0), (N > 0.0).astype(float)
    root = np.sqrt(N * N + d * d)
    return 0.5 * (N + root), 0.5 * (1.0 + N / root)


@dataclass
class FrictionForces:
    """Friction at n nodes with k in-plane slip components (k = 1 axisymmetric, 2 in 3D)."""
    force: np.ndarray      # (n, k) f = mu N+ s / root (N)
    d_dN: np.ndarray       # (n, k) df/dN (raw, signed N: includes dN+/dN)
    d_ds: np.ndarray       # (n, k, k) df/ds = mu N+ (I / root - s s^T / root^3)


def smooth_min(a: np.ndarray, c: np.ndarray, w: float = CAP_SMOOTHING) -> tuple[np.ndarray, np.ndarray]:
    """(smin(a, c), d smin/da) = ((a + c - sqrt((a - c)^2 + (w c)^2)) / 2, ...); c > 0 fixed."""
    root = np.sqrt((a - c) ** 2 + (w * c) ** 2)
    return 0.5 * (a + c - root), 0.5 * (1.0 - (a - c) / root)


def coulomb(N: np.ndarray, slip: np.ndarray, mu: float, eps: float, d: float,
            cap: np.ndarray | None = None) -> FrictionForces:
    """Regularised Coulomb friction of nodes with (raw) normal force N (n,) and slip (n, k);
    cap (n,): the Tresca cap of each node's force magnitude (N), or None."""
    s = np.atleast_2d(np.asarray(slip, dtype=float))
    if s.shape[0] != np.size(N):
        s = s.reshape(np.size(N), -1)
    Np, dNp = smooth_positive(N, d)
    root = np.sqrt(np.einsum("ij,ij->i", s, s) + eps * eps)
    phi = s / root[:, None]
    k = s.shape[1]
    dphi = np.eye(k)[None, :, :] / root[:, None, None] - s[:, :, None] * s[:, None, :] / root[:, None, None] ** 3
    g, dg = mu * Np, mu * dNp
    if cap is not None:
        g, dm = smooth_min(g, np.asarray(cap, dtype=float))
        dg = dm * dg
    return FrictionForces(g[:, None] * phi, dg[:, None] * phi, g[:, None, None] * dphi)
