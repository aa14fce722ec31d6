"""Pore closure of the homogenised G-LiCFC ply (fem/rve/ply_fit.py fits it, fem/physics/laws.py
PlyCreepLaw reads it). Units: MPa, s; c and phi are volumes per volume.

The ply's closable pore volume phi closes as c (0 <= c <= phi) at the rate

    dc/dt = B <X>^m (phi - c),    X = -p - p_c c / (phi - c),

p the ply's pressure (negative in compression). B <-p>^m (phi - c) is the closure of a dilute void in a
power-law matrix (Budiansky, Hutchinson & Slutsky 1982: m = the matrix's creep exponent); p_c (the
BACK-PRESSURE modulus, FIT_VERSION 10) makes the squeezed pores push back: the drive is the pressure
less p_c c / (phi - c), which grows without bound as the pores shut, so c < phi at any finite
pressure and the closure slows as it proceeds. The RVE's pores are a soft neo-Hookean solid, which
stiffens as it is squeezed; without p_c (p_c = 0) the law left three-signed errors on the confined
curves and could not follow the cell's rising late slope (literature table: 5.59 % at best, with
p_c 3.3 %; docs/results.md).

Backward Euler:  c - c_n = r (phi - c),  r = dt B <X(c)>^m,  implicit in c through the back-pressure.
Two solvers of that one equation:
* `closure_at_pressure` (the disc: the pressure is an unknown of the mixed system): c(p) and dc/dp,
  vectorised over quadrature points;
* `closure_at_volume_strain` (the point law: the volume strain is given, p = K (tr eps + c)):
  c, p and dp/dtr at one point.
"""
from __future__ import annotations

import math

import numpy as np

MAX_ITERATIONS = 200


def closure_at_pressure(p, c_n, dt: float, phi: float, B: float, m: float, p_c: float = 0.0):
    """Pore closure c at the end of a step at the pressure p (arrays over points; MPa) from c_n, and
    dc/dp (MPa^-1). Without the back-pressure (p_c = 0) the closed form c = (c_n + r phi)/(1 + r),
    r = dt B <-p>^m; with it, one scalar equation for the drive at the end of the step, solved by
    Newton in its logarithm (below; monotone from an upper bound, <= 6 iterations measured). Where the pores
    do not close this step (p >= 0, or X(c_n) <= 0) c = c_n, dc/dp = 0."""
    p = np.asarray(p, float)
    c_n = np.broadcast_to(np.asarray(c_n, float), p.shape).copy()
    c = c_n.copy()
    dc = np.zeros_like(p)
    if phi <= 0.0 or B <= 0.0 or dt <= 0.0:
        return c, dc
    if p_c <= 0.0:
        X = np.maximum(-p, 0.0)
        with np.errstate(over="ignore"):
            r = np.minimum(dt * B * X ** m, 1e300)
        c = (c_n + r * phi) / (1.0 + r)
        on = (X > 0.0) & (r < 1e150)
        with np.errstate(divide="ignore", invalid="ignore"):
            dc = np.where(on, -(m * r / np.where(on, X, 1.0)) * (phi - c_n) / (1.0 + r) ** 2, 0.0)
        return c, dc
    # in the squeezed-pore strain s = c/(phi - c) the back-pressure is linear, X = -p - p_c s, and the
    # step (c - c_n)/(phi - c) = (s - s_n)/(1 + s_n) = dt B X^m becomes, for the drive y = X at the
    # end of the step,  dt B y^m + b y = a,  b = 1/(p_c (1 + s_n)),  a = X_n b  (X_n: the drive at c_n);
    # in z = log y,  F(z) = log(dt B e^(m z) + b e^z) - log a  is convex and increasing (slope 1..m):
    # Newton from the upper bound z0 = min(log(a / dt B)/m, log X_n) converges monotonically
    s_n = c_n / (phi - c_n)
    X_n = -p - p_c * s_n
    act = X_n > 0.0
    if not act.any():
        return c, dc
    Xa, sa = X_n[act], s_n[act]
    log_k = math.log(dt * B)
    log_b = -np.log(p_c * (1.0 + sa))
    log_a = np.log(Xa) + log_b
    z = np.minimum((log_a - log_k) / m, np.log(Xa))
    todo = np.arange(z.size)
    for _ in range(MAX_ITERATIONS):
        zt = z[todo]
        u, v = log_k + m * zt, log_b[todo] + zt
        F = np.logaddexp(u, v) - log_a[todo]
        w = np.exp(-np.abs(u - v))                        # the smaller term over the larger
        dF = np.where(u >= v, (m + w) / (1.0 + w), (m * w + 1.0) / (1.0 + w))
        step = F / dF
        z[todo] = zt - step
        todo = todo[np.abs(step) > 1e-14]
        if todo.size == 0:
            break
    y = np.exp(z)                                         # the drive at the end of the step
    ds = (1.0 + sa) * np.exp(log_k + m * z)               # s - s_n = (1 + s_n) dt B y^m (no cancellation)
    s_new = sa + ds
    ca = phi * s_new / (1.0 + s_new)
    r = ds / (1.0 + sa)                                   # = (c - c_n)/(phi - c) = dt B y^m
    with np.errstate(divide="ignore", invalid="ignore"):
        g_p = m * r * (phi - ca) / y                      # dg/dp of g = c - c_n - r(c, p) (phi - c)
        g_c = 1.0 + r + m * r * p_c * phi / ((phi - ca) * y)
        dca = np.where(np.isfinite(g_p) & np.isfinite(g_c), -g_p / g_c, 0.0)
    c[act], dc[act] = ca, dca
    return c, dc


def closure_at_volume_strain(tr: float, c_n: float, dt: float, K: float, phi: float, B: float, m: float,
                             p_c: float = 0.0):
    """Pore closure c, pressure p = K (tr + c) and dp/dtr at one point at the volume strain tr (the
    point law's volumetric part, fem/rve/ply_fit.py): the backward-Euler equation written
    f(c) = c - phi + (phi - c_n) / (1 + r(c)), r = dt B <X>^m, X = -K (tr + c) - p_c c / (phi - c),
    increases from f(c_n) <= 0 to f(phi) >= 0: solved by brentq. Returns (c, p, dp/dtr)."""
    from scipy.optimize import brentq

    def r_of(c):
        X = -K * (tr + c) - (p_c * c / max(phi - c, 1e-300) if p_c > 0.0 else 0.0)
        if X <= 0.0:
            return 0.0, X
        with np.errstate(over="ignore"):
            return min(dt * B * X ** m, 1e300), X

    def f(c):   # written to stay finite when r overflows
        return c - phi + (phi - c_n) / (1.0 + r_of(c)[0])
    if phi <= 0.0 or B <= 0.0 or dt <= 0.0 or f(c_n) >= 0.0:
        c = c_n
    elif f(phi) <= 0.0:
        c = phi
    else:
        c = brentq(f, c_n, phi, xtol=1e-15, rtol=1e-13)
    p = K * (tr + c)
    r, X = r_of(c)
    if X > 0.0 and c_n < c < phi and r < 1e150:
        Fr = -(phi - c_n) / (1.0 + r) ** 2               # df/dr
        dr = dt * B * m * X ** (m - 1.0)                 # dr/dX
        r_tr = -K * dr
        r_c = dr * (-K - (p_c * phi / (phi - c) ** 2 if p_c > 0.0 else 0.0))
        dc_dtr = -Fr * r_tr / (1.0 + Fr * r_c)
        return c, p, K * (1.0 + dc_dtr)
    return c, p, K
