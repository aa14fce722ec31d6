"""The effective viscoplastic law of the G-LiCFC ply, fitted to the RVE creep tables
(fem/rve/ply_tables.py). Units: mm, MPa, s.

Law (a parallel, two-branch rheology; small strain here, its finite-strain form in the disc is
fem/physics/laws.py PlyCreepLaw with the kernel fem/physics/creep_point.py LAW_HILL):
    sigma = C_s : eps  +  p I + s_b,
* C_s: the SKELETON, elastic, tetragonal about z (C11 = C22, C12, C13 = C23, C33, C44 = C55, C66; Voigt,
  engineering shear): the tows and whatever the Li cannot relax (the Li confined between them);
* the Li BRANCH: deviatoric stress s_b with one shear modulus per Hill mode (axial mu_b, in-plane
  normal, in-plane shear, transverse shear: `hill_return`), Hill-Norton creep edot_c = A_b q^(n_b-1)
  3/2 H s_b, q^2 = 3/2 sum h_k |P_k s_b|^2 (h_axial = 1); pressure p = K_b (tr eps + c) with the pore
  closure c (`closure_at_volume_strain`, rate B <-p - p_c c/(phi - c)>^m (phi - c): fem/physics/pore_closure.py; the
  back-pressure modulus p_c of the squeezed pores since FIT_VERSION 10, fitted last by the exact minimax
  from the FIT_VERSION 9 law, `fitted_ply`); K_b fitted with the pores (FIT_VERSION 8,
  `fit(bulk_free=True)` as `fitted_ply` fits: it is the modulus that drives the closure and carries
  the pressure once the pores are shut; fixed at K_B_FRACTION of the Reuss bulk modulus of the
  instantaneous cell it left the confined curves 12.5 % off on the literature table), else fixed there;
* (branches=2, FIT_VERSION 7, the default of `fitted_ply`) a SECOND Li branch in parallel, deviatoric
  only: modulus mu_b2 (the same modal ratios), its own prefactor A_b2, the same n_b and Hill weights
  (branch2_free: its own n_b2 and Hill weights). One Norton branch has one sharp knee; the cell
  relaxes over a wider range of strain (the Li films between the tows and the overlayers yield at
  different mean strains), a generalised Maxwell model with two branches spreads it.
Law constants: NAMES + MODAL_NAMES (+ BRANCH2_NAMES) + log10 B (+ closure m with closure_exponent)
(+ log10 p_c with back_pressure);
14 free by default with one branch (the in-plane normal mode tied to the in-plane shear mode,
m = n_b), 16 with two; hill=False / modal_moduli=False give the earlier laws (FIT_VERSION 3:
isotropic branch).

Fit: least squares (scipy.optimize.least_squares, trust-region reflective; the seven moduli as
logarithms, so they stay positive without bounds; the Hill weights within HILL_LOG_BOUND decades,
the modal moduli within 2 decades) of the mean stress of every table curve, the loaded component
(and the lateral stress of the confined test), each point divided by the largest |stress| of its
curve; then (minimax, as `fitted_ply` fits) least squares on sign(r)|r|^(p/2) for p in MINIMAX_POWERS (the
p-norm of the errors, towards the minimax fit), keeping the best worst curve; then (exact_minimax,
FIT_VERSION 9) the worst curve itself is minimised (`exact_minimax_fit`, SLSQP on the epigraph form). The branch is
transversely isotropic by default (transverse_branch: the in-plane modes share weight and modulus). The material point is
driven by the same mixed control as the cell (prescribed strain rates, stress-free components
solved by Newton). The table's CREEP curves (a held through-thickness stress, ply_tables.creep_curves;
`fit_curves`) enter in the through-thickness strain, each point divided by the curve's largest
|strain|. The criterion of issue 18: every curve within 5 % of its largest stress (strain, for the
creep curves) (`max_rel_error` per curve).

For the axisymmetric disc the skeleton is averaged over in-plane rotations (fem/rve/ply.py
isotropise); `isotropisation` reports what that changes: the in-plane shear response of the
fitted (tetragonal) law against the isotropised one, for the shear_xy curves.
"""
from __future__ import annotations

import hashlib
import json
import math
import time
from pathlib import Path

import numpy as np

from fem.physics.pore_closure import closure_at_volume_strain
from fem.rve.backus import MANDEL_W as W
from fem.rve.backus import mandel_to_voigt, voigt_to_mandel
from fem.rve.creep import I_DEV, M, norton_return

K_B_FRACTION = 0.25
K_B_BOUNDS = (0.01, 1.0)      # the fitted K_b (bulk_free) within these fractions of the cell's Reuss bulk modulus
NAMES = ("C11_MPa", "C12_MPa", "C13_MPa", "C33_MPa", "C44_MPa", "C66_MPa", "mu_b_MPa", "log10_A_b", "n_b",
         "log10_h_inplane_normal", "log10_h_inplane_shear", "log10_h_transverse_shear")
HILL_LOG_BOUND = 3.0          # |log10 h| <= 3 in the fit
# modal_moduli: the branch's shear modulus per mode, relative to mu_b (the axial mode's)
MODAL_NAMES = ("log10_mu_ratio_inplane_normal", "log10_mu_ratio_inplane_shear", "log10_mu_ratio_transverse_shear")
BRANCH2_NAMES = ("mu_b2_MPa", "log10_A_b2")   # a second Li branch (fit(branches=2)): same n_b, Hill weights, modal ratios
# ... with its own exponent and Hill weights (branch2_free; the in-plane modes share one weight)
BRANCH2_FREE_NAMES = BRANCH2_NAMES + ("n_b2", "log10_h2_inplane", "log10_h2_transverse_shear")
ISOTROPIC_NAMES = NAMES[:9]   # the isotropic (von Mises) branch: FIT_VERSION 3 and hill=False
FIT_VERSION = 10   # 6 (2026-12-04): Hill-Norton branch (transversely isotropic) with modal moduli, closure m = n_b, p-norm passes;
#                   7 (2026-12-04): two Li branches (fitted_ply: the one-branch fit, then the second branch from it)
#                   8 (2026-12-05): the branch's bulk modulus K_b fitted (bulk_free) instead of K_B_FRACTION of the cell's Reuss bulk modulus
#                   9 (2026-12-05): the exact minimax (exact_minimax) after the p-norm passes
#                  10 (2026-12-05): the pores close against their back-pressure (back_pressure: p_c), a last exact minimax
MINIMAX_POWERS = (4.0, 8.0, 16.0, 32.0)
MINIMAX_SLSQP_ITER = 60          # iterations of the exact minimax (fit(exact_minimax=True)), each one Jacobian
BACK_PRESSURE_START_MPA = 0.1    # fit(back_pressure=True): the start of p_c (from 0.01 MPa the literature fit ends the same, 3.26 %)
BACK_PRESSURE_LOG_BOUNDS = (-4.0, 3.0)   # log10 p_c (MPa) within these in the fit
MINIMAX_NFEV = 30               # evaluations per p-norm pass (each also costs a Jacobian per iteration)


def tetragonal_voigt(c) -> np.ndarray:
    C11, C12, C13, C33, C44, C66 = c
    C = np.zeros((6, 6))
    C[0, 0] = C[1, 1] = C11
    C[0, 1] = C[1, 0] = C12
    C[0, 2] = C[2, 0] = C[1, 2] = C[2, 1] = C13
    C[2, 2] = C33
    C[3, 3] = C[4, 4] = C44
    C[5, 5] = C66
    return C


def reuss_bulk(C: np.ndarray) -> float:
    return float(1.0 / np.linalg.inv(C)[:3, :3].sum())


# --------------------------------------------------------------------------- Hill-type Norton branch
# The deviatoric space of a material with a symmetry axis z splits into orthogonal modes (Mandel
# projectors, summing to I_DEV): AXIAL (the deviator along z, e.g. unconfined compression through the
# thickness), IN-PLANE NORMAL (xx - yy), IN-PLANE SHEAR (xy) and TRANSVERSE SHEAR (yz, xz). The Hill
# (1948) equivalent stress weighs them:  q^2 = 3/2 sum_k h_k |P_k s|^2,  h_axial = 1 (so q = |sigma_zz|
# in uniaxial stress along z and A_b, n_b are those of through-thickness creep); tetragonal symmetry
# (the plain weave) keeps h_inplane_normal and h_inplane_shear apart, transverse isotropy (the
# axisymmetric disc) makes them equal. Associated flow: epsdot_c = A q^n dq/ds = A q^(n-1) 3/2 H s.
_NA = np.array([-1.0, -1.0, 2.0, 0.0, 0.0, 0.0]) / math.sqrt(6.0)
_ND = np.array([1.0, -1.0, 0.0, 0.0, 0.0, 0.0]) / math.sqrt(2.0)
HILL_PROJECTORS = np.array([np.outer(_NA, _NA), np.outer(_ND, _ND), np.diag([0.0, 0, 0, 0, 0, 1.0]),
                            np.diag([0.0, 0, 0, 1.0, 1.0, 0])])
HILL_MODES = ("axial", "inplane_normal", "inplane_shear", "transverse_shear")


def hill_return(eps, epsc_n, mu, K, A_dt, n, h):
    """Backward-Euler return of the Hill-Norton branch at one point: eps, epsc_n Mandel (6,), h the
    four mode weights (HILL_MODES), mu the shear modulus, or four (one per mode: the branch's
    elasticity then has the same eigen-projectors, C_b = K m m + sum 2 mu_k P_k). Elastic predictor
    s_tr_k = 2 mu_k P_k (eps - epsc_n); in the mode basis the return is diagonal, s_k = s_tr_k / D_k,
    D_k = 1 + 3 mu_k h_k x, x = dp / q = A_dt q^(n-1), and q solves
    f(q) = q^2 - 3/2 sum h_k |s_tr_k|^2 / D_k(q)^2 = 0  (f increases from -q_tr^2 at 0 to >= 0 at q_tr:
    Newton safeguarded by bisection). One mu and h = 1: the radial return of norton_return.
    Consistent tangent: C = K m m + sum 2 mu_k P_k / D_k - 2 (n - 1) (x / q) / d  u u,
    u = sum 3 mu_k h_k s_k / D_k,  d = 2 q + 9 (n - 1) (x / q) sum mu_k h_k^2 |s_k|^2 / D_k.
    Returns sigma (6,), tangent (6, 6), creep strain (6,)."""
    h = np.asarray(h, float)
    mu_k = np.broadcast_to(np.asarray(mu, float), (4,))
    tr = eps[:3].sum()
    e_tr = I_DEV @ (eps - epsc_n)
    s_tr_k = 2.0 * mu_k[:, None] * np.einsum("kij,j->ki", HILL_PROJECTORS, e_tr)     # (4, 6)
    a = np.einsum("ki,ki->k", s_tr_k, s_tr_k)
    q_tr = math.sqrt(1.5 * float(h @ a))
    if q_tr <= 1e-14 or A_dt <= 0.0:
        return (K * tr * M + s_tr_k.sum(axis=0), K * np.outer(M, M) + np.einsum("k,kij->ij", 2.0 * mu_k, HILL_PROJECTORS),
                epsc_n.copy())
    m3h = 3.0 * mu_k * h

    def f(q):
        x = A_dt * q ** (n - 1.0)
        D = 1.0 + m3h * x
        S = 1.5 * float(h @ (a / D ** 2))
        dS = -1.5 * float(h @ (2.0 * a * m3h / D ** 3)) * (n - 1.0) * A_dt * q ** (n - 2.0)
        return q * q - S, 2.0 * q - dS

    lo, hi = 0.0, q_tr
    # start: the isotropic root with the smallest weight (an upper bound-ish of q), inside the bracket
    q = np.float64(min(q_tr, (q_tr / (m3h.min() * A_dt)) ** (1.0 / n)))   # numpy: overflow -> inf
    for _ in range(200):
        g, dg = f(q)
        if g > 0.0:
            hi = q
        else:
            lo = q
        q_new = q - g / dg if dg > 0.0 else 0.5 * (lo + hi)
        if not lo < q_new < hi:
            q_new = 0.5 * (lo + hi)
        if abs(q_new - q) <= 1e-14 * q_tr or hi - lo <= 1e-15 * q_tr:
            q = q_new
            break
        q = q_new
    x = A_dt * q ** (n - 1.0)
    D = 1.0 + m3h * x
    s_k = s_tr_k / D[:, None]
    s = s_k.sum(axis=0)
    u = (m3h / D) @ s_k
    d = 2.0 * q + 9.0 * (n - 1.0) * (x / q) * float((mu_k * h * h / D) @ np.einsum("ki,ki->k", s_k, s_k))
    C = (K * np.outer(M, M) + np.einsum("k,kij->ij", 2.0 * mu_k / D, HILL_PROJECTORS)
         - 2.0 * (n - 1.0) * (x / q) / d * np.outer(u, u))
    return K * tr * M + s, C, epsc_n + e_tr - (s_k / (2.0 * mu_k[:, None])).sum(axis=0)


def isotropic_hill(h) -> np.ndarray:
    """The weights averaged over rotations about z: the in-plane normal and shear modes rotate into
    each other (by twice the angle), so both become their mean; axial and transverse shear stay."""
    h = np.asarray(h, float)
    m = 0.5 * (h[1] + h[2])
    return np.array([h[0], m, m, h[3]])


class PointLaw:
    """The two-branch law at one material point (Mandel vectors inside, Voigt in and out). theta: the
    NAMES in order (9 numbers: an isotropic branch; 12: with the Hill weights theta[9:12]), then, with
    pore closure, log10 B and optionally the closure exponent m (else n_b; phi the cell's pore fraction);
    back_pressure (FIT_VERSION 10): the last constant is log10 p_c (MPa), the back-pressure modulus of
    the squeezed pores (fem/physics/pore_closure.py)."""

    def __init__(self, theta, K_b: float, phi: float = 0.0, branches: int = 1, branch2_free: bool = False,
                 back_pressure: bool = False):
        theta = np.asarray(theta, float)
        self.p_c = 0.0
        if back_pressure:
            self.p_c, theta = 10.0 ** float(theta[-1]), theta[:-1]
        self.branches = branches
        if branches == 2:   # the second branch's (mu_b2, log10 A_b2[, n_b2, log10 h2_inplane,
            # log10 h2_transverse]) follow the 15 law constants
            k = len(BRANCH2_FREE_NAMES) if branch2_free else len(BRANCH2_NAMES)
            if len(theta) < 15 + k:
                raise ValueError(f"a two-branch ply law needs the 15 Hill constants and {k} of its second branch")
            self.mu_b2, self.A_b2 = float(theta[15]), 10.0 ** float(theta[16])
            b2 = theta[15:15 + k]
            theta = np.concatenate([theta[:15], theta[15 + k:]])
        self.Cs = voigt_to_mandel(tetragonal_voigt(theta[:6]))
        self.mu_b, self.A_b, self.n_b, self.K_b = float(theta[6]), 10.0 ** float(theta[7]), float(theta[8]), K_b
        # the law's constants: 9 (isotropic), 12 (+ Hill weights), 15 (+ modal moduli); then at most
        # two closure constants, so the length tells the layout
        n_law = 15 if len(theta) >= 15 else 12 if len(theta) >= 12 else 9
        self.hill = n_law >= 12
        self.h = np.concatenate([[1.0], 10.0 ** theta[9:12]]) if self.hill else np.ones(4)
        self.mu_k = self.mu_b * np.concatenate([[1.0], 10.0 ** theta[12:15]]) if n_law == 15 else self.mu_b
        self.B = 10.0 ** float(theta[n_law]) if len(theta) > n_law and phi > 0.0 else 0.0
        # the closure exponent: its own constant after log10 B, else the branch's n_b
        self.m_c = float(theta[n_law + 1]) if len(theta) > n_law + 1 else self.n_b
        self.phi = phi
        if branches == 2:
            self.n_b2 = float(b2[2]) if branch2_free else self.n_b
            self.h2 = (np.array([1.0, 10.0 ** b2[3], 10.0 ** b2[3], 10.0 ** b2[4]]) if branch2_free else self.h)

    def stress(self, eps_M, epsc_n, dt, c_n=0.0):
        if self.hill and self.branches == 2:
            s, C, e1 = hill_return(eps_M, epsc_n[:6], self.mu_k, self.K_b, self.A_b * dt, self.n_b, self.h)
            s2, C2, e2 = hill_return(eps_M, epsc_n[6:], self.mu_k * (self.mu_b2 / self.mu_b), 0.0,
                                     self.A_b2 * dt, self.n_b2, self.h2)
            s, C, e = s + s2, C + C2, np.concatenate([e1, e2])
        elif self.hill:
            s, C, e = hill_return(eps_M, epsc_n, self.mu_k, self.K_b, self.A_b * dt, self.n_b, self.h)
        else:
            s, C, e, _ = norton_return(eps_M[None], epsc_n[None], self.mu_b, self.K_b, self.A_b * dt, self.n_b, 0.0)
            s, C, e = s[0], C[0], e[0]
        tr = float(eps_M[:3].sum())
        c, p, dp = closure_at_volume_strain(tr, c_n, dt, self.K_b, self.phi, self.B, self.m_c, self.p_c)
        mm = np.outer(M, M)
        sig = self.Cs @ eps_M + s + (p - self.K_b * tr) * M
        return sig, self.Cs + C + (dp - self.K_b) * mm, e, c

    def run(self, control, rate_V, t_end: float, steps: int, closure: list | None = None,
            stress_V=None, strain: list | None = None) -> np.ndarray:
        """Mean-stress history (steps + 1, 6), Voigt, under the mixed control of the cell: the 'strain'
        components at rate_V (1/s), the 'stress' components held at stress_V (MPa, Voigt; default 0,
        applied from the first step as the cell's RveCreep.run does). The pore closure and the strain
        histories are appended to `closure` and `strain` when given."""
        free = [j for j in range(6) if control[j] == "stress"]
        target = np.zeros(6) if stress_V is None else np.asarray(stress_V, float)
        eps_V = np.zeros(6)
        epsc = np.zeros(6 * self.branches)
        c = 0.0
        out = np.zeros((steps + 1, 6))
        dt = t_end / steps
        for k in range(1, steps + 1):
            eps_V = eps_V + np.where(np.array(control) == "strain", rate_V * dt, 0.0)
            for _ in range(30):
                sig_M, C_M, e_new, c_new = self.stress(eps_V / W, epsc, dt, c)
                sig_V = sig_M / W
                r = sig_V[free] - target[free]
                if not free or np.abs(r).max() <= 1e-10 * max(np.abs(sig_V).max(), 1e-6):
                    break
                CV = mandel_to_voigt(C_M)                   # d sigma_V / d eps_V
                eps_V[free] -= np.linalg.solve(CV[np.ix_(free, free)], r)
            epsc, c = e_new, c_new
            out[k] = sig_V
            if closure is not None:
                closure.append(c)
            if strain is not None:
                strain.append(eps_V.copy())
        return out


def point_law(fit: dict) -> PointLaw:
    """The fitted (tetragonal) law at one material point, from a `fit`/`fitted_ply` result (its
    "parameters" are theta, in order)."""
    return PointLaw(list(fit["parameters"].values()), fit["K_b_MPa"], fit.get("porosity", 0.0), fit.get("branches", 1),
                    fit.get("branch2_free", False), "log10_closure_pc_MPa" in fit["parameters"])


def model_curve(law: PointLaw, c: dict) -> np.ndarray:
    """The law's mean-stress history under a table curve's control, rate and steps (Voigt, MPa)."""
    rate = np.zeros(6)
    rate[c["component"]] = np.asarray(c["E"])[-1][c["component"]] / c["t_s"][-1]
    return law.run(c["control"], rate, c["t_s"][-1], len(c["t_s"]) - 1)


def fit_curves(table: dict, creep: bool = True) -> list[dict]:
    """The curves a fit reads: the strain-rate curves, and (creep) the table's creep curves if it has them."""
    return list(table["curves"]) + (list(table.get("creep_curves", [])) if creep else [])


def held_stress_strain(law: PointLaw, control, component: int, stress_MPa: float, t_end: float, steps: int,
                       closure: list | None = None) -> np.ndarray:
    """The law's mean-strain history (steps + 1, 6; Voigt) with the mean stress -stress_MPa on
    `component` held from the first step (the other 'stress' components 0, the 'strain' ones fixed at
    0); the pore closure after each step is appended to `closure` when given."""
    target = np.zeros(6)
    target[component] = -stress_MPa
    strain = [np.zeros(6)]
    law.run(control, np.zeros(6), t_end, steps, closure=closure, stress_V=target, strain=strain)
    return np.asarray(strain)


def creep_model(law: PointLaw, c: dict) -> np.ndarray:
    """The law's mean-strain history under a creep curve of the table (kind "creep": the
    through-thickness stress -stress_MPa held from the first step, fem/rve/ply_tables.py)."""
    return held_stress_strain(law, c["control"], c["component"], c["stress_MPa"], c["t_s"][-1], len(c["t_s"]) - 1)


def _curve_error(law: PointLaw, c: dict):
    """(residuals, max relative error, final value of the cell, of the law) of one table curve: a
    strain-rate curve in stress (the loaded component, and the lateral stress of the confined test),
    divided by its largest |stress|; a creep curve in the through-thickness strain, divided by its largest."""
    j = c["component"]
    creep = c.get("kind") == "creep"
    ref = np.asarray(c["E"] if creep else c["Sigma_MPa"])
    model = creep_model(law, c) if creep else model_curve(law, c)
    if not np.isfinite(model).all():
        raise ValueError("not finite")
    scale = np.abs(ref[:, j]).max()
    r = (model[1:, j] - ref[1:, j]) / scale
    if not creep and c["mode"] == "confined":
        r = np.concatenate([r, (model[1:, 0] - ref[1:, 0]) / scale])
    return r, float(np.abs(r).max()), float(ref[-1, j]), float(model[-1, j])


def residuals(theta, curves, K_b, phi=0.0, power: float = 2.0, unit: float = 1.0, branches: int = 1,
              branch2_free: bool = False, back_pressure: bool = False) -> np.ndarray:
    """Every curve's stress error divided by its largest stress; with
    power p > 2 each residual r becomes sign(r) |r / unit|^(p/2), so that least squares minimises
    sum |r|^p (large p: towards the worst point, the criterion; `unit` ~ the worst error keeps the
    numbers of order one)."""
    res = []
    try:
        law = PointLaw(theta, K_b, phi, branches, branch2_free, back_pressure)
        for c in curves:
            res.append(_curve_error(law, c)[0])
    except (np.linalg.LinAlgError, ValueError, ArithmeticError):   # a parameter set the point cannot integrate
        n = sum(len(cc["t_s"]) - 1 + (len(cc["t_s"]) - 1 if cc["mode"] == "confined" else 0) for cc in curves)
        return np.full(n, 1e3)
    r = np.concatenate(res)
    if power != 2.0:
        r = np.sign(r) * np.abs(r / unit) ** (0.5 * power)
    eig = np.linalg.eigvalsh(tetragonal_voigt(theta[:6]))
    if eig.min() <= 0.0:   # the skeleton must be positive definite
        r = r + 10.0 * (1.0 - eig.min() / max(eig.max(), 1.0))
    return r


def curve_errors(theta, curves, K_b, phi=0.0, branches: int = 1, branch2_free: bool = False,
                 back_pressure: bool = False) -> list[dict]:
    law = PointLaw(theta, K_b, phi, branches, branch2_free, back_pressure)
    out = []
    for c in curves:
        _, err, rve, model = _curve_error(law, c)
        if c.get("kind") == "creep":
            out.append({"mode": c["mode"], "stress_MPa": c["stress_MPa"], "max_rel_error": err,
                        "final_strain_rve": rve, "final_strain_law": model})
        else:
            out.append({"mode": c["mode"], "rate_per_s": c["rate_per_s"], "max_rel_error": err,
                        "final_stress_rve_MPa": rve, "final_stress_law_MPa": model})
    return out


def initial_guess(C_inst: np.ndarray, li) -> np.ndarray:
    """Start: the Li branch carries the cell's transverse shear stiffness (C44, the Li films between
    tows), the skeleton the rest; A_b, n_b those of the Li."""
    mu_b = 0.9 * C_inst[4, 4]
    K_b = K_B_FRACTION * reuss_bulk(C_inst)
    Cs = C_inst - 2 * mu_b * mandel_to_voigt(I_DEV) - K_b * np.outer(M, M)
    c = [Cs[0, 0], Cs[0, 1], Cs[0, 2], Cs[2, 2], max(Cs[4, 4], 0.05 * C_inst[4, 4]), max(Cs[5, 5], 0.05 * C_inst[5, 5])]
    return np.array(c + [mu_b, math.log10(li.creep_A_eff), li.creep_n])


def fit(table: dict, C_inst: np.ndarray, li, progress=None, closure: bool = True, hill: bool = True,
        closure_exponent: bool = False, modal_moduli: bool = True, minimax: bool = False,
        transverse_branch: bool = True, branches: int = 1, start=None,
        branch2_free: bool = False, creep: bool = True, bulk_free: bool = False, K_b_start: float | None = None,
        ls_nfev: int = 2000, exact_minimax: bool = False, back_pressure: bool = False,
        back_pressure_start_MPa: float = BACK_PRESSURE_START_MPA) -> dict:
    """Fit the law to the table's curves; C_inst: the cell's elastic (instantaneous) Voigt stiffness.
    hill: the Li branch with the Hill weights (12 law constants), else isotropic (9); closure_exponent:
    the pore closure's exponent m fitted (default: m = n_b, the exponent of a void closing in a power-law
    matrix; fitted free it took 5.4 / 3.1 on the two tables, a stiffer closure that cost the 30 MPa
    disc 2.4x the time steps over the first 10 s of its hold, for 0.2 pp of fit). The Hill weights are bounded to
    HILL_LOG_BOUND decades about von Mises (a weight that runs to 0 switches its mode's creep off).
    transverse_branch: the in-plane normal and in-plane shear modes share their weight and modulus
    (the branch transversely isotropic, as the axisymmetric disc needs it: only the skeleton is then
    isotropised), else tetragonal. bulk_free (with pores only): the branch's bulk modulus K_b, the
    modulus that drives the pore closure and carries the pressure once the pores are shut, is fitted
    (within K_B_BOUNDS of the cell's Reuss bulk modulus, from K_b_start or K_B_FRACTION of it) instead
    of fixed at K_B_FRACTION; without pores it trades one for one with the skeleton's bulk modulus,
    so it stays fixed. ls_nfev: the evaluations allowed to the least-squares stage (a start that is
    already a fit can go to the p-norm passes at once). exact_minimax (FIT_VERSION 9, as `fitted_ply`
    fits): after the p-norm passes, the worst curve itself is minimised from the best point so far
    (`exact_minimax_fit`); the p-norm passes stop short of it (on the literature table 5.75 % where the
    minimax is 5.59 %). back_pressure (with pores; FIT_VERSION 10): the pores close against the
    back-pressure p_c c/(phi - c) of the squeezed pores (fem/physics/pore_closure.py), log10 p_c (MPa)
    a law constant after log10 B (started at back_pressure_start_MPa unless `start` has it, within
    BACK_PRESSURE_LOG_BOUNDS). ls_nfev = 0: no least-squares stage (`start` is already a fit)."""
    from scipy.optimize import least_squares

    from fem.rve.ply import isotropise
    say = progress or (lambda s: None)
    t0 = time.perf_counter()
    curves = fit_curves(table, creep)
    K_b = K_B_FRACTION * reuss_bulk(C_inst)
    x0 = initial_guess(C_inst, li)
    names = (NAMES + MODAL_NAMES if modal_moduli else NAMES) if hill else ISOTROPIC_NAMES
    if hill:   # start isotropic: h = 1 (and one shear modulus)
        x0 = np.append(x0, np.zeros(6 if modal_moduli else 3))
    if branches == 2:
        if not (hill and modal_moduli):
            raise ValueError("two branches need the Hill branch with modal moduli")
        names = names + (BRANCH2_FREE_NAMES if branch2_free else BRANCH2_NAMES)
        x0[6] *= 0.5   # start: half the modulus, a hundred times faster
        x0 = np.append(x0, [x0[6], x0[7] + 2.0] + ([x0[8], 0.0, 0.0] if branch2_free else []))
    phi = float(table.get("volume_fractions", {}).get("void", 0.0)) if closure else 0.0
    if phi > 0.0:   # the pore-closure rate of a dilute void in the Norton Li (Budiansky, Hutchinson & Slutsky
        # 1982, hydrostatic limit): dV/V dt = 3/2 A (3 |p| / (2 n))^n, i.e. B = 3/2 A (3 / (2 n))^n
        x0 = np.append(x0, math.log10(1.5 * li.creep_A_eff * (1.5 / li.creep_n) ** li.creep_n))
        if closure_exponent:
            x0 = np.append(x0, li.creep_n)
    back_pressure = back_pressure and phi > 0.0
    if back_pressure:
        x0 = np.append(x0, math.log10(back_pressure_start_MPa))
    if start is not None:   # a given start (the fitted law's constants, in x0's order)
        x0 = np.asarray(start, float)
    # the seven moduli (and mu_b2) as logarithms (positive without bounds), the rest as they are
    logged = np.zeros(x0.size, bool)
    logged[:7] = True
    if branches == 2:
        logged[15] = True
    z0 = np.where(logged, np.log(np.maximum(x0, 1e-3)), x0)

    lo, hi = np.full(z0.size, -np.inf), np.full(z0.size, np.inf)
    if hill:
        lo[9:12], hi[9:12] = -HILL_LOG_BOUND, HILL_LOG_BOUND
    if hill and modal_moduli:
        lo[12:15], hi[12:15] = -2.0, 2.0
    if branches == 2 and branch2_free:   # the second branch's exponent and Hill weights
        lo[17], hi[17] = 1.0, 20.0
        lo[18:20], hi[18:20] = -HILL_LOG_BOUND, HILL_LOG_BOUND
    if phi > 0.0 and closure_exponent:
        lo[-1 - back_pressure], hi[-1 - back_pressure] = 1.0, 20.0
    if back_pressure:
        lo[-1], hi[-1] = BACK_PRESSURE_LOG_BOUNDS
    # the free numbers: all, or (transverse_branch) without the in-plane normal mode's, which copy
    # the in-plane shear mode's
    tied = {9: 10, 12: 13} if (hill and transverse_branch) else {}
    if not modal_moduli:
        tied.pop(12, None)
    keep = [i for i in range(z0.size) if i not in tied]
    pos = {i: k for k, i in enumerate(keep)}
    expand = np.array([pos[tied.get(i, i)] for i in range(z0.size)])
    z0, lo, hi = z0[keep], lo[keep], hi[keep]
    bulk_free = bulk_free and phi > 0.0
    K_reuss = reuss_bulk(C_inst)
    if bulk_free:   # log K_b after the law's numbers (not in theta: the fit's "K_b_MPa")
        z0 = np.append(z0, math.log(K_b_start or K_b))
        lo = np.append(lo, math.log(K_B_BOUNDS[0] * K_reuss))
        hi = np.append(hi, math.log(K_B_BOUNDS[1] * K_reuss))
    n_law = len(keep)

    def unpack(z):
        zf = z[:n_law][expand]
        return np.where(logged, np.exp(np.where(logged, zf, 0.0)), zf)

    def bulk(z):
        return math.exp(z[n_law]) if bulk_free else K_b

    def res(z, power=2.0, unit=1.0):
        return residuals(unpack(z), curves, bulk(z), phi, power, unit, branches, branch2_free, back_pressure)

    def judge(z):
        """(law constants, K_b, per-curve errors, worst curve) at the optimiser's vector z."""
        th_z, K_z = unpack(z), bulk(z)
        errs_z = curve_errors(th_z, curves, K_z, phi, branches, branch2_free, back_pressure)
        return th_z, K_z, errs_z, max(e["max_rel_error"] for e in errs_z)

    def solve(z_start, power=2.0, unit=1.0):
        # the p-norm passes refine a converged start: MINIMAX_NFEV evaluations each (the p = 32 pass
        # of the calibrated table ran past 15 min without one)
        return least_squares(lambda z: res(z, power, unit), z_start,
                             method="trf", x_scale="jac", diff_step=1e-4,
                             max_nfev=ls_nfev if power == 2.0 else MINIMAX_NFEV, xtol=1e-10, ftol=1e-12, bounds=(lo, hi))

    if ls_nfev > 0:
        sol = solve(z0)
        (th, K_fit, errs, worst), z_best = judge(sol.x), sol.x
        say(f"ply law fit, least squares: worst curve {100 * worst:.2f} %")
    else:   # the start is the fit so far
        if start is None:
            raise ValueError("fit(ls_nfev=0) needs a start")
        sol, worst = None, math.inf
    if start is not None:   # the start is a candidate too (the two-branch fit starts from the one-branch law)
        th0, K0, errs0, worst0 = judge(z0)
        if worst0 < worst:
            th, K_fit, errs, worst, z_best = th0, K0, errs0, worst0, z0
    # the criterion is the worst curve, least squares weighs all points alike: then minimise the
    # p-norm of the errors for growing p (MINIMAX_POWERS, each from the last), keeping the best worst curve
    nfev = sol.nfev if sol is not None else 0
    z = sol.x if sol is not None else z_best
    for p_norm in (MINIMAX_POWERS if minimax else ()):
        sol_k = solve(np.clip(z, lo + 1e-9, hi - 1e-9), p_norm, worst)
        nfev += sol_k.nfev
        z = sol_k.x
        th_k, K_k, errs_k, worst_k = judge(sol_k.x)
        say(f"ply law fit, p-norm {p_norm:g}: worst curve {100 * worst_k:.2f} %")
        if worst_k < worst:
            sol, th, K_fit, errs, worst, z_best = sol_k, th_k, K_k, errs_k, worst_k, sol_k.x
    minimax_info = None
    if exact_minimax:   # the worst curve itself, from the best point so far
        z_mm, minimax_info = exact_minimax_fit(res, np.clip(z_best, lo + 1e-9, hi - 1e-9), lo, hi)
        nfev += minimax_info["nfev"]
        th_m, K_m, errs_m, worst_m = judge(z_mm)
        minimax_info["worst_curve"] = worst_m
        say(f"ply law fit, exact minimax (SLSQP, {minimax_info['iterations']} iterations): worst curve {100 * worst_m:.2f} %")
        if worst_m < worst:
            th, K_fit, errs, worst = th_m, K_m, errs_m, worst_m
    say(f"ply law fit: {nfev} evaluations, worst curve {100 * worst:.2f} % of its largest stress (strain: creep) "
        f"({time.perf_counter() - t0:.1f} s)")
    Cs = tetragonal_voigt(th[:6])
    Ci = isotropise(Cs)
    # isotropisation error: the in-plane shear curves of the isotropised law
    th_iso = np.array([Ci[0, 0], Ci[0, 1], Ci[0, 2], Ci[2, 2], Ci[4, 4], Ci[5, 5], *th[6:]])
    hill_iso = None
    if hill:   # the in-plane Hill weights averaged as the skeleton is
        hill_iso = isotropic_hill(np.concatenate([[1.0], 10.0 ** th[9:12]]))
        th_iso[9:12] = np.log10(hill_iso[1:])
        if modal_moduli:   # the in-plane moduli: their mean, as the elastic average over rotations
            th_iso[12:14] = math.log10(0.5 * (10.0 ** th[12] + 10.0 ** th[13]))
    errs_iso = [e for e in curve_errors(th_iso, curves, K_fit, phi, branches, branch2_free, back_pressure)]
    return {"version": FIT_VERSION, "branch": "hill" if hill else "isotropic", "branches": branches, "branch2_free": branch2_free,
            "parameters": dict(zip(names + (("log10_B",) + (("closure_m",) if closure_exponent else ())
                                            + (("log10_closure_pc_MPa",) if back_pressure else ()) if phi > 0.0 else ()),
                                   map(float, th))),
            "hill_isotropised": None if hill_iso is None else dict(zip(HILL_MODES, map(float, hill_iso))),
            "moduli_ratios_isotropised": (dict(zip(HILL_MODES, [1.0] + [float(10.0 ** v) for v in th_iso[12:15]]))
                                          if hill and modal_moduli else None),
            "K_b_MPa": K_fit, "K_b_fitted": bulk_free, "K_b_fraction_of_cell_reuss": K_fit / K_reuss, "porosity": phi,
            "curves": errs, "max_rel_error": worst, "criterion": 0.05, "meets_criterion": bool(worst <= 0.05),
            "max_rel_error_rate_curves": max(e["max_rel_error"] for e in errs if "rate_per_s" in e),
            "max_rel_error_creep_curves": max((e["max_rel_error"] for e in errs if "stress_MPa" in e), default=None),
            "skeleton_isotropised_MPa": {"C11_MPa": float(Ci[0, 0]), "C12_MPa": float(Ci[0, 1]),
                                         "C13_MPa": float(Ci[0, 2]), "C33_MPa": float(Ci[2, 2]),
                                         "C44_MPa": float(Ci[4, 4])},
            "isotropisation": {"curves": errs_iso, "max_rel_error": max(e["max_rel_error"] for e in errs_iso)},
            "instantaneous_cell_stiffness_MPa": np.asarray(C_inst).tolist(), "nfev": int(nfev),
            "cost": None if sol is None else float(sol.cost), "optimizer": None if sol is None else str(sol.message),
            "exact_minimax": minimax_info, "back_pressure": back_pressure,
            "wall_s": time.perf_counter() - t0}


def exact_minimax_fit(res, z0, lo, hi, maxiter: int = MINIMAX_SLSQP_ITER):
    """Minimise max_i |res_i(z)| within the bounds lo <= z <= hi: the epigraph form, min t subject to
    -t <= res_i(z) <= t, by SLSQP (scipy), the residuals' Jacobian by forward differences (one per
    iterate, shared by both constraint sets). At its solution the worst curves are equal
    (equioscillation: on the literature table 9 of 17 curves at 5.58-5.59 %). Returns (z, info)."""
    from scipy.optimize import minimize
    cache: dict = {}
    count = [0]

    def RJ(z):
        key = z.tobytes()
        if key not in cache:
            r = res(z)
            J = np.empty((r.size, z.size))
            for j in range(z.size):
                h = 1e-5 * max(1.0, abs(z[j]))
                if z[j] + h > hi[j]:
                    h = -h
                zz = z.copy()
                zz[j] += h
                J[:, j] = (res(zz) - r) / h
            count[0] += z.size + 1
            cache.clear()
            cache[key] = (r, J)
        return cache[key]

    def cons(x):
        r = RJ(x[:-1])[0]
        return np.concatenate([x[-1] - r, x[-1] + r])

    def cons_jac(x):
        r, J = RJ(x[:-1])
        one = np.ones((r.size, 1))
        return np.block([[-J, one], [J, one]])
    e = np.zeros(z0.size + 1)
    e[-1] = 1.0
    x0 = np.append(z0, np.abs(RJ(z0)[0]).max())   # SLSQP's first constraint call reuses this Jacobian
    bounds = [(a if np.isfinite(a) else None, b if np.isfinite(b) else None) for a, b in zip(lo, hi)] + [(0.0, None)]
    sol = minimize(lambda x: x[-1], x0, jac=lambda x: e, constraints=[{"type": "ineq", "fun": cons, "jac": cons_jac}],
                   bounds=bounds, method="SLSQP", options={"maxiter": maxiter, "ftol": 1e-7})
    return sol.x[:-1], {"iterations": int(sol.nit), "nfev": count[0], "message": str(sol.message)}


def two_branch_start(one: dict, mu_ratio: float = 1.0, log10_speedup: float = 2.0, free: bool = False) -> list[float]:
    """The start of the two-branch fit: the fitted one-branch law (`one`, a fit result with the Hill
    branch and modal moduli) and a second branch of mu_ratio x its modulus creeping 10^log10_speedup
    times faster (the cell relaxes over a wider range of strain than one Norton branch: its Li films
    between the tows yield before its overlayers)."""
    th = list(one["parameters"].values())
    if len(th) < 15:
        raise ValueError("the two-branch start needs a one-branch fit with the Hill branch and modal moduli")
    b2 = [mu_ratio * th[6], th[7] + log10_speedup] + ([th[8], th[10], th[11]] if free else [])
    return th[:15] + b2 + th[15:]


def cell_elastic_stiffness(table: dict, materials: dict) -> np.ndarray:
    """The periodic elastic stiffness of the table's cell (fem/rve/solve.py), Voigt, MPa."""
    import dolfinx_solver  # noqa: F401
    from mpi4py import MPI

    from fem.rve.config import RveStudy
    from fem.rve.ply_tables import li_region_cell
    from fem.rve.solve import effective_stiffness
    from meshes.composite import CompositeGeometry
    from meshes.rve import WeaveCell, load_mesh
    comp = CompositeGeometry(**table["composite"])
    cell = WeaveCell(li_region_cell(comp, table["mesh_size_mm"]))
    mesh, ct, _ = load_mesh(cell, MPI.COMM_SELF)
    st = RveStudy("ply", cell, materials, bounds=False)
    r = effective_stiffness(mesh, ct, cell.box, st.tag_materials(), st.fibre_direction(), bcs=("periodic",))
    return np.asarray(r["stiffness"]["periodic"])


def fitted_ply(table_path: Path, materials: dict, progress=None, data_dir: Path | None = None) -> dict:
    """The fit of a table file, stored as versioned JSON beside the table (studies/data/plyfit_<key>.json,
    keyed by the table's bytes and FIT_VERSION; `data_dir` to put it elsewhere): a fit costs 15-35 min
    on one core, so the fits of the package's tables are committed with them."""
    from fem.stepping.outputs import atomic_write_text
    raw = Path(table_path).read_bytes()
    key = hashlib.sha1(raw + json.dumps(FIT_VERSION).encode()).hexdigest()[:16]
    path = Path(data_dir or Path(table_path).parent) / f"plyfit_{key}.json"
    if path.exists():
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            pass
    table = json.loads(raw)
    C_inst = cell_elastic_stiffness(table, materials)
    say = progress or (lambda s: print(s, flush=True))
    say(f"fitting the ply law to {table_path} (once; 15-35 min on one core) ...")
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):   # the optimisers' trial points
        one = fit(table, C_inst, materials["li"], say, bulk_free=True)   # least squares only: the start of the two-branch fit
        say("... and the two-branch law from it")
        two = fit(table, C_inst, materials["li"], say, minimax=True, branches=2, start=two_branch_start(one),
                  bulk_free=True, K_b_start=one["K_b_MPa"], exact_minimax=True)
        say("... and the pores' back-pressure from it")
        out = fit(table, C_inst, materials["li"], say, branches=2, bulk_free=True, K_b_start=two["K_b_MPa"],
                  start=list(two["parameters"].values()) + [math.log10(BACK_PRESSURE_START_MPA)], ls_nfev=0,
                  exact_minimax=True, back_pressure=True)
    out["one_branch"] = {"fit": "least squares", "parameters": one["parameters"], "K_b_MPa": one["K_b_MPa"],
                         "max_rel_error": one["max_rel_error"],
                         "curves": one["curves"], "wall_s": one["wall_s"]}
    out["without_back_pressure"] = {"fit": "least squares, p-norm passes, exact minimax (FIT_VERSION 9)",
                                    "parameters": two["parameters"], "K_b_MPa": two["K_b_MPa"],
                                    "max_rel_error": two["max_rel_error"], "curves": two["curves"],
                                    "exact_minimax": two["exact_minimax"], "wall_s": two["wall_s"]}
    out["table"] = str(table_path)
    atomic_write_text(path, json.dumps(out, indent=1) + "\n")
    return out
