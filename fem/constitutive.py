"""The constitutive law: finite-strain elasticity + isochoric J2 power-law creep.

Kinematics: multiplicative split F = Fe Fc with isochoric creep (det Fc = 1). The internal
variable is the inverse creep right Cauchy-Green tensor Cc^-1 = Fc^-1 Fc^-T.

Elasticity (Simo 1988/1992; Simo & Hughes 1998, Box 9.1): Kirchhoff stress
    tau = J U'(J) I + mu dev(be_bar),   U'(J) = K/2 (J - 1/J),   be_bar = J^-2/3 F Cc^-1 F^T.
With the u-p mixed form the pressure J U'(J)/J is replaced by an independent field p that
satisfies p = U'(J) weakly. For the elastic strains of Li under stack pressure (< 0.5 %) this
model differs from Hencky (logarithmic) elasticity by O(eps_e^2): the uniaxial elastic strain
differs by 0.03 % of itself at 5.19 MPa and 0.17 % at 30 MPa (checked in the tests).

Creep: backward-Euler radial return (Simo & Hughes Box 9.1, with power-law flow)
    s = s_tr (1 - 3 mubar dp / q_tr),  mubar = mu tr(be_bar_tr)/3,
    dp = dt * A_eff * <q_tr - 3 mubar dp - sigma_y>^n,
solved pointwise for dp by `solve_creep_increment` (NumPy, vectorised, monotone Newton).

Consistent tangent: the UFL stress uses dp_ufl = dp* - g(dp*)/g'(dp*), where dp* is the converged
pointwise root of g. Its value equals dp*, and UFL differentiation of it gives exactly the
implicit-function derivative d(dp)/d(F), so the Jacobian is the consistent tangent.
"""
from __future__ import annotations

import numpy as np
import ufl

from .materials import LiCreep


def _dev(A):
    return A - ufl.tr(A) / 3.0 * ufl.Identity(3)


class LawConstants:
    """The material numbers as UFL constants (fem.Constant), so that a form is compiled once and
    reused for every parameter value (sweeps, calibration) instead of being JIT-compiled again."""

    def __init__(self, mesh, mat: LiCreep):
        from dolfinx import fem
        self.mu = fem.Constant(mesh, mat.shear_modulus_MPa)
        self.K = fem.Constant(mesh, mat.bulk_modulus_MPa)
        self.n = fem.Constant(mesh, mat.creep_n)
        self.sigma_y = fem.Constant(mesh, mat.threshold_stress_MPa)


class CreepLaw:
    """UFL expressions of the law, given the deformation gradient F (3x3 UFL) and state."""

    def __init__(self, c: LawConstants, F, Cc_inv_n, dp_star, dt_A, pressure):
        """c: material constants; F: 3x3 deformation gradient; Cc_inv_n: 3x3 state at t_n;
        dp_star: pointwise converged creep increment; dt_A: Constant = dt * A_eff (MPa^-n);
        pressure: hydrostatic Cauchy stress field p (MPa, positive in tension) of the u-p form."""
        self.c = c
        mu, n, sy = c.mu, c.n, c.sigma_y
        self.F = F
        self.J = ufl.det(F)
        self.Fbar = self.J ** (-1.0 / 3.0) * F
        be_tr = self.Fbar * Cc_inv_n * self.Fbar.T
        self.Ie = ufl.tr(be_tr) / 3.0
        self.mubar = mu * self.Ie
        self.s_tr = mu * _dev(be_tr)
        # von Mises of the trial Kirchhoff stress; the tiny floor keeps the derivative finite at s = 0
        self.q_tr = ufl.sqrt(1.5 * ufl.inner(self.s_tr, self.s_tr) + (1e-14 * mu) ** 2)

        def over(dp):
            x = self.q_tr - 3.0 * self.mubar * dp - sy
            return ufl.conditional(ufl.gt(x, 0.0), x, 0.0)

        g = dp_star - dt_A * over(dp_star) ** n
        dg = 1.0 + dt_A * n * over(dp_star) ** (n - 1.0) * 3.0 * self.mubar
        self.dp = dp_star - g / dg
        self.s = self.s_tr * (1.0 - 3.0 * self.mubar * self.dp / self.q_tr)
        self.tau = self.s + self.J * pressure * ufl.Identity(3)
        self.P = self.tau * ufl.inv(F).T                      # first Piola-Kirchhoff stress
        self.sigma = self.tau / self.J                         # Cauchy stress
        self.von_mises = ufl.sqrt(1.5 * ufl.inner(self.s, self.s)) / self.J
        be_new = self.s / mu + self.Ie * ufl.Identity(3)
        Fbar_inv = ufl.inv(self.Fbar)
        self.Cc_inv_new = Fbar_inv * be_new * Fbar_inv.T

    def volumetric_residual(self, pressure):
        """p - U'(J) with U'(J) = K/2 (J - 1/J), divided by K (dimensionless)."""
        K = self.c.K
        return (0.5 * K * (self.J - 1.0 / self.J) - pressure) / K


def solve_creep_increment(q_tr: np.ndarray, mubar: np.ndarray, dt_A: float, n: float,
                          sigma_y: float = 0.0, rtol: float = 1e-12, max_it: int = 300) -> np.ndarray:
    """Pointwise root dp >= 0 of  dp = dt_A <q_tr - 3 mubar dp - sigma_y>^n  (vectorised).

    Written for y = q - sigma_y (over-stress after return): h(y) = (y_tr - y)/(3 mubar) - dt_A y^n.
    h is decreasing and concave on [0, y_tr], so Newton started from an upper bound of the root
    decreases monotonically to it (no safeguard needed). Returns dp = (y_tr - y)/(3 mubar).
    """
    q_tr = np.asarray(q_tr, dtype=float)
    mubar = np.asarray(mubar, dtype=float)
    dp = np.zeros_like(q_tr)
    y_tr = q_tr - sigma_y
    active = (y_tr > 0.0) & (dt_A > 0.0)
    if not np.any(active):
        return dp
    yt, m3 = y_tr[active], 3.0 * mubar[active]
    # upper bounds of the root: y <= y_tr and dt_A y^n <= y_tr/(3 mubar)
    y = np.minimum(yt, (yt / (m3 * dt_A)) ** (1.0 / n))
    for _ in range(max_it):
        h = (yt - y) / m3 - dt_A * y ** n
        dh = -1.0 / m3 - dt_A * n * y ** (n - 1.0)
        step = h / dh
        y = y - step
        if np.all(np.abs(step) <= rtol * np.maximum(yt, 1e-300)):
            break
    else:  # pragma: no cover - monotone Newton always converges; keep a loud failure just in case
        raise RuntimeError("creep return map did not converge")
    # polish in the dp form: dp - dt_A (y_tr - 3 mubar dp)^n is evaluated to full relative
    # precision even when dp << y_tr / (3 mubar), where (y_tr - y)/(3 mubar) cancels
    d = (yt - y) / m3
    for _ in range(3):
        over = np.maximum(yt - m3 * d, 0.0)
        g = d - dt_A * over ** n
        dg = 1.0 + dt_A * n * over ** (n - 1.0) * m3
        d = np.clip(d - g / dg, 0.0, yt / m3)
    dp[active] = d
    return dp
