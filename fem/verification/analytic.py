"""Closed-form and exact reference solutions used to verify the solver (mm, N, MPa, s)."""
from __future__ import annotations

import math

import numpy as np
from scipy.optimize import fsolve

from fem.physics.materials import LiCreep


def elastic_uniaxial_stretches(mat: LiCreep, pressure_MPa: float) -> tuple[float, float]:
    """Exact homogeneous solution of the model's hyperelastic law between frictionless platens,
    under a constant *nominal* pressure P = F/(pi R0^2). Returns (lambda_r, lambda_z).

    Kirchhoff stress tau = mu log(J^-2/3 b) + J U'(J) I with U'(J) = K (J - 1), b = diag(lr^2, lr^2, lz^2),
    so tau_rr = 2/3 mu ln(lr/lz) + J U'(J) and tau_zz = 4/3 mu ln(lz/lr) + J U'(J).
    Conditions: tau_rr = 0 (free rim) and tau_zz = J sigma_zz = -P lz (force P pi R0^2 on area pi R0^2 lr^2).
    """
    P = pressure_MPa

    def eqs(v):
        lr, lz = v
        t_rr, t_zz = _kirchhoff_rr_zz(mat, lr, lz)
        return [t_rr / mat.shear_modulus_MPa, (t_zz + P * lz) / mat.shear_modulus_MPa]

    e = P / mat.youngs_modulus_MPa
    sol, info, ier, msg = fsolve(eqs, [1.0 + mat.poisson_ratio * e, 1.0 - e], xtol=1e-15, full_output=True)
    if ier != 1 and max(abs(np.asarray(eqs(sol)))) > 1e-13:
        raise RuntimeError(f"elastic reference did not converge: {msg}")
    return float(sol[0]), float(sol[1])


def _kirchhoff_rr_zz(mat: LiCreep, lr: float, lz: float) -> tuple[float, float]:
    """Radial and axial Kirchhoff stress of the package's elastic law (fem/physics/laws.py) for
    the homogeneous elastic stretches (lr, lr, lz)."""
    mu, K = mat.shear_modulus_MPa, mat.bulk_modulus_MPa
    J = lr * lr * lz
    vol = J * K * (J - 1.0)
    d = math.log(lr / lz)
    return 2.0 / 3.0 * mu * d + vol, -4.0 / 3.0 * mu * d + vol


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


def _elastic_state(mat: LiCreep, nominal_P: float, creep_eps: float, guess=None):
    """Elastic stretches (lr_e, lz_e) and the Kirchhoff von Mises stress of the homogeneous disc
    with axial creep log-strain creep_eps under the constant nominal pressure (force / pi R0^2)."""
    mu = mat.shear_modulus_MPa
    cr = math.exp(0.5 * creep_eps)   # creep stretch, radial (isochoric: cr^2 cz = 1)

    def eqs(v):
        lr, lz = v
        t_rr, t_zz = _kirchhoff_rr_zz(mat, lr, lz)
        # tau_rr = 0; tau_zz = J sigma_zz = -F/(pi (R0 cr lr)^2) * J = -P lz / cr^2
        return [t_rr / mu, (t_zz + nominal_P * lz / cr ** 2) / mu]

    e = nominal_P / cr ** 2 / mat.youngs_modulus_MPa
    sol, _, ier, _ = fsolve(eqs, guess if guess is not None else [1.0 + mat.poisson_ratio * e, 1.0 - e],
                            xtol=1e-14, full_output=True)
    lr, lz = float(sol[0]), float(sol[1])
    q = 2.0 * mu * abs(math.log(lr / lz))   # |tau_zz - tau_rr|
    return lr, lz, q


def creep_changes_exact_pct(mat: LiCreep, pressure_MPa: float, t_s: float) -> tuple[float, float]:
    """(thickness reduction %, diameter increase %) of the homogeneous constant-force solution of
    *this package's* law including elasticity (frictionless platens): the axial creep log-strain
    obeys d(eps_c)/dt = A_eff <q - sigma_y>^n with q the Kirchhoff von Mises stress of the elastic
    state in equilibrium with the force, integrated by scipy's Radau to rtol 1e-12. It differs
    from `creep_changes_pct` (elasticity neglected) by ~0.1 % at 5 MPa, which is more than the
    time-integration errors being measured, hence this reference for the benchmarks."""
    from scipy.integrate import solve_ivp
    n, A, sy = mat.creep_n, mat.creep_A_eff, mat.threshold_stress_MPa

    def rhs(_t, y):
        q = _elastic_state(mat, pressure_MPa, y[0])[2]
        return [A * max(q - sy, 0.0) ** n]

    sol = solve_ivp(rhs, (0.0, t_s), [0.0], method="Radau", rtol=1e-12, atol=1e-14)
    eps = float(sol.y[0, -1])
    lr, lz, _ = _elastic_state(mat, pressure_MPa, eps)
    return 100.0 * (1.0 - lz * math.exp(-eps)), 100.0 * (lr * math.exp(0.5 * eps) - 1.0)


def anand_rates_reference(mat, q: float, s: float) -> tuple[float, float]:
    """(pdot, sdot) of the Anand-type law (fem/physics/materials.py LiAnand), written out here from its
    equations, independently of the compiled point update (fem/physics/anand_point.py):
    pdot = nu0 (q/s)^(1/m) (power) or nu0 sinh(xi q/s)^(1/m) (sinh), s* = S_tilde (pdot/nu0)^n,
    sdot = H0 |1 - s/s*|^a sign(1 - s/s*) pdot."""
    nu0, m = mat.rate_prefactor_per_s, mat.rate_sensitivity
    if q <= 0.0:
        return 0.0, 0.0
    x = q / s if mat.flow_form == "power" else math.sinh(mat.sinh_multiplier * q / s)
    nu = nu0 * x ** (1.0 / m)
    s_star = mat.saturation_coefficient_MPa * (nu / nu0) ** mat.saturation_exponent
    g = 1.0 - s / s_star
    return nu, mat.hardening_modulus_MPa * abs(g) ** mat.hardening_exponent * math.copysign(1.0, g) * nu


def anand_creep_changes_exact_pct(mat, pressure_MPa: float, t_s: float) -> tuple[float, float]:
    """`creep_changes_exact_pct` for the Anand-type law: the homogeneous, frictionless disc under a
    constant force applied at t = 0, elasticity included; state (axial creep log-strain, flow
    resistance s), s(0) = S0, integrated by scipy's Radau to rtol 1e-12."""
    from scipy.integrate import solve_ivp

    def rhs(_t, y):
        q = _elastic_state(mat, pressure_MPa, y[0])[2]
        return list(anand_rates_reference(mat, q, y[1]))

    sol = solve_ivp(rhs, (0.0, t_s), [0.0, mat.initial_resistance_MPa], method="Radau", rtol=1e-12, atol=1e-14)
    eps = float(sol.y[0, -1])
    lr, lz, _ = _elastic_state(mat, pressure_MPa, eps)
    return 100.0 * (1.0 - lz * math.exp(-eps)), 100.0 * (lr * math.exp(0.5 * eps) - 1.0)
