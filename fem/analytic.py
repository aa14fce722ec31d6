"""Closed-form and exact reference solutions used to verify the solver (mm, N, MPa, s)."""
from __future__ import annotations

import math

import numpy as np
from scipy.optimize import fsolve

from .materials import LiCreep


def elastic_uniaxial_stretches(mat: LiCreep, pressure_MPa: float) -> tuple[float, float]:
    """Exact homogeneous solution of the model's hyperelastic law between frictionless platens,
    under a constant *nominal* pressure P = F/(pi R0^2). Returns (lambda_r, lambda_z).

    Kirchhoff stress tau = mu dev(J^-2/3 b) + J U'(J) I with U'(J) = K/2 (J - 1/J), b = diag(lr^2, lz^2, lr^2).
    Conditions: tau_rr = 0 (free rim) and tau_zz = J sigma_zz = -P lz (force P pi R0^2 on area pi R0^2 lr^2).
    """
    mu, K, P = mat.shear_modulus_MPa, mat.bulk_modulus_MPa, pressure_MPa

    def eqs(v):
        lr, lz = v
        J = lr * lr * lz
        iso = mu * J ** (-2.0 / 3.0)
        vol = J * 0.5 * K * (J - 1.0 / J)
        return [(iso * (lr * lr - lz * lz) / 3.0 + vol) / mu,
                (iso * 2.0 * (lz * lz - lr * lr) / 3.0 + vol + P * lz) / mu]

    e = P / mat.youngs_modulus_MPa
    sol, info, ier, msg = fsolve(eqs, [1.0 + mat.poisson_ratio * e, 1.0 - e], xtol=1e-15, full_output=True)
    if ier != 1 and max(abs(np.asarray(eqs(sol)))) > 1e-13:
        raise RuntimeError(f"elastic reference did not converge: {msg}")
    return float(sol[0]), float(sol[1])


def creep_true_strain(mat: LiCreep, pressure_MPa: float, t_s: float) -> float:
    """Axial true creep strain under constant force, frictionless, elasticity neglected:
    eps(t) = ln(1 + n A P0^n t)/n, from sigma = P0 e^eps and deps/dt = A sigma^n."""
    n, A = mat.creep_n, mat.creep_A_eff
    return math.log1p(n * A * pressure_MPa ** n * t_s) / n


def creep_changes_pct(mat: LiCreep, pressure_MPa: float, t_s: float) -> tuple[float, float]:
    """(thickness reduction %, diameter increase %) of the constant-force creep solution."""
    eps = creep_true_strain(mat, pressure_MPa, t_s)
    return 100.0 * (1.0 - math.exp(-eps)), 100.0 * (math.exp(0.5 * eps) - 1.0)


def relaxation_stress(mat: LiCreep, sigma0_MPa: float, t_s: float) -> float:
    """Uniaxial Norton stress relaxation at fixed total strain (small elastic strain):
    1/sigma^(n-1) - 1/sigma0^(n-1) = (n - 1) E A t."""
    n, A, E = mat.creep_n, mat.creep_A_eff, mat.youngs_modulus_MPa
    return (sigma0_MPa ** (1.0 - n) + (n - 1.0) * E * A * t_s) ** (1.0 / (1.0 - n))
