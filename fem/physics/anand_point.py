"""The Anand-type Li law (LiAnand, fem/physics/materials.py) at one material point: the scalar return
map of the exponential-map J2 update, compiled with numba. Units: MPa, s.

It is the counterpart of `solve_increment` in fem/physics/creep_point.py: the trial state, the radial
return s = s_tr (1 - 3 mu dp / q_tr) and the consistent tangent are the same; only the scalar
equation for the creep increment dp changes, and the flow resistance s becomes a second state
variable per point.

Equations (q = von Mises Kirchhoff stress, p = equivalent tensile plastic strain, nu = pdot):
    nu   = nu0 (q / s)^(1/m)                       flow_form "power" (Narayan & Anand 2018), or
    nu   = nu0 [sinh(xi q / s)]^(1/m)              flow_form "sinh"  (Anand 1982),
    sdot = H0 phi(1 - s/s*) nu,   phi(x) = |x|^a sign(x),   s* = S_tilde (nu / nu0)^n,
with nu0 = A exp(-Q/(R T)). Equivalently q = P(nu, s): the flow stress at rate nu and resistance s,
P = s (nu/nu0)^m (power) or (s/xi) asinh((nu/nu0)^m) (sinh).

Time integration: the theta-method of creep_point.py for both p and s, with the explicit parts
    dp0 = (1 - theta) dt nu_n,   s_b = s_n + (1 - theta) dt sdot_n        (`anand_rates` at t_n)
(theta = 1, backward Euler: dp0 = 0, s_b = s_n). With d = dp - dp0 = theta dt nu_{n+1} the step solves
    q   = y_tr - 3 mu d,                 y_tr = q_tr - 3 mu dp0,
    q   = P(nu, s),                      nu = d / (theta dt),
    s   = s_b + H0 d phi(1 - s/s*(nu)).
Eliminating s: for a given d the last equation has exactly one root s(d) between s_b and s*(nu) (its
left side minus the right is increasing in s for a >= 1), in closed form for a = 1 and a = 2 (the Li
value) and by a monotone Newton iteration otherwise. What remains is one scalar equation in the log
rate u = log(nu):
    F(u) = log P(nu, s(d)) - log(y_tr - 3 mu d) = 0,      u < u_max = log(y_tr / (3 mu theta dt)),
with F -> +inf at u_max and F(u_lo) < 0 at an explicit lower bound u_lo (there s <= max(s_b, S_tilde)
and P <= y_tr/2 < q). It is solved by Newton with a bracket [u_lo, u_max): a Newton step in u where
creep is weak (q > y_tr/2: F is close to linear in u), in z = log q where creep is strong (q < y_tr/2:
F is close to linear in z; the step comes from the same derivative, dz/du = -3 mu d / q), and a
secant step between the bracket ends (or bisection) whenever a Newton step leaves the bracket (the
bracket is kept in d). Converged when the step is below 1e-14 in z (d from q = e^z, so q keeps full
precision where q << y_tr; floor: the spacing of q = y_tr - 3 mu d, ~1e-16 y_tr) or below
1e-14 max(1, |u|) in u (the spacing of u limits d = theta dt e^u to ~1e-16 |u| relative). Typically
2-8 evaluations of F from a cold start, 2-3 from a warm start (the previous Newton iterate's u);
about 0.5 us per point cold and 0.35 us warm (Norton's `solve_increment`: 0.18 us; 2026-12-03,
measured on a busy 2-core machine).

Consistent tangent: the stress depends on q_tr only through dp, and the implicit function theorem on
q_tr - 3 mu dp - P(d) = 0 (P along the solution curve s(d)) gives
    d(dp)/d(q_tr) = 1 / (3 mu + dP/dd) = d / (q L + 3 mu d),   L = dlog P/du  (total, including s(d)),
which `anand_increment` returns; it replaces dt_A n o^(n-1) / (1 + 3 mu dt_A n o^(n-1)) of the Norton
kernel (checked against central differences in tests/unit/test_anand_point.py).
"""
from __future__ import annotations

import math

import numpy as np
from fem import aot
from fem.aot import F8, njit

F1 = aot.array("f8", 1)

# parameter vector `par` (LiAnand.kernel_parameters()):
P_NU0, P_M, P_H0, P_STILDE, P_NSAT, P_A, P_XI, P_FORM = range(8)
N_PAR = 8
FLOW_POWER, FLOW_SINH = 0, 1
_LOG2 = math.log(2.0)
_LOG4 = math.log(4.0)
U_TOL = 1e-14          # Newton step (in u or z, relative to max(1, |u|)) at which the return map has converged
MAX_ITER = 200
EPS = 2.220446049250313e-16


@njit(cache=True)
def flow_stress(nu, s, par):
    """q = P(nu, s): the von Mises stress at plastic strain rate nu >= 0 and resistance s."""
    if nu <= 0.0:
        return 0.0
    r = (nu / par[P_NU0]) ** par[P_M]
    if int(par[P_FORM]) == FLOW_SINH:
        return s / par[P_XI] * math.asinh(r)
    return s * r


@njit(cache=True)
def flow_rate(q, s, par):
    """nu(q, s): the plastic strain rate at von Mises stress q >= 0 and resistance s."""
    if q <= 0.0:
        return 0.0
    if int(par[P_FORM]) == FLOW_SINH:
        return par[P_NU0] * math.sinh(par[P_XI] * q / s) ** (1.0 / par[P_M])
    return par[P_NU0] * (q / s) ** (1.0 / par[P_M])


@njit(cache=True)
def saturation_value(nu, par):
    """s* = S_tilde (nu/nu0)^n (MPa); nu > 0 (floored at 1e-300 against underflow)."""
    return max(par[P_STILDE] * (nu / par[P_NU0]) ** par[P_NSAT], 1e-300)


@njit(cache=True)
def anand_rates(q, s, par):
    """(nu, sdot) at von Mises stress q and resistance s: the rates of the explicit part of a
    theta-step (dp0 = (1 - theta) dt nu, s_b = s + (1 - theta) dt sdot) and of an error estimate."""
    nu = flow_rate(q, s, par)
    if nu <= 0.0:
        return 0.0, 0.0
    x = 1.0 - s / saturation_value(nu, par)
    a = par[P_A]
    phi = abs(x) ** a
    if x < 0.0:
        phi = -phi
    return nu, par[P_H0] * phi * nu


@njit(cache=True)
def solve_resistance(c, s_b, s_sat, a):
    """The root s of s = s_b + c phi(1 - s/s_sat), c = H0 d >= 0, and x = 1 - s/s_sat.

    With D = s_sat - s_b the equation reads s_sat x + c |x|^a sign(x) = D: x has the sign of D and
    y = |x| solves s_sat y + c y^a = |D|, increasing and convex in y (a >= 1): closed form for a = 1
    and a = 2, else Newton from an upper bound (falls monotonically to the root)."""
    D = s_sat - s_b
    aD = abs(D)
    if c <= 0.0 or aD == 0.0:
        return s_b, D / s_sat
    if a == 1.0:
        y = aD / (s_sat + c)
    elif a == 2.0:
        y = 2.0 * aD / (s_sat + math.sqrt(s_sat * s_sat + 4.0 * c * aD))
    else:
        y = min(aD / s_sat, (aD / c) ** (1.0 / a))
        for _ in range(MAX_ITER):
            ya1 = y ** (a - 1.0)
            h = s_sat * y + c * ya1 * y - aD
            step = h / (s_sat + a * c * ya1)
            y -= step
            if step <= 4e-16 * y:
                break
    corr = c * y ** a     # |c phi(x)|
    if D > 0.0:
        x = y
    else:
        x = -y
        corr = -corr
    # the two forms of the root, each exact where its correction is the small one
    s = s_b + corr if abs(corr) <= s_sat * y else s_sat * (1.0 - x)
    return s, x


@njit(cache=True)
def _evaluate(u, d, y_tr, m3, s_b, par):
    """F(u), dF/du, s(d), L = dlog P/du, q at the log rate u, d = theta dt e^u (module docstring;
    d is passed so that a step in z = log q keeps q = y_tr - 3 mu d to full precision)."""
    lnu0 = math.log(par[P_NU0])
    m = par[P_M]
    a = par[P_A]
    n = par[P_NSAT]
    lv = u - lnu0
    q = y_tr - m3 * d
    s_sat = max(par[P_STILDE] * math.exp(n * lv), 1e-300)
    c = par[P_H0] * d
    s, x = solve_resistance(c, s_b, s_sat, a)
    ax = abs(x)
    dphi = a * ax ** (a - 1.0) if a != 1.0 else 1.0
    phi = ax * (ax ** (a - 1.0) if a != 1.0 else 1.0)
    if x < 0.0:
        phi = -phi
    # dlog s/du along the root of s - s_b - c phi(1 - s/s*) = 0 (c and s* both vary with u)
    dlns = c * (phi + n * dphi * s / s_sat) / (s * (1.0 + c * dphi / s_sat))
    if int(par[P_FORM]) == FLOW_SINH:
        r = math.exp(m * lv)
        ar = math.asinh(r)
        lnP = math.log(s / par[P_XI] * ar)
        L = dlns + m * r / (math.sqrt(1.0 + r * r) * ar)
    else:
        lnP = math.log(s) + m * lv
        L = dlns + m
    if q <= 0.0:
        return math.inf, math.inf, s, L, q
    F = lnP - math.log(q)
    return F, L + m3 * d / q, s, L, q


@njit(cache=True)
def _log_sinh(t):
    if t > 20.0:
        return t - _LOG2
    return math.log(math.sinh(t))


@njit(cache=True)
def anand_increment(q_tr, m3, theta_dt, par, s_b, dp0, u_guess):
    """Return map of the Anand law at one point: (dp, s_new, d(dp)/d(q_tr), u).

    q_tr: trial von Mises Kirchhoff stress; m3 = 3 mu; theta_dt = theta dt (s); par: LiAnand
    .kernel_parameters(); s_b = s_n + (1 - theta) dt sdot_n (s_n for backward Euler); dp0 = (1 - theta)
    dt nu_n, the explicit part of dp (0 for backward Euler); u_guess: log of the end-of-step rate of
    the previous call at this point (a warm start; anything outside the bracket, e.g. nan, is ignored).
    Returns dp = dp0 + d, the resistance s at the end of the step, d(dp)/d(q_tr) for the consistent
    tangent, and u = log(d / theta_dt) for the next warm start (-inf where nothing flows); all NaN if
    the iteration did not converge in MAX_ITER steps (a compiled kernel raises no exceptions)."""
    y_tr = q_tr - m3 * dp0
    if not (y_tr > 0.0 and theta_dt > 0.0):
        return dp0, s_b, 0.0, -math.inf
    m = par[P_M]
    lnu0 = math.log(par[P_NU0])
    sinh_form = int(par[P_FORM]) == FLOW_SINH
    xi = par[P_XI] if sinh_form else 1.0
    u_max = math.log(y_tr / (m3 * theta_dt))
    s_big = max(s_b, par[P_STILDE])
    lo = min(lnu0 + min(0.0, math.log(xi * y_tr / (2.0 * s_big)) / m), u_max - _LOG4) - 0.1
    hi = u_max
    # start: the warm start, else the weak-creep estimate (s = s_b, q = y_tr), else (strong creep,
    # q << y_tr) the flow stress at the largest rate, q0 = P(d_max) with s(d_max)
    if lo < u_guess < hi:
        u = u_guess
    else:
        if sinh_form:
            u = lnu0 + _log_sinh(xi * y_tr / s_b) / m
        else:
            u = lnu0 + math.log(y_tr / s_b) / m
        if u >= u_max - _LOG2:
            u = u_max - 1e-3
            F, dF, s, L, q = _evaluate(u, theta_dt * math.exp(u), y_tr, m3, s_b, par)
            q0 = math.exp(F) * q   # P at (nearly) d_max
            u = u_max + math.log1p(-q0 / y_tr) if q0 < 0.5 * y_tr else u_max - _LOG2
        u = min(max(u, lo + 1e-3), hi - 1e-12 * (1.0 + abs(hi)))
    d = theta_dt * math.exp(u)
    # the bracket is kept in d (and u): near u_max a step in z moves d by less than the spacing of u
    d_lo = theta_dt * math.exp(lo)
    d_hi = y_tr / m3
    F_lo = -math.inf   # F < 0 at lo (by construction), > 0 at hi (F -> +inf at u_max)
    F_hi = math.inf
    fallback = False
    converged = False
    for _ in range(MAX_ITER):
        F, dF, s, L, q = _evaluate(u, d, y_tr, m3, s_b, par)
        if F == 0.0:
            converged = True
            break
        if F > 0.0:
            hi, d_hi, F_hi = u, d, F
        else:
            lo, d_lo, F_lo = u, d, F
        if q < 0.5 * y_tr:
            # Newton in z = log q: dz = -F / (dF/du * du/dz), du/dz = -q / (3 mu d); d from q
            dz = F * m3 * d / (q * dF)
            dn = (y_tr - q * math.exp(dz)) / m3
            un = math.log(dn / theta_dt) if dn > 0.0 else -math.inf
            small = abs(dz) <= U_TOL + 8.0 * EPS * y_tr / q   # q = y_tr - 3 mu d is known to ~EPS y_tr
        else:
            un = u - F / dF
            dn = theta_dt * math.exp(un)
            small = abs(un - u) <= U_TOL * max(1.0, abs(u))
        if small:   # converged: the step is below the tolerance (it may round onto a bracket end)
            d, u = dn, un
            converged = True
            break
        if d_lo < dn < d_hi:
            fallback = False
        else:
            # the Newton step left the bracket: a secant step between its ends where both F are
            # known (not twice in a row), else bisection; in log d while the bracket is wide, else in d
            wide = hi - lo > 1.0
            if not fallback and math.isfinite(F_lo) and math.isfinite(F_hi):
                if wide:
                    un = lo - F_lo * (hi - lo) / (F_hi - F_lo)
                    dn = theta_dt * math.exp(un)
                else:
                    dn = d_lo - F_lo * (d_hi - d_lo) / (F_hi - F_lo)
                    un = math.log(dn / theta_dt)
            elif wide:
                un = 0.5 * (lo + hi)
                dn = theta_dt * math.exp(un)
            else:
                dn = 0.5 * (d_lo + d_hi)
                un = math.log(dn / theta_dt)
            fallback = True
            # converged when d is known to U_TOL relative, and q = y_tr - 3 mu d too, down to the spacing of d
            if d_hi - d_lo <= max(U_TOL * min(dn, (y_tr - m3 * dn) / m3), 8.0 * EPS * d_hi):
                d, u = dn, un
                converged = True
                break
        d, u = dn, un
    if not converged:   # (not seen in the tests) NaN: the Newton loop of the model cuts the step
        return math.nan, math.nan, math.nan, math.nan
    # s and L of the last evaluation: the converged step moves them by ~U_TOL relative at most
    q = y_tr - m3 * d
    return dp0 + d, s, d / (q * L + m3 * d), u


@aot.export(F1, F1, F1, F8, F8, F1, F1)
@njit(cache=True)
def explicit_parts(q_n, s_n, par, dt, theta, dp0_out, sb_out):
    """The explicit parts of a theta-step at every point from the converged state at t_n (von Mises
    Kirchhoff stress q_n, resistance s_n): dp0 = (1 - theta) dt nu_n, s_b = s_n + (1 - theta) dt sdot_n."""
    w = (1.0 - theta) * dt
    for k in range(q_n.size):
        if w > 0.0:
            nu, sdot = anand_rates(q_n[k], s_n[k], par)
        else:
            nu, sdot = 0.0, 0.0
        dp0_out[k] = w * nu
        sb_out[k] = s_n[k] + w * sdot


@njit(cache=True)
def _increments(q_tr, m3, theta_dt, par, s_b, dp0, dp, s_new, dpq, u):
    for k in range(q_tr.size):
        dp[k], s_new[k], dpq[k], u[k] = anand_increment(q_tr[k], m3[k], theta_dt, par, s_b[k], dp0[k], u[k])


def anand_increments(q_tr, mu, theta_dt: float, par, s_b, dp0=None, u_guess=None):
    """Vectorised `anand_increment` (arrays of q_tr, mu, s_b, dp0): returns dp, s_new, d(dp)/d(q_tr), u."""
    q_tr = np.ascontiguousarray(q_tr, dtype=float)
    m3 = 3.0 * np.ascontiguousarray(np.broadcast_to(mu, q_tr.shape), dtype=float)
    s_b = np.ascontiguousarray(np.broadcast_to(s_b, q_tr.shape), dtype=float)
    dp0 = np.zeros_like(q_tr) if dp0 is None else np.ascontiguousarray(np.broadcast_to(dp0, q_tr.shape), dtype=float)
    u = np.full_like(q_tr, np.nan) if u_guess is None else np.array(np.broadcast_to(u_guess, q_tr.shape), dtype=float)
    dp, s_new, dpq = (np.empty_like(q_tr) for _ in range(3))
    _increments(q_tr, m3, float(theta_dt), np.ascontiguousarray(par, dtype=float), s_b, dp0, dp, s_new, dpq, u)
    if np.isnan(dp).any():
        raise RuntimeError("Anand return map did not converge")
    return dp, s_new, dpq, u


@aot.export(F1, F1, F1, F1)
@njit(cache=True)
def flow_rates(q, s, par, out):
    """nu = `flow_rate` at every point (arrays q, s)."""
    for k in range(q.size):
        out[k] = flow_rate(q[k], s[k], par) if q[k] > 0.0 else 0.0


# ------------------------------------------------------------------ one-point (uniaxial) drivers
# The deviatoric-strain-driven point of the kernel in one dimension: an isochoric (or deviatoric)
# proportional path whose equivalent total Hencky strain is eps, q = 3 mu (eps - p) exactly (logarithmic
# strains of coaxial tensors add, so the exponential-map return is exact here for any step size).

class AnandPoint:
    """One material point driven step by step with `anand_increment` (theta-method)."""

    def __init__(self, mat, theta: float = 1.0):
        self.par = np.ascontiguousarray(mat.kernel_parameters())
        self.m3 = 3.0 * mat.shear_modulus_MPa
        self.theta = float(theta)
        self.p = 0.0
        self.s = float(mat.initial_resistance_MPa)
        self.q = 0.0
        self.u = np.nan

    def _explicit(self, dt):
        nu, sdot = anand_rates(self.q, self.s, self.par)
        return (1.0 - self.theta) * dt * nu, self.s + (1.0 - self.theta) * dt * sdot

    def strain_step(self, eps_new: float, dt: float) -> float:
        """Advance to total equivalent strain eps_new (>= p) over dt; returns the stress q."""
        dp0, s_b = self._explicit(dt)
        q_tr = self.m3 * (eps_new - self.p)
        dp, s_new, _, self.u = anand_increment(q_tr, self.m3, self.theta * dt, self.par, s_b, dp0, self.u)
        self.p += dp
        self.s = s_new
        self.q = q_tr - self.m3 * dp
        return self.q

    def stress_step(self, q_target: float, dt: float, tol: float = 1e-13) -> float:
        """Advance over dt at the end-of-step stress q_target (mixed control: Newton on the total
        strain with the consistent tangent dq/deps = 3 mu (1 - 3 mu d(dp)/d(q_tr))); returns p."""
        dp0, s_b = self._explicit(dt)
        nu_guess = flow_rate(q_target, self.s, self.par)
        eps = self.p + q_target / self.m3 + dt * nu_guess
        for _ in range(100):
            q_tr = self.m3 * (eps - self.p)
            dp, s_new, dpq, u = anand_increment(q_tr, self.m3, self.theta * dt, self.par, s_b, dp0, self.u)
            q = q_tr - self.m3 * dp
            r = q - q_target
            if abs(r) <= tol * q_target:
                break
            eps -= r / (self.m3 * (1.0 - self.m3 * dpq))
        else:
            raise RuntimeError("stress-controlled point step did not converge")
        self.p += dp
        self.s = s_new
        self.q = q
        self.u = u
        return self.p
