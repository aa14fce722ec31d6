"""The constitutive law: finite-strain elasticity + isochoric J2 power-law creep.

Kinematics: multiplicative split F = Fe Fc with isochoric creep (det Fc = 1). The internal
variable is the inverse creep right Cauchy-Green tensor Cc^-1 = Fc^-1 Fc^-T.

Elasticity: Hencky (logarithmic) in the deviatoric part, U(J) = K/2 (J - 1)^2 in the volumetric part,
    tau = mu log(be_bar) + J U'(J) I,   U'(J) = K (J - 1),   be_bar = J^-2/3 F Cc^-1 F^T
(log(be_bar) = 2 dev(eps_e) is traceless because det be_bar = 1). With the u-p mixed form the
pressure U'(J) is replaced by an independent field p that satisfies p = U'(J) weakly.
Why this U: the weak pressure equation is then *linear* in J, so for every pressure test function q
it states exactly  int (J - 1) q dV0 = int p/K q dV0.  With q = 1 that is the discrete volume balance,
and with the element-wise constants of the enriched pressure space (P1 + P0, fem/models/axisym.py) it holds
cell by cell. Simo's U'(J) = K/2 (J - 1/J), used before 2026-12, is nonlinear in J: where the
discrete J scatters pointwise (large creep strain on coarse meshes) its weak form lets the volume
drift by int (J - 1)^2 / 2 - the calibrated 17.79 MPa bare-Li run gained 12.8 % volume that way.
Both laws agree to O((J - 1)^2) ~ 1e-6 at the pressures of this package (p/K < 3e-3).

Creep: exponential-map radial return (Weber & Anand 1990; Simo 1992; Simo & Hughes 1998 §9.2)
    s_tr = mu log(be_bar_tr),  be_bar_tr = Fbar Cc^-1_n Fbar^T,  q_tr = sqrt(3/2 s_tr:s_tr),
    s = s_tr (1 - 3 mu dp / q_tr),  be_bar_new = exp(s / mu),
    dp = (1 - theta) dt pdot_n + theta dt A_eff <q_tr - 3 mu dp - sigma_y>^n,
where pdot_n = A_eff <q_n - sigma_y>^n is the creep rate at the start of the step (a stored
quadrature field). Because logarithmic strains of coaxial tensors add, the return is exact for
any size of creep increment along a proportional path: the accumulated creep strain is exactly
the sum of the dp (an additive update of be, as in Simo & Hughes Box 9.1, errs by O(dp^2) per
step, which made the time integration first order whatever the rule for dp).
theta = 1 is backward Euler (first order, L-stable); theta = 1/2 is the trapezoidal rule for
the creep-strain magnitude (second order; the flow direction is the end-of-step one, exact for
proportional stress paths). dp is solved pointwise by `solve_creep_increment` (NumPy,
vectorised, monotone Newton).

Tensor log/exp: be_bar_tr = I + X with X of the size of one step's strain increment; log uses the
series log(B) = 2 sum_k Z^(2k+1)/(2k+1), Z = (B - I)(B + I)^-1, to Z^17 (|Z| <= 0.43 for
|X| <= LOG_SERIES_LIMIT = 0.6: relative truncation error < 1e-8; a converged step beyond the
limit is rejected and cut, and the step control keeps the next step below it), exp of
the elastic strain (|s/mu| < 0.05) uses its Taylor series to the 7th power (error < 1e-12).

Consistent tangent: the UFL stress uses dp_ufl = dp* - g/g'(dp*), where dp* is the converged
pointwise root of g. Its value equals dp*, and UFL differentiation of it gives exactly the
implicit-function derivative d(dp)/d(F), so the Jacobian is the consistent tangent.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import ufl

from fem.physics.materials import GelNeoHookean, LiCreep, SoftVoid, TowElastic

# ---------------------------------------------------------------------- law registry
# Every law is chosen from its material's type (one entry per material dataclass of
# fem/physics/materials.py); a model asks `law_class(material)` what the law needs and
# `make_law(material, inputs)` for the law itself, never an isinstance chain. A law exposes:
#   P, sigma, J           first Piola-Kirchhoff and Cauchy stress, volume ratio (UFL)
#   mixed_up              True: the law takes an independent pressure field (u-p form) and
#                         provides K, mu (fem.Constant) and volumetric_residual(p)
#   creeping              True: the law carries the creep state (Cc^-1, dp) of the return map
#   needs_fibre_direction True: inputs.fibre_direction must be a unit vector field
#   kind                  creep | gel | void | tow: which per-phase results apply
#   outputs()             extra per-phase UFL quantities for the results (name -> expression)
# and, through `quadrature_arrays`, its stress and consistent tangent as quadrature-point arrays.
_LAWS: dict[type, type] = {}


def law_for(material_type: type):
    """Class decorator: register the law of a material dataclass."""
    def register(cls):
        _LAWS[material_type] = cls
        return cls
    return register


def law_class(material) -> type:
    try:
        return _LAWS[type(material)]
    except KeyError:
        raise TypeError(f"no constitutive law registered for material {type(material).__name__}") from None


@dataclass
class LawInputs:
    """What a model hands a law: the mesh (for constants), the deformation gradient F (3x3 UFL),
    the phase's pressure field (u-p laws, else None), the creep state (creeping laws) and the
    fibre direction (tow laws)."""
    mesh: Any
    F: Any
    pressure: Any = None
    creep_state: Any = None        # CreepState
    fibre_direction: Any = None


@dataclass
class CreepState:
    """The quadrature-point state the Li creep law reads: Cc^-1 at t_n (3x3), the converged creep
    increment dp*, theta dt A_eff (fem.Constant) and the explicit part (1 - theta) dt pdot_n."""
    Cc_inv_n: Any
    dp: Any
    dt_A: Any
    dp_explicit: Any


class Law:
    """Defaults of the law interface (see the registry comment above); a law overrides what differs."""
    mixed_up = False
    creeping = False
    needs_fibre_direction = False
    kind = ""

    def outputs(self) -> dict:
        return {}


def make_law(material, inputs: LawInputs):
    return law_class(material).from_material(material, inputs)


def quadrature_arrays(law, F_variable, mesh, cells, points):
    """Stress P (n_cells, n_points, 3, 3) and consistent tangent dP/dF (n_cells, n_points, 3, 3, 3, 3)
    of a law at the quadrature points of the given cells, where the law was built on
    F_variable = ufl.variable(F). A hook for kernels that work on quadrature-point arrays."""
    from dolfinx import fem
    P = fem.Expression(law.P, points).eval(mesh, cells)
    A = fem.Expression(ufl.diff(law.P, F_variable), points).eval(mesh, cells)
    n = len(cells)
    return P.reshape(n, -1, 3, 3), A.reshape(n, -1, 3, 3, 3, 3)


LOG_SERIES_LIMIT = 0.6   # max Frobenius norm of be_bar_tr - I for which the log series is used


LOG_SERIES_TERMS = (17, 15, 13, 11, 9, 7, 5, 3, 1)   # odd powers of Z kept in log_spd


def _dev(A):
    return A - ufl.tr(A) / 3.0 * ufl.Identity(3)


def log_spd(B):
    """log of a symmetric positive-definite 3x3 UFL tensor near I (see module docstring)."""
    I = ufl.Identity(3)
    Z = (B - I) * ufl.inv(B + I)
    Z2 = Z * Z
    acc = 2.0 / LOG_SERIES_TERMS[0] * I
    for k in LOG_SERIES_TERMS[1:]:
        acc = 2.0 / k * I + Z2 * acc
    return Z * acc


def exp_small(A, terms: int = 7):
    """exp of a small symmetric 3x3 UFL tensor (Taylor series, Horner form)."""
    I = ufl.Identity(3)
    acc = I
    for k in range(terms, 0, -1):
        acc = I + A * acc / k
    return acc


def volumetric_pressure(K, J):
    """U'(J) = K (J - 1) (MPa): the hydrostatic pressure of the volumetric energy U = K/2 (J - 1)^2."""
    return K * (J - 1.0)


def volumetric_residual(K, J, pressure):
    """Weak form of p = U'(J), divided by K (dimensionless): the pressure equation of every u-p
    phase (Li, gel). Linear in J, so it is an exact discrete volume balance (module docstring)."""
    return (volumetric_pressure(K, J) - pressure) / K


class LawConstants:
    """The material numbers as UFL constants (fem.Constant), so that a form is compiled once and
    reused for every parameter value (sweeps, calibration) instead of being JIT-compiled again."""

    def __init__(self, mesh, mat: LiCreep):
        from dolfinx import fem
        self.mu = fem.Constant(mesh, mat.shear_modulus_MPa)
        self.K = fem.Constant(mesh, mat.bulk_modulus_MPa)
        self.n = fem.Constant(mesh, mat.creep_n)
        self.sigma_y = fem.Constant(mesh, mat.threshold_stress_MPa)


@law_for(LiCreep)
class CreepLaw(Law):
    """UFL expressions of the law, given the deformation gradient F (3x3 UFL) and state."""
    mixed_up, creeping, kind = True, True, "creep"

    @classmethod
    def from_material(cls, mat: LiCreep, inp: LawInputs) -> "CreepLaw":
        st = inp.creep_state
        return cls(LawConstants(inp.mesh, mat), inp.F, st.Cc_inv_n, st.dp, st.dt_A, inp.pressure, st.dp_explicit)

    @property
    def K(self):
        return self.c.K

    @property
    def mu(self):
        return self.c.mu

    def __init__(self, c: LawConstants, F, Cc_inv_n, dp_star, dt_A, pressure, dp_explicit=0.0):
        """c: material constants; F: 3x3 deformation gradient; Cc_inv_n: 3x3 state at t_n;
        dp_star: pointwise converged creep increment; dt_A: Constant = theta * dt * A_eff (MPa^-n);
        pressure: hydrostatic Cauchy stress field p (MPa, positive in tension) of the u-p form;
        dp_explicit: the explicit part (1 - theta) dt pdot_n of the increment (0 for backward Euler)."""
        self.c = c
        mu, n, sy = c.mu, c.n, c.sigma_y
        self.F = F
        self.J = ufl.det(F)
        self.Fbar = self.J ** (-1.0 / 3.0) * F
        be_tr = self.Fbar * Cc_inv_n * self.Fbar.T
        X = be_tr - ufl.Identity(3)
        self.trial_distance = ufl.sqrt(ufl.inner(X, X))   # must stay <= LOG_SERIES_LIMIT
        self.mubar = mu                                    # Hencky: the return is linear in dp
        self.s_tr = mu * _dev(log_spd(be_tr))
        # von Mises of the trial Kirchhoff stress; the tiny floor keeps the derivative finite at s = 0
        self.q_tr = ufl.sqrt(1.5 * ufl.inner(self.s_tr, self.s_tr) + (1e-14 * mu) ** 2)

        def over(dp):
            x = self.q_tr - 3.0 * self.mubar * dp - sy
            return ufl.conditional(ufl.gt(x, 0.0), x, 0.0)

        g = dp_star - dp_explicit - dt_A * over(dp_star) ** n
        dg = 1.0 + dt_A * n * over(dp_star) ** (n - 1.0) * 3.0 * self.mubar
        self.dp = dp_star - g / dg
        self.s = self.s_tr * (1.0 - 3.0 * self.mubar * self.dp / self.q_tr)
        self.tau = self.s + self.J * pressure * ufl.Identity(3)
        self.P = self.tau * ufl.inv(F).T                      # first Piola-Kirchhoff stress
        self.sigma = self.tau / self.J                         # Cauchy stress
        self.von_mises = ufl.sqrt(1.5 * ufl.inner(self.s, self.s)) / self.J
        be_new = exp_small(self.s / mu)
        Fbar_inv = ufl.inv(self.Fbar)
        self.Cc_inv_new = Fbar_inv * be_new * Fbar_inv.T

    def volumetric_residual(self, pressure):
        return volumetric_residual(self.c.K, self.J, pressure)


def solve_creep_increment(q_tr: np.ndarray, mubar: np.ndarray, dt_A: float, n: float,
                          sigma_y: float = 0.0, dp_explicit: np.ndarray | None = None,
                          rtol: float = 1e-12, max_it: int = 300) -> np.ndarray:
    """Pointwise root dp >= 0 of  dp = dp0 + dt_A <q_tr - 3 mubar dp - sigma_y>^n  (vectorised),
    dp0 = dp_explicit >= 0 (the explicit part of a theta-method step; 0 for backward Euler).

    Shifting the trial state by the explicit part, y_tr' = y_tr - 3 mubar dp0, and writing
    y = q - sigma_y (over-stress after return): h(y) = (y_tr' - y)/(3 mubar) - dt_A y^n.
    h is decreasing and concave on [0, y_tr'], so Newton started from an upper bound of the root
    decreases monotonically to it (no safeguard needed). Returns dp = dp0 + (y_tr' - y)/(3 mubar).
    Where the explicit part alone overshoots (y_tr' <= 0) the result is dp = dp0.
    """
    q_tr = np.asarray(q_tr, dtype=float)
    mubar = np.asarray(mubar, dtype=float)
    dp0 = np.zeros_like(q_tr) if dp_explicit is None else np.asarray(dp_explicit, dtype=float)
    dp = dp0.copy()
    y_tr = q_tr - sigma_y - 3.0 * mubar * dp0
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
    dp[active] += d
    return dp


# ---------------------------------------------------------------------- composite phases
# The laws of the other G-LiCFC phases (parameters and sources: fem/physics/materials.py). Each gives the
# first Piola-Kirchhoff stress P (MPa) and the Cauchy stress sigma of a deformation gradient F.

@law_for(GelNeoHookean)
class GelLaw(Law):
    """Gel polymer electrolyte: neo-Hookean deviatoric part, the volumetric U(J) of the Li law in the
    u-p form (the same pressure field and volumetric residual as the Li law):
        tau = mu dev(b_bar) + J p I,   b_bar = J^-2/3 F F^T,   p = U'(J) = K (J - 1) weakly."""

    mixed_up, kind = True, "gel"

    @classmethod
    def from_material(cls, mat, inp: LawInputs) -> "GelLaw":
        return cls(inp.mesh, mat, inp.F, inp.pressure)

    def __init__(self, mesh, mat, F, pressure):
        from dolfinx import fem
        self.mu = fem.Constant(mesh, mat.shear_modulus_MPa)
        self.K = fem.Constant(mesh, mat.bulk_modulus_MPa)
        self.J = ufl.det(F)
        b_bar = self.J ** (-2.0 / 3.0) * F * F.T
        self.tau = self.mu * _dev(b_bar) + self.J * pressure * ufl.Identity(3)
        self.P = self.tau * ufl.inv(F).T
        self.sigma = self.tau / self.J

    def volumetric_residual(self, pressure):
        return volumetric_residual(self.K, self.J, pressure)


@law_for(SoftVoid)
class SoftVoidLaw(Law):
    """Pore as a soft compressible neo-Hookean solid (displacement form):
        P = mu (F - F^-T) + lambda ln(J) F^-T."""
    kind = "void"

    @classmethod
    def from_material(cls, mat, inp: LawInputs) -> "SoftVoidLaw":
        return cls(inp.mesh, mat, inp.F)

    def __init__(self, mesh, mat, F):
        from dolfinx import fem
        E, nu = mat.youngs_modulus_MPa, mat.poisson_ratio
        self.mu = fem.Constant(mesh, E / (2.0 * (1.0 + nu)))
        self.lmbda = fem.Constant(mesh, E * nu / ((1.0 + nu) * (1.0 - 2.0 * nu)))
        self.J = ufl.det(F)
        FinvT = ufl.inv(F).T
        self.P = self.mu * (F - FinvT) + self.lmbda * ufl.ln(self.J) * FinvT
        self.sigma = self.P * F.T / self.J


@law_for(TowElastic)
class TowLaw(Law):
    """Carbon tow: transversely isotropic St Venant-Kirchhoff about the reference fibre direction a
    (unit vector field), S = C : E with E = (F^T F - I)/2, in Spencer's invariant form
        S = lam tr(E) I + 2 mu_T E + alpha [(a.E a) I + tr(E) A] + 2 (mu_L - mu_T)(A E + E A) + beta (a.E a) A,
    A = a (x) a. The five moduli follow from the 6x6 stiffness of TowElastic.stiffness() (fibre axis 1):
    lam = C23, mu_T = C44, mu_L = C66, alpha = C12 - C23, beta = C11 - lam - 2 alpha - 4 mu_L + 2 mu_T
    (checked against the 6x6 matrix in tests/unit/test_laws.py)."""

    needs_fibre_direction, kind = True, "tow"

    @classmethod
    def from_material(cls, mat, inp: LawInputs) -> "TowLaw":
        return cls(inp.mesh, mat, inp.F, inp.fibre_direction)

    def outputs(self) -> dict:
        return {"fibre_stress": self.fibre_stress}

    def __init__(self, mesh, mat, F, a):
        from dolfinx import fem
        C = mat.stiffness()
        lam, muT, muL = C[1, 2], C[3, 3], C[5, 5]
        alpha = C[0, 1] - lam
        beta = C[0, 0] - lam - 2.0 * alpha - 4.0 * muL + 2.0 * muT
        self.moduli = {"lambda": lam, "mu_T": muT, "mu_L": muL, "alpha": alpha, "beta": beta}
        c = {k: fem.Constant(mesh, float(v)) for k, v in self.moduli.items()}
        I = ufl.Identity(3)
        A = ufl.outer(a, a)
        E = 0.5 * (F.T * F - I)
        trE, aEa = ufl.tr(E), ufl.inner(a, E * a)
        S = (c["lambda"] * trE * I + 2.0 * c["mu_T"] * E + c["alpha"] * (aEa * I + trE * A)
             + 2.0 * (c["mu_L"] - c["mu_T"]) * (A * E + E * A) + c["beta"] * aEa * A)
        self.J = ufl.det(F)
        self.P = F * S
        self.sigma = F * S * F.T / self.J
        n = F * a
        self.fibre_stress = ufl.inner(n, self.sigma * n) / ufl.inner(n, n)   # Cauchy stress along the fibre


def von_mises(sigma):
    s = _dev(sigma)
    return ufl.sqrt(1.5 * ufl.inner(s, s))
