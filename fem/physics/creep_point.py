"""The Li creep law at a material point: stress, consistent tangent and state update, compiled
with numba (one loop over the quadrature points; no UFL). Units: MPa, s.

Law (finite strain, multiplicative split F = Fe Fc, isochoric creep; the derivation and the
references are in fem/physics/laws.py and docs/physics.md):
    be_tr = Fbar Cc^-1_n Fbar^T,   Fbar = J^-1/3 F,   s_tr = mu dev log(be_tr),
    q_tr = sqrt(3/2 s_tr:s_tr),    dp = dp0 + dt_A <q_tr - 3 mu (dp - dp0) ... >^n  (return map),
    s = s_tr (1 - 3 mu dp / q_tr), P_dev = s F^-T,  Cc^-1_new = Fbar^-1 exp(s / mu) Fbar^-T.
The pressure part of the stress, p cof(F), is linear in the pressure field and stays in the UFL
form (fem/models/base.py); `creep_points` adds its derivative p d(cof F)/dF to the tangent only
when it is given a pressure (the serial element assembler, fem/models/assembly.py).

Tensor log of be_tr (symmetric positive definite, near I):
  * block-diagonal be_tr (axisymmetric kinematics: the (r, z) block and the hoop entry) in closed
    form: with m = (a + c)/2, N = B - m I (traceless, N^2 = d^2 I), y = d^2/m^2 < 1,
        log B = 1/2 log(m^2 - d^2) I + atanh(d/m)/d N,
    with atanh(sqrt y)/sqrt y as its series in y for small y (no cancellation at d -> 0);
  * general be_tr (3D) from its eigen-decomposition (cyclic Jacobi), log B = Q diag(log lam) Q^T,
    with the derivative by the Daleckii-Krein formula (divided differences of log, a series where
    two eigenvalues are within 1e-4: continuous through repeated eigenvalues, as at be_tr = I).
    Until 2026-12-03 (and in the UFL law before) the Z series log B = 2 sum_k Z^(2k+1)/(2k+1),
    Z = (B - I)(B + I)^-1, to Z^17; its forward derivative cost 1.5-2 us per point.
Both give log and its derivative dlog(B)[dB] as a 6 x 6 map on the symmetric components.

Consistent tangent dP/dF: forward differentiation along each active component of F (the 5 that an
axisymmetric F has, or all 9 in 3D), with d(dp)/d(q_tr) = dt_A n o^(n-1) / (1 + 3 mu dt_A n o^(n-1))
(implicit function theorem, o = q - sigma_y); checked against central differences in
tests/unit/test_laws.py.

exp(s/mu) (|s/mu| < 0.05) by its Taylor series to the 7th power (error < 1e-12).

LAW_HILL (the homogenised G-LiCFC ply's Li branch, fitted by fem/rve/ply_fit.py): the same trial
state; s_tr split into its axial, in-plane and transverse-shear modes about the current axis
n = F^-T a / |F^-T a| (the normal of the ply's layers, as its skeleton's: fem/physics/laws.py PlyLaw), each with its own weight in the Hill stress and its own shear modulus; the return is
diagonal in the modes (hill_equivalent solves one scalar equation); the tangent includes the turn of
n with F. tests/unit/test_hill.py checks it against the Norton path, central differences, a rigid
rotation and the fit's independent small-strain return.

Degenerate input (det F <= 0, NaN) gives NaN or inf, never an exception (numba error_model "numpy"):
the Newton loop sees a non-finite residual and cuts the step, as it did with the UFL law.
"""
from __future__ import annotations

import math
import os

import numpy as np
from fem import aot
from fem.aot import B1, F8, I8, njit, prange

F1, F2, F3 = (aot.array("f8", d) for d in (1, 2, 3))

from fem.physics.anand_point import anand_increment

# max Frobenius norm of be_tr - I of a converged step (else the step is cut): the range of the tensor-log
# series of the UFL law before 2026-12-03; the logs are exact now, and the limit is kept as a bound
# on the strain increment of one step (it leaves every gold history unchanged)
LOG_SERIES_LIMIT = 0.6
# below this many points a call runs serially (waking the threads, ~10 us, outweighs the work)
PARALLEL_MIN_POINTS = 200
# with the ahead-of-time compiled serial kernel (fem/aot.py) loaded, the threaded kernel (numba JIT:
# prange cannot be compiled ahead of time) is used only from this many points on: its first call
# imports numba and loads its JIT code (~0.5 s), which two threads win back only on large meshes.
# Measured 2026-12-03 (case A of bench/bench_axisym.py, 192 Newton iterations, 2 idle cores):
# process to process, 7 512 points (mesh 0.0625 mm) 3.21 s serial against 3.33 s threaded; 27 456
# points (0.03125 mm) 15.9-16.4 s against 15.4 s; the compiled serial kernel alone costs 0.91 / 0.95 /
# 0.99 us per dof and Newton iteration at 1 600 / 7 512 / 27 456 points (make bench).
PARALLEL_AOT_MIN_POINTS = 20_000
# the Hill-Norton return (LAW_HILL) costs several Norton returns a point, so it threads from far fewer
# points: measured 2026-12-04 (blind homogenised G-LiCFC disc at 30 MPa, time_tolerance 0.03, 6 840
# points, 5 911 Newton iterations, 2 idle cores): 141.7 s serial (kernel 57 s) against 102-122 s on
# two threads (kernel 34-43 s; three runs), the same result to the last digit.
PARALLEL_AOT_MIN_POINTS_HILL = 2_000
MODE_STRESS, MODE_TANGENT = 0, 1   # stress (and the state for the commit); + consistent tangent
LAW_NORTON, LAW_ANAND, LAW_HILL = 0, 1, 2   # the return map: Norton (with threshold), Anand, Hill-Norton
# symmetric components in the order of the 6 x 6 log derivative: 00, 11, 22, 01, 02, 12
_SYM_I = np.array([0, 1, 2, 0, 0, 1], dtype=np.int64)
_SYM_J = np.array([0, 1, 2, 1, 2, 2], dtype=np.int64)


@njit(cache=True, error_model="numpy")
def solve_increment(q_tr, m3, dt_A, n, sigma_y, dp0, y_guess=-1.0):
    """Root dp >= dp0 of dp = dp0 + dt_A <q_tr - 3 mu dp - sigma_y>^n at one point, m3 = 3 mu.

    With y_tr = q_tr - sigma_y - 3 mu dp0 and d = dp - dp0, the root solves g(d) = d - dt_A
    (y_tr - m3 d)^n = 0 on [0, y_tr/m3]; g is increasing and concave, so Newton from d = 0 rises
    monotonically to the root. Where creep is strong (y0 = (y_tr/(m3 dt_A))^(1/n) < y_tr, so that
    the over-stress y = y_tr - m3 d after the return is small) the same equation in z = log y,
    G(z) = n z + log(m3 dt_A) - log(y_tr - e^z), is increasing and convex, and Newton from z0 =
    log y0 (G(z0) > 0) falls monotonically to the root in a few steps (a power law is nearly
    linear in log y). Both end with polishing steps in the d form, which give d to full relative
    precision even when d << y_tr/m3.

    y_guess > 0: the over-stress of the same point at the previous Newton iterate, a start closer
    to the root. Newton on the convex G from a start left of the root lands right of it (then falls
    monotonically); a start whose first step leaves (-inf, log y_tr) is dropped for the cold one."""
    y_tr = q_tr - sigma_y - m3 * dp0
    if not (y_tr > 0.0 and dt_A > 0.0):
        return dp0
    dmax = y_tr / m3
    y0 = (y_tr / (m3 * dt_A)) ** (1.0 / n)
    if y0 < y_tr:
        c = math.log(m3 * dt_A)
        ly = math.log(y_tr)
        z = math.log(y0)
        if 0.0 < y_guess < y_tr:
            zg = math.log(y_guess)
            ez = y_guess
            zg -= (n * zg + c - math.log(y_tr - ez)) / (n + ez / (y_tr - ez))
            if zg < ly:
                z = zg
        for _ in range(200):
            ez = math.exp(z)
            G = n * z + c - math.log(y_tr - ez)
            dG = n + ez / (y_tr - ez)
            step = G / dG
            z -= step
            if abs(step) <= 1e-13:
                break
        else:
            raise RuntimeError("creep return map did not converge")
        d = (y_tr - math.exp(z)) / m3
        polish = 1
    else:
        d = 0.0
        if 0.0 < y_guess < y_tr:
            # one Newton step from the guess lands at or left of the root (g concave increasing)
            dg0 = (y_tr - y_guess) / m3
            on1 = y_guess ** (n - 1.0)
            d = max(dg0 - (dg0 - dt_A * on1 * y_guess) / (1.0 + dt_A * n * on1 * m3), 0.0)
        polish = 200
    step = 0.0
    for _ in range(polish):
        over = max(y_tr - m3 * d, 0.0)
        on1 = over ** (n - 1.0)
        g = d - dt_A * on1 * over
        dg = 1.0 + dt_A * n * on1 * m3
        step = g / dg
        d = min(max(d - step, 0.0), dmax)
        if abs(step) <= 4e-15 * d:   # a few units in the last place (it may toggle between two)
            break
    if abs(step) > 1e-10 * d:
        raise RuntimeError("creep return map did not converge")
    return dp0 + d


@njit(cache=True, error_model="numpy")
def _atanh_ratio(y):
    """g(y) = atanh(sqrt y)/sqrt y and g'(y), 0 <= y < 1."""
    if y < 0.05:
        g, gp, yk = 1.0, 0.0, 1.0
        for k in range(1, 40):
            gp += k * yk / (2 * k + 1)   # yk = y^(k-1)
            yk *= y
            t = yk / (2 * k + 1)
            g += t
            if t < 1e-17:
                break
        return g, gp
    s = math.sqrt(y)
    g = math.atanh(s) / s
    return g, (1.0 / (1.0 - y) - g) / (2.0 * y)


@njit(cache=True, error_model="numpy")
def _log_block(B, L, D):
    """log of B = [[a, b, 0], [b, c, 0], [0, 0, d]] (closed form) and its 6 x 6 derivative D."""
    a, b, c, d = B[0, 0], B[0, 1], B[1, 1], B[2, 2]
    m = 0.5 * (a + c)
    h = 0.5 * (a - c)
    del2 = h * h + b * b
    y = del2 / (m * m)
    g, gp = _atanh_ratio(y)
    f = g / m
    l0 = math.log(m) + 0.5 * math.log1p(-y)
    for i in range(3):
        for j in range(3):
            L[i, j] = 0.0
    L[0, 0] = l0 + f * h
    L[1, 1] = l0 - f * h
    L[0, 1] = L[1, 0] = f * b
    L[2, 2] = math.log(d)
    # partial derivatives in (m, del2), then chain to (a, c, b)
    dl0_dm = 1.0 / (m * (1.0 - y))
    dl0_dd = -0.5 / (m * m * (1.0 - y))
    df_dm = -(g + 2.0 * y * gp) / (m * m)
    df_dd = gp / (m * m * m)
    for i in range(6):
        for j in range(6):
            D[i, j] = 0.0
    # columns: 0 -> a (B00), 1 -> c (B11), 3 -> b (B01 = B10); 2 -> d (B22)
    for col in (0, 1, 3):
        if col == 0:
            dm, dh, dd2, db = 0.5, 0.5, h, 0.0
        elif col == 1:
            dm, dh, dd2, db = 0.5, -0.5, -h, 0.0
        else:
            dm, dh, dd2, db = 0.0, 0.0, 2.0 * b, 1.0
        dl0 = dl0_dm * dm + dl0_dd * dd2
        df = df_dm * dm + df_dd * dd2
        D[0, col] = dl0 + df * h + f * dh
        D[1, col] = dl0 - df * h - f * dh
        D[3, col] = df * b + f * db
    D[2, 2] = 1.0 / d


@njit(cache=True, error_model="numpy")
def _matmul(A, B, C):
    for i in range(3):
        for j in range(3):
            C[i, j] = A[i, 0] * B[0, j] + A[i, 1] * B[1, j] + A[i, 2] * B[2, j]


@njit(cache=True, error_model="numpy")
def _eig_sym3(B, lam, Q, a):
    """Eigenvalues lam and orthonormal eigenvectors Q (columns) of a symmetric 3x3 B by cyclic
    Jacobi rotations (quadratic convergence; off-diagonal norm below 1e-18 of the diagonal)."""
    for i in range(3):
        for j in range(3):
            a[i, j] = B[i, j]
            Q[i, j] = 1.0 if i == j else 0.0
    for _ in range(50):
        off = a[0, 1] * a[0, 1] + a[0, 2] * a[0, 2] + a[1, 2] * a[1, 2]
        if off <= 1e-36 * (a[0, 0] * a[0, 0] + a[1, 1] * a[1, 1] + a[2, 2] * a[2, 2]):
            break
        for pq in range(3):
            p = 0 if pq < 2 else 1
            q = 1 if pq == 0 else 2
            r = 3 - p - q
            apq = a[p, q]
            if apq == 0.0:
                continue
            theta = (a[q, q] - a[p, p]) / (2.0 * apq)
            if abs(theta) > 1e150:
                t = 0.5 / theta
            else:
                t = 1.0 / (abs(theta) + math.sqrt(theta * theta + 1.0))
                if theta < 0.0:
                    t = -t
            c = 1.0 / math.sqrt(t * t + 1.0)
            sn = t * c
            tau = sn / (1.0 + c)
            a[p, p] -= t * apq
            a[q, q] += t * apq
            a[p, q] = 0.0
            a[q, p] = 0.0
            g, h = a[r, p], a[r, q]
            a[r, p] = a[p, r] = g - sn * (h + g * tau)
            a[r, q] = a[q, r] = h + sn * (g - h * tau)
            for k in range(3):
                g, h = Q[k, p], Q[k, q]
                Q[k, p] = g - sn * (h + g * tau)
                Q[k, q] = h + sn * (g - h * tau)
    for i in range(3):
        lam[i] = a[i, i]


@njit(cache=True, error_model="numpy")
def _log_divided_difference(li, lj, xi, xj):
    """(log xi - log xj)/(xi - xj), and 1/xj at xi = xj, without cancellation."""
    d = (xi - xj) / xj
    if abs(d) < 1e-4:
        return (1.0 - d / 2.0 + d * d / 3.0 - d * d * d / 4.0 + d * d * d * d / 5.0) / xj
    return (li - lj) / (xi - xj)


@njit(cache=True, error_model="numpy")
def _log_eig(B, L, D, want_D, lam, Q, a, lg, G, W, R):
    """log of a general SPD 3x3 B from its eigen-decomposition, L = Q diag(log lam) Q^T, and its
    6 x 6 derivative by the Daleckii-Krein formula dL[H] = Q (G o (Q^T H Q)) Q^T with the divided
    differences G_ij of log (G_ii = 1/lam_i), continuous through repeated eigenvalues."""
    _eig_sym3(B, lam, Q, a)
    for i in range(3):
        lg[i] = math.log(lam[i])
    for i in range(3):
        for j in range(3):
            L[i, j] = Q[i, 0] * lg[0] * Q[j, 0] + Q[i, 1] * lg[1] * Q[j, 1] + Q[i, 2] * lg[2] * Q[j, 2]
    if not want_D:
        return
    for i in range(3):
        for j in range(3):
            G[i, j] = _log_divided_difference(lg[i], lg[j], lam[i], lam[j])
    # W[r, i, j] = Q[a, i] Q[b, j] G_ij for the symmetric component r = (a, b);
    # R[c, i, j] = (Q^T E_c Q)_ij (E_c: unit symmetric perturbation of component c)
    for r6 in range(6):
        x, y = _SYM_I[r6], _SYM_J[r6]
        for i in range(3):
            for j in range(3):
                W[r6, i, j] = Q[x, i] * Q[y, j] * G[i, j]
                if x == y:
                    R[r6, i, j] = Q[x, i] * Q[x, j]
                else:
                    R[r6, i, j] = Q[x, i] * Q[y, j] + Q[y, i] * Q[x, j]
    for r6 in range(6):
        for c6 in range(6):
            acc = 0.0
            for i in range(3):
                for j in range(3):
                    acc += W[r6, i, j] * R[c6, i, j]
            D[r6, c6] = acc


@njit(cache=True, error_model="numpy")
def _det3(A):
    return (A[0, 0] * (A[1, 1] * A[2, 2] - A[1, 2] * A[2, 1])
            - A[0, 1] * (A[1, 0] * A[2, 2] - A[1, 2] * A[2, 0])
            + A[0, 2] * (A[1, 0] * A[2, 1] - A[1, 1] * A[2, 0]))


@njit(cache=True, error_model="numpy")
def _inv3(A, Ai):
    det = _det3(A)
    Ai[0, 0] = (A[1, 1] * A[2, 2] - A[1, 2] * A[2, 1]) / det
    Ai[0, 1] = (A[0, 2] * A[2, 1] - A[0, 1] * A[2, 2]) / det
    Ai[0, 2] = (A[0, 1] * A[1, 2] - A[0, 2] * A[1, 1]) / det
    Ai[1, 0] = (A[1, 2] * A[2, 0] - A[1, 0] * A[2, 2]) / det
    Ai[1, 1] = (A[0, 0] * A[2, 2] - A[0, 2] * A[2, 0]) / det
    Ai[1, 2] = (A[0, 2] * A[1, 0] - A[0, 0] * A[1, 2]) / det
    Ai[2, 0] = (A[1, 0] * A[2, 1] - A[1, 1] * A[2, 0]) / det
    Ai[2, 1] = (A[0, 1] * A[2, 0] - A[0, 0] * A[2, 1]) / det
    Ai[2, 2] = (A[0, 0] * A[1, 1] - A[0, 1] * A[1, 0]) / det
    return det


@njit(cache=True, error_model="numpy")
def hill_equivalent(a, h, c3, dt_A, n, q_guess):
    """The Hill-Norton return's equivalent stress q (backward Euler): the root of
        f(q) = q^2 - 3/2 sum_k h_k a_k / D_k^2,   D_k = 1 + c3_k h_k dt_A q^(n-1)   (c3_k = 3 mu_k),
    a_k = |s_tr_k|^2 the trial stress per mode. f increases from -q_tr^2 at 0 to >= 0 at
    q_tr = sqrt(3/2 sum h_k a_k): Newton, kept inside the bracket by bisection."""
    q_tr = math.sqrt(1.5 * (h[0] * a[0] + h[1] * a[1] + h[2] * a[2]))
    if dt_A <= 0.0 or q_tr <= 0.0:
        return q_tr
    hmin = min(c3[0] * h[0], min(c3[1] * h[1], c3[2] * h[2]))
    lo, hi = 0.0, q_tr
    q = q_guess
    if not (0.0 < q < q_tr):
        q = min(q_tr, (q_tr / (hmin * dt_A)) ** (1.0 / n))
    for _ in range(200):
        x = dt_A * q ** (n - 1.0)
        S = 0.0
        dS = 0.0
        for k in range(3):
            D = 1.0 + c3[k] * h[k] * x
            S += h[k] * a[k] / (D * D)
            dS += c3[k] * h[k] * h[k] * a[k] / (D * D * D)
        g = q * q - 1.5 * S
        dg = 2.0 * q + 3.0 * dS * (n - 1.0) * dt_A * q ** (n - 2.0)
        if g > 0.0:
            hi = q
        else:
            lo = q
        q_new = q - g / dg if dg > 0.0 else 0.5 * (lo + hi)
        if not (lo < q_new < hi):
            q_new = 0.5 * (lo + hi)
        if abs(q_new - q) <= 1e-14 * q_tr or hi - lo <= 1e-15 * q_tr:
            return q_new
        q = q_new
    return q


@njit(cache=True, error_model="numpy")
def _hill_split(s, nv, out, sn):
    """The modes of a symmetric traceless s about the unit axis nv (3,): out[0] axial
    (n.s.n)(3 n n - I)/2, out[2] transverse shear (n x sn + sn x n - 2 (n.s.n) n n), out[1] the rest
    (the in-plane deviator). Orthogonal; their sum is s. sn (3,): work vector, left holding s.n."""
    for i in range(3):
        sn[i] = s[i, 0] * nv[0] + s[i, 1] * nv[1] + s[i, 2] * nv[2]
    nsn = nv[0] * sn[0] + nv[1] * sn[1] + nv[2] * sn[2]
    for i in range(3):
        for j in range(3):
            out[0, i, j] = 0.5 * nsn * (3.0 * nv[i] * nv[j] - (1.0 if i == j else 0.0))
            out[2, i, j] = nv[i] * sn[j] + sn[i] * nv[j] - 2.0 * nsn * nv[i] * nv[j]
            out[1, i, j] = s[i, j] - out[0, i, j] - out[2, i, j]


@njit(cache=True, error_model="numpy")
def _creep_range(k0, k1, F, Cn, dp0, p, mu, dt_A, n, sigma_y, law, par, s_b, s_out, act, block, mode, y_last,
                 q_out, dp_out, dist_out, vm_out, J_out, P_out, C_out, A_out, S_out, Fbi_out):
    """The creep law at the points k0 <= k < k1 of F (N, 3, 3) with state Cn (N, 3, 3) = Cc^-1 at t_n and
    explicit increment dp0 (N,); p (N,): the pressure, used only for the tangent of p cof(F).

    act (m, 2): the active components (i, j) of F (axisymmetric 5, 3D 9); block: F and Cn are
    block-diagonal by construction ((r, z) block + hoop entry: axisymmetric), so the closed-form
    log applies (a 3D state that happens to be block-diagonal, e.g. be = I, still needs the
    derivative in the off-block directions: the series). Outputs:
    q_out trial von Mises Kirchhoff stress q_tr; dp_out creep increment; dist_out |be_tr - I|;
    vm_out von Mises Cauchy stress; J_out det F; P_out (N, m) deviatoric first Piola-Kirchhoff
    stress s F^-T; C_out (N, m) cof F = J F^-T. mode 1 (MODE_TANGENT) also writes A_out (N, m, m)
    = d(s F^-T + p cof F)/dF; both modes write mu dev log be_e (S_out: s itself, except for a Hill law
    whose modes have their own moduli) and Fbar^-1 (Fbi_out), from which `commit_points` gives Cc^-1
    at t_n+1 once the step has converged.
    law: LAW_NORTON (dt_A = theta dt A_eff, n, sigma_y), LAW_HILL (dt_A = dt A_eff, n; par = 3 Hill
    weights (axial, in-plane, transverse shear), the reference axis a, 3 modal moduli ratios; backward
    Euler, dp0 unused; the return is documented in docs/physics.md) or LAW_ANAND (fem/physics/anand_point.py:
    dt_A = theta dt, par its parameters, s_b (N,) the resistance with its explicit part, s_out (N,) the
    resistance at the end of the step).
    y_last (N,): the start of the return map from the previous call (Norton: over-stress q - sigma_y;
    Anand: log rate u; NaN/-1: none); updated."""
    m = act.shape[0]
    Fi = np.empty((3, 3))
    Fb = np.empty((3, 3))
    M = np.empty((3, 3))
    be = np.empty((3, 3))
    L = np.empty((3, 3))
    D = np.empty((6, 6))
    s_tr = np.empty((3, 3))
    s = np.empty((3, 3))
    P = np.empty((3, 3))
    dL = np.empty(6)
    db = np.empty(6)
    ds = np.empty((3, 3))
    w = [np.empty((3, 3)) for _ in range(3)]
    lam = np.empty(3)
    lg = np.empty(3)
    Wk = np.empty((6, 3, 3))
    Rk = np.empty((6, 3, 3))
    want_D = mode == MODE_TANGENT
    # LAW_HILL: the modes of the trial stress and of its increments, weights, axis, tangent vector u
    sk = np.empty((3, 3, 3))
    dsk = np.empty((3, 3, 3))
    hk = np.empty(3)
    rk = np.ones(3)    # the modes' shear moduli / mu (par[6:9]; 1 without)
    c3 = np.empty(3)   # 3 mu_k
    se = np.empty((3, 3))
    ak = np.empty(3)
    Dk = np.ones(3)
    nv = np.empty(3)
    snv = np.empty(3)
    dnv = np.empty(3)
    sdn = np.empty(3)
    fan = 1.0
    u = np.zeros((3, 3))
    hill_c = 0.0
    if law == LAW_HILL:
        for i in range(3):
            hk[i] = par[i]
            if par.shape[0] >= 9:
                rk[i] = par[6 + i]
            c3[i] = 3.0 * mu * rk[i]
    for k in range(k0, k1):
        f = F[k]
        J = _inv3(f, Fi)
        c = J ** (-1.0 / 3.0)
        for i in range(3):
            for j in range(3):
                Fb[i, j] = c * f[i, j]
        # M = Cn Fb^T, be = Fb M (symmetrised)
        Ck = Cn[k]
        for i in range(3):
            for j in range(3):
                M[i, j] = Ck[i, 0] * Fb[j, 0] + Ck[i, 1] * Fb[j, 1] + Ck[i, 2] * Fb[j, 2]
        _matmul(Fb, M, be)
        dist = 0.0
        for i in range(3):
            for j in range(i, 3):
                v = 0.5 * (be[i, j] + be[j, i])
                be[i, j] = be[j, i] = v
                x = v - (1.0 if i == j else 0.0)
                dist += x * x if i == j else 2.0 * x * x
        dist = math.sqrt(dist)
        if block:
            _log_block(be, L, D)
        else:
            _log_eig(be, L, D, want_D, lam, w[0], w[1], lg, w[2], Wk, Rk)
        tr3 = (L[0, 0] + L[1, 1] + L[2, 2]) / 3.0
        ss = 0.0
        for i in range(3):
            for j in range(3):
                s_tr[i, j] = mu * (L[i, j] - (tr3 if i == j else 0.0))
                ss += s_tr[i, j] * s_tr[i, j]
        q_tr = math.sqrt(1.5 * ss + (1e-14 * mu) ** 2)
        if law == LAW_HILL:
            # Hill-Norton (transversely isotropic about the current axis n = F^-T a / |F^-T a|, the
            # normal of the layers whose reference normal is a = par[3:6];
            # mode k has the shear modulus mu_k = mu par[6 + k], its trial stress mu_k P_k dev log be_tr):
            # the return is diagonal in the modes, s_k = s_tr_k / D_k, D_k = 1 + 3 mu_k h_k x,
            # x = dt_A q^(n-1), q the Hill stress (hill_equivalent); dp = x q. q_out holds q + 3 mu dp,
            # so that q_out - 3 mu dp is the end-of-step Hill stress, as for the isotropic returns.
            nn = 0.0
            for i in range(3):
                nv[i] = Fi[0, i] * par[3] + Fi[1, i] * par[4] + Fi[2, i] * par[5]
                nn += nv[i] * nv[i]
            fan = math.sqrt(nn)   # |F^-T a|
            for i in range(3):
                nv[i] /= fan
            _hill_split(s_tr, nv, sk, snv)   # snv = s_tr n, kept for the tangent's turn of n
            for a in range(3):
                acc = 0.0
                for i in range(3):
                    for j in range(3):
                        sk[a, i, j] *= rk[a]
                        acc += sk[a, i, j] * sk[a, i, j]
                ak[a] = acc
            qh = hill_equivalent(ak, hk, c3, dt_A, n, y_last[k])
            y_last[k] = qh
            xh = dt_A * qh ** (n - 1.0) if qh > 0.0 else 0.0
            sd2 = 0.0
            for a in range(3):
                Dk[a] = 1.0 + c3[a] * hk[a] * xh
                sd2 += c3[a] / 3.0 * hk[a] * hk[a] * ak[a] / (Dk[a] * Dk[a] * Dk[a])
            dp = xh * qh
            ss2 = 0.0
            for i in range(3):
                for j in range(3):
                    s[i, j] = sk[0, i, j] / Dk[0] + sk[1, i, j] / Dk[1] + sk[2, i, j] / Dk[2]
                    # mu times the elastic log strain, mu dev log be_new (for the commit's exp(. / mu))
                    se[i, j] = (sk[0, i, j] / (Dk[0] * rk[0]) + sk[1, i, j] / (Dk[1] * rk[1])
                                + sk[2, i, j] / (Dk[2] * rk[2]))
                    u[i, j] = (c3[0] * hk[0] * sk[0, i, j] / (Dk[0] * Dk[0]) + c3[1] * hk[1] * sk[1, i, j] / (Dk[1] * Dk[1])
                               + c3[2] * hk[2] * sk[2, i, j] / (Dk[2] * Dk[2]))
                    ss2 += s[i, j] * s[i, j]
            # ds = sum_k ds_tr_k / D_k - hill_c u (sum_k h_k s_tr_k : ds_tr_k / D_k^2), u = sum 3 mu_k h_k s_k / D_k,
            # hill_c = 3 (n - 1)(x/q) / d, d = 2 q + 9 (n - 1)(x/q) sum mu_k h_k^2 |s_k|^2 / D_k  (s_k returned)
            if qh > 0.0 and xh > 0.0:
                dh = 2.0 * qh + 9.0 * (n - 1.0) * (xh / qh) * sd2
                hill_c = 3.0 * (n - 1.0) * (xh / qh) / dh
            else:
                hill_c = 0.0
            q_tr = qh + 3.0 * mu * dp
            vm = math.sqrt(1.5 * ss2) / J
        else:
            if law == LAW_ANAND:
                dp, s_new, dpq, ua = anand_increment(q_tr, 3.0 * mu, dt_A, par, s_b[k], dp0[k], y_last[k])
                y_last[k] = ua
                s_out[k] = s_new
            else:
                dp = solve_increment(q_tr, 3.0 * mu, dt_A, n, sigma_y, dp0[k], y_last[k])
                y_last[k] = q_tr - 3.0 * mu * dp - sigma_y
                dpq = 0.0
            fac = 1.0 - 3.0 * mu * dp / q_tr
            for i in range(3):
                for j in range(3):
                    s[i, j] = fac * s_tr[i, j]
            vm = math.sqrt(1.5 * ss) * abs(fac) / J
        for i in range(3):
            for j in range(3):
                P[i, j] = s[i, 0] * Fi[j, 0] + s[i, 1] * Fi[j, 1] + s[i, 2] * Fi[j, 2]
        q_out[k] = q_tr
        dp_out[k] = dp
        dist_out[k] = dist
        vm_out[k] = vm
        J_out[k] = J
        for a in range(m):
            x, y = act[a, 0], act[a, 1]
            P_out[k, a] = P[x, y]
            C_out[k, a] = J * Fi[y, x]
        if mode == MODE_TANGENT:
            if law == LAW_NORTON:   # d(dp)/d(q_tr) of the Norton return map (Anand's comes with dp)
                over = q_tr - 3.0 * mu * dp - sigma_y
                if over > 0.0 and dt_A > 0.0:
                    r = dt_A * n * over ** (n - 1.0)
                    dpq = r / (1.0 + 3.0 * mu * r)
                else:
                    dpq = 0.0
            pk = p[k]
            ns = 4 if block else 6   # symmetric components that vary (00, 11, 22, 01 in the block case)
            for b in range(m):
                i, j = act[b, 0], act[b, 1]
                # dbe = c (E M + (E M)^T) - 2/3 Fi[j, i] be,  (E M)[x, :] = delta_xi M[j, :]
                tj = (2.0 / 3.0) * Fi[j, i]
                for r6 in range(ns):
                    x, y = _SYM_I[r6], _SYM_J[r6]
                    v = -tj * be[x, y]
                    if x == i:
                        v += c * M[j, y]
                    if y == i:
                        v += c * M[j, x]
                    db[r6] = v
                for r6 in range(ns):
                    acc = 0.0
                    for c6 in range(ns):
                        acc += D[r6, c6] * db[c6]
                    dL[r6] = acc
                dtr3 = (dL[0] + dL[1] + dL[2]) / 3.0
                # ds_tr (symmetric) from dL; dq = 3/2 s_tr : ds_tr / q_tr
                sd = 0.0
                for x in range(3):
                    for y in range(3):
                        ds[x, y] = 0.0
                for r6 in range(ns):
                    x, y = _SYM_I[r6], _SYM_J[r6]
                    v = mu * (dL[r6] - (dtr3 if x == y else 0.0))
                    ds[x, y] = v
                    ds[y, x] = v
                    sd += s_tr[x, y] * v * (1.0 if x == y else 2.0)
                if law == LAW_HILL:
                    # the increments of the trial modes: the split of ds_tr, plus the turn of the axis
                    # dn = (I - n n) dm / |m|, m = F^-T a, dm = -F^-T dF^T F^-T a (dF = e_i e_j:
                    # dm_x = -m_i Fi[j, x]), acting on s_tr:
                    #   d s_axial = (dn.s n)(3 n n - I) + 3/2 (n.s.n)(dn n + n dn)
                    #   d s_trans = dn sn + n (s dn) + (s dn) n + sn dn - 4 (dn.s n) n n - 2 (n.s.n)(dn n + n dn)
                    #   d s_inplane = -(d s_axial + d s_trans)
                    _hill_split(ds, nv, dsk, sdn)   # sdn: scratch here, set below
                    aj = nv[i]   # m_i / |m|
                    nsn = nv[0] * snv[0] + nv[1] * snv[1] + nv[2] * snv[2]
                    nfj = nv[0] * Fi[j, 0] + nv[1] * Fi[j, 1] + nv[2] * Fi[j, 2]
                    for x in range(3):
                        dnv[x] = -aj * (Fi[j, x] - nv[x] * nfj)
                    if aj != 0.0:
                        dns = dnv[0] * snv[0] + dnv[1] * snv[1] + dnv[2] * snv[2]
                        for x in range(3):
                            sdn[x] = s_tr[x, 0] * dnv[0] + s_tr[x, 1] * dnv[1] + s_tr[x, 2] * dnv[2]
                        for x in range(3):
                            for y in range(3):
                                dnn = dnv[x] * nv[y] + nv[x] * dnv[y]
                                da = dns * (3.0 * nv[x] * nv[y] - (1.0 if x == y else 0.0)) + 1.5 * nsn * dnn
                                dt_ = (dnv[x] * snv[y] + nv[x] * sdn[y] + sdn[x] * nv[y] + snv[x] * dnv[y]
                                       - 4.0 * dns * nv[x] * nv[y] - 2.0 * nsn * dnn)
                                dsk[0, x, y] += da
                                dsk[2, x, y] += dt_
                                dsk[1, x, y] -= da + dt_
                    ud = 0.0
                    for x in range(3):
                        for y in range(3):
                            for a in range(3):
                                dsk[a, x, y] *= rk[a]   # the modes' moduli
                                ud += hk[a] / (Dk[a] * Dk[a]) * sk[a, x, y] * dsk[a, x, y]
                    for x in range(3):
                        for y in range(3):
                            ds[x, y] = (dsk[0, x, y] / Dk[0] + dsk[1, x, y] / Dk[1] + dsk[2, x, y] / Dk[2]
                                        - hill_c * ud * u[x, y])
                else:
                    dq = 1.5 * sd / q_tr
                    ddp = dpq * dq
                    dfac = -3.0 * mu * (ddp * q_tr - dp * dq) / (q_tr * q_tr)
                    for x in range(3):
                        for y in range(3):
                            ds[x, y] = dfac * s_tr[x, y] + fac * ds[x, y]
                for a in range(m):
                    x, y = act[a, 0], act[a, 1]
                    v = (ds[x, 0] * Fi[y, 0] + ds[x, 1] * Fi[y, 1] + ds[x, 2] * Fi[y, 2]
                         - P[x, j] * Fi[y, i])
                    if pk != 0.0:
                        v += pk * J * (Fi[j, i] * Fi[y, x] - Fi[y, i] * Fi[j, x])
                    A_out[k, a, b] = v
        for i in range(3):   # the state for `commit_points`
            for j in range(3):
                S_out[k, i, j] = se[i, j] if law == LAW_HILL else s[i, j]
                Fbi_out[k, i, j] = Fi[i, j] / c


@aot.export(F3, F3, F1, F1, F8, F8, F8, F8, I8, F1, F1, F1, aot.array("i8", 2), B1, I8, F1,
            F1, F1, F1, F1, F1, F2, F2, F3, F3, F3)
@njit(cache=True, error_model="numpy")
def creep_points(F, Cn, dp0, p, mu, dt_A, n, sigma_y, law, par, s_b, s_out, act, block, mode, y_last,
                 q_out, dp_out, dist_out, vm_out, J_out, P_out, C_out, A_out, S_out, Fbi_out):
    """The creep law at every point k of F (N, 3, 3), serially; see `_creep_range`."""
    _creep_range(0, F.shape[0], F, Cn, dp0, p, mu, dt_A, n, sigma_y, law, par, s_b, s_out, act, block, mode,
                 y_last, q_out, dp_out, dist_out, vm_out, J_out, P_out, C_out, A_out, S_out, Fbi_out)


@njit(cache=True, error_model="numpy", parallel=True)
def creep_points_parallel(chunks, F, Cn, dp0, p, mu, dt_A, n, sigma_y, law, par, s_b, s_out, act, block, mode,
                          y_last, q_out, dp_out, dist_out, vm_out, J_out, P_out, C_out, A_out, S_out, Fbi_out):
    """`creep_points` over `chunks` contiguous ranges of points on numba's threads (each point is
    independent: the same numbers as the serial loop, bit for bit)."""
    N = F.shape[0]
    for c in prange(chunks):
        _creep_range(c * N // chunks, (c + 1) * N // chunks, F, Cn, dp0, p, mu, dt_A, n, sigma_y, law, par, s_b,
                     s_out, act, block, mode, y_last, q_out, dp_out, dist_out, vm_out, J_out, P_out, C_out, A_out,
                     S_out, Fbi_out)


@aot.export(F3, F3, F8, F3)
@njit(cache=True, error_model="numpy")
def commit_points(S, Fbi, mu, Cnew_out):
    """Cc^-1 at t_n+1 = Fbar^-1 exp(s/mu) Fbar^-T (det renormalised to 1) from the deviatoric
    Kirchhoff stress s and Fbar^-1 of the converged state; exp by Taylor to the 7th power."""
    E = np.empty((3, 3))
    T = np.empty((3, 3))
    for k in range(S.shape[0]):
        s = S[k]
        Fb = Fbi[k]
        for i in range(3):
            for j in range(3):
                E[i, j] = 1.0 if i == j else 0.0
        for kk in range(7, 0, -1):
            _matmul(s, E, T)
            for i in range(3):
                for j in range(3):
                    E[i, j] = (1.0 if i == j else 0.0) + T[i, j] / (mu * kk)
        _matmul(Fb, E, T)
        Cw = Cnew_out[k]
        for i in range(3):
            for j in range(3):
                Cw[i, j] = T[i, 0] * Fb[j, 0] + T[i, 1] * Fb[j, 1] + T[i, 2] * Fb[j, 2]
        sc = _det3(Cw) ** (-1.0 / 3.0)
        for i in range(3):
            for j in range(3):
                Cw[i, j] *= sc


@njit(cache=True, error_model="numpy")
def _solve_many(q_tr, mubar, dt_A, n, sigma_y, dp0, out):
    for k in range(q_tr.size):
        out[k] = solve_increment(q_tr[k], 3.0 * mubar[k], dt_A, n, sigma_y, dp0[k])


def solve_creep_increment(q_tr, mubar, dt_A: float, n: float, sigma_y: float = 0.0, dp_explicit=None):
    """Vectorised `solve_increment`: dp at every point (arrays of q_tr and mu; dp_explicit: the
    explicit part of a theta-method step, 0 for backward Euler)."""
    q_tr = np.ascontiguousarray(q_tr, dtype=float)
    mubar = np.ascontiguousarray(np.broadcast_to(mubar, q_tr.shape), dtype=float)
    dp0 = np.zeros_like(q_tr) if dp_explicit is None else np.ascontiguousarray(dp_explicit, dtype=float)
    out = np.empty_like(q_tr)
    _solve_many(q_tr, mubar, float(dt_A), float(n), float(sigma_y), dp0, out)
    return out


def kernel_threads(ranks: int = 1) -> int:
    """Threads of the pointwise kernel in one process: FEM_KERNEL_THREADS when set (a sweep sets 1:
    it runs cases side by side, fem/workflows/executor.py), else the cores this process may use
    shared among its MPI ranks (1 on 2 ranks of a 2-core machine)."""
    env = os.environ.get("FEM_KERNEL_THREADS", "").strip()
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            raise ValueError(f"FEM_KERNEL_THREADS must be a positive integer, got {env!r}") from None
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:   # not Linux
        cores = os.cpu_count() or 1
    return max(1, cores // max(1, ranks))


def set_kernel_threads(threads: int) -> int:
    """Use at most `threads` numba threads (bounded by numba's pool, NUMBA_NUM_THREADS); returns the count."""
    import numba
    t = max(1, min(int(threads), numba.config.NUMBA_NUM_THREADS))
    if t > 1:
        numba.set_num_threads(t)
    return t


class CreepPoints:
    """Work arrays of `creep_points` for N points with m active components of F."""

    def __init__(self, N: int, act, threads: int = 1, axis=(0.0, 0.0, 1.0)):
        """axis: the reference symmetry axis of a Hill law (the disc's thickness direction in the
        components of F: fem/physics/kinematics.py thickness_axis)."""
        self.axis = np.asarray(axis, dtype=float)
        self.threads = max(1, int(threads))   # requested; numba's pool is set at the first threaded call
        self._pool_threads = None
        self.ran_threaded = False             # whether a call used the threaded kernel
        self.act = np.ascontiguousarray(np.asarray(act, dtype=np.int64).reshape(-1, 2))
        off_block = {(0, 2), (2, 0), (1, 2), (2, 1)}
        self.block = not any(tuple(ij) in off_block for ij in self.act.tolist())
        m = self.act.shape[0]
        self.q_tr, self.dp, self.dist, self.vm, self.J = (np.zeros(N) for _ in range(5))
        self.P = np.zeros((N, m))
        self.C = np.zeros((N, m))
        self.A = np.zeros((N, m, m))
        self.S = np.zeros((N, 3, 3))
        self.Fbi = np.zeros((N, 3, 3))
        self.Cnew = np.zeros((N, 3, 3))
        self.y_last = np.full(N, np.nan)   # no previous iterate
        self.p_zero = np.zeros(N)
        self.mu = 0.0
        self.s_out = np.zeros(N)      # Anand: the resistance at the end of the step (MPa)
        self._no_par = np.zeros(1)

    def run(self, mat, F, Cn, dp0, dt_A: float, mode: int, p=None, s_b=None) -> None:
        """mat: LiCreep, dt_A = theta dt A_eff (a PlyViscoplastic with Hill weights: the Hill-Norton
        return, backward Euler only: dp0 is not used); or LiAnand (fem/physics/materials.py), dt_A = theta dt and
        s_b the resistance at t_n with its explicit part (N,)."""
        self.mu = float(mat.shear_modulus_MPa)
        if getattr(mat, "is_anand", False):
            law, par, n, sy, sb = LAW_ANAND, mat.kernel_array, 0.0, 0.0, s_b
        elif getattr(mat, "is_hill", False):   # Hill-Norton: the weights, then the reference axis
            par = np.concatenate([mat.hill_weights, self.axis, mat.hill_moduli])
            law, n, sy, sb = LAW_HILL, float(mat.creep_n), 0.0, self.p_zero
        else:
            law, par, n, sy, sb = LAW_NORTON, self._no_par, float(mat.creep_n), float(mat.threshold_stress_MPa), self.p_zero
        args = (F, Cn, dp0, self.p_zero if p is None else p, self.mu, float(dt_A), n, sy, law, par, sb, self.s_out,
                self.act, self.block, mode, self.y_last,
                self.q_tr, self.dp, self.dist, self.vm, self.J, self.P, self.C, self.A, self.S, self.Fbi)
        threads = self.threads
        min_points = PARALLEL_MIN_POINTS if aot.compiled_module() is None else \
            (PARALLEL_AOT_MIN_POINTS_HILL if law == LAW_HILL else PARALLEL_AOT_MIN_POINTS)
        if threads > 1 and F.shape[0] >= min_points:
            if self._pool_threads is None:
                self._pool_threads = set_kernel_threads(threads)
            creep_points_parallel(self._pool_threads, *args)
            self.ran_threaded = True
        else:
            creep_points(*args)

    def commit(self) -> np.ndarray:
        """Cc^-1 at t_n+1 (N, 3, 3) from the state of the last `run`."""
        commit_points(self.S, self.Fbi, self.mu, self.Cnew)
        return self.Cnew
