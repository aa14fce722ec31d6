"""The Anand-type Li law at one material point (fem/physics/anand_point.py, LiAnand).

Verification against an independent integration of the same equations: scipy's solve_ivp (Radau,
rtol 1e-11) integrates the rate equations of p and s directly, while the point update advances the
deviatoric-strain-driven point (q = 3 mu (eps - p), the 1D reduction of the kernel's J2 return, exact
for a proportional path) with `anand_increment` in small steps. Histories agree to 1e-3 relative.
"""
import math

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from fem.physics import anand_point
from fem.physics.anand_point import (AnandPoint, anand_increment, anand_increments, anand_rates, explicit_parts,
                                     flow_rate, flow_stress, saturation_value)
from fem.physics.creep_point import solve_increment
from fem.physics.materials import LI_ANAND_SOURCES, R_GAS, LiAnand

MAT = LiAnand()
M3 = 3.0 * MAT.shear_modulus_MPa


def _rates(mat, q, s):
    """The rate equations written out independently of the kernel (power or sinh flow rule)."""
    if q <= 0.0:
        return 0.0, 0.0
    nu0, m = mat.rate_prefactor_per_s, mat.rate_sensitivity
    if mat.flow_form == "power":
        nu = nu0 * (q / s) ** (1.0 / m)
    else:
        nu = nu0 * math.sinh(mat.sinh_multiplier * q / s) ** (1.0 / m)
    x = 1.0 - s / (mat.saturation_coefficient_MPa * (nu / nu0) ** mat.saturation_exponent)
    return nu, mat.hardening_modulus_MPa * math.copysign(abs(x) ** mat.hardening_exponent, x) * nu


def _ode(mat, q_of, t_eval, y0):
    """p(t), s(t) from solve_ivp with q = q_of(t, p)."""
    def f(t, y):
        return _rates(mat, q_of(t, y[0]), y[1])
    sol = solve_ivp(f, (t_eval[0], t_eval[-1]), y0, method="Radau", rtol=1e-11, atol=[1e-15, 1e-13],
                    t_eval=t_eval)
    assert sol.success
    return sol.y[0], sol.y[1]


def _rel(num, ref, floor):
    """max |num - ref| / |ref| over the points where |ref| > floor."""
    mask = np.abs(ref) > floor
    return float(np.max(np.abs(num - ref)[mask] / np.abs(ref[mask])))


def test_every_default_has_a_source_and_bad_input_names_its_field():
    """Requirement: every LiAnand default carries its source (the public MOOSE input files it was read
    from, or ASSUMPTION); the Narayan & Anand 2018 set is a valid LiAnand; out-of-range
    values raise one ValueError that names the field and its allowed range."""
    names = [f for f in LiAnand.__dataclass_fields__]
    assert set(names) == set(LI_ANAND_SOURCES)
    for f in names:
        src = LI_ANAND_SOURCES[f]
        assert "MOOSE set" in src or "ASSUMPTION" in src, f   # where the default set was read (not NA2018)
    from fem.physics.materials import NA2018
    na = LiAnand(**NA2018)
    assert na.rate_prefactor_per_s == 0.05 and na.saturation_exponent == 0.0
    assert MAT.rate_prefactor_per_s == pytest.approx(4.25e4 * math.exp(-37000.0 / (R_GAS * 298.0)), rel=1e-14)
    hot = LiAnand(temperature_K=333.0)
    assert hot.rate_prefactor_per_s / MAT.rate_prefactor_per_s == pytest.approx(
        math.exp(37000.0 / R_GAS * (1 / 298.0 - 1 / 333.0)), rel=1e-13)
    for kw, field, rule in [
        (dict(rate_sensitivity=0.0), "rate_sensitivity", "in (0, 1]"),
        (dict(rate_sensitivity=1.5), "rate_sensitivity", "in (0, 1]"),
        (dict(initial_resistance_MPa=-1.0), "initial_resistance_MPa", "> 0"),
        (dict(hardening_exponent=0.5), "hardening_exponent", "in [1, 10]"),
        (dict(saturation_exponent=0.6), "saturation_exponent", "in [0, 1/hardening_exponent)"),
        (dict(flow_form="exp"), "flow_form", "one of power, sinh"),
        (dict(poisson_ratio=0.5), "poisson_ratio", "in (-1, 0.5)"),
        (dict(flow_prefactor_per_s=float("nan")), "flow_prefactor_per_s", "a finite number"),
        (dict(temperature_K=0.0), "temperature_K", "in (0, 2000]"),
        (dict(hardening_modulus_MPa="10"), "hardening_modulus_MPa", "a finite number"),
    ]:
        with pytest.raises(ValueError) as err:
            LiAnand(**kw)
        msg = str(err.value)
        assert msg.startswith(f"LiAnand.{field} = ") and rule in msg and "\n" not in msg, msg


def _random_case(rng):
    a = float(rng.choice([1.0, 1.5, 2.0, 3.0]))
    mat = LiAnand(rate_sensitivity=rng.uniform(0.05, 1.0), saturation_exponent=rng.uniform(0.0, 0.3),
                  hardening_exponent=a, flow_form=str(rng.choice(["power", "sinh"])),
                  hardening_modulus_MPa=10 ** rng.uniform(-2, 4), saturation_coefficient_MPa=10 ** rng.uniform(-1, 1),
                  sinh_multiplier=10 ** rng.uniform(-1, 1), temperature_K=rng.uniform(250.0, 360.0))
    return mat, 10 ** rng.uniform(-6, 3), 10 ** rng.uniform(-8, 6), 10 ** rng.uniform(-1, 1)


def test_return_map_solves_its_equations_and_its_derivative_is_exact():
    """Requirement: the return map solves q = P(nu, s) and s = s_b + H0 d phi(1 - s/s*) (weak to
    complete creep, hardening and softening, power and sinh, a = 1, 1.5, 2, 3) to round-off, keeps
    s between s_b and s*, and d(dp)/d(q_tr) equals a central difference of dp (the consistent tangent)."""
    rng = np.random.default_rng(16)
    worst_res, worst_der = 0.0, 0.0
    for _ in range(400):
        mat, q_tr, tdt, s_b = _random_case(rng)
        par, m3 = mat.kernel_parameters(), 3.0 * mat.shear_modulus_MPa
        dp, s, dpq, u = anand_increment(q_tr, m3, tdt, par, s_b, 0.0, np.nan)
        q, nu = q_tr - m3 * dp, dp / tdt
        assert 0.0 < dp < q_tr / m3 and u == pytest.approx(math.log(nu), abs=1e-12 * max(1.0, abs(u)))
        worst_res = max(worst_res, abs(q - flow_stress(nu, s, par)) / q_tr)
        s_sat = saturation_value(nu, par)
        x = 1.0 - s / s_sat
        res_s = s - s_b - mat.hardening_modulus_MPa * dp * math.copysign(abs(x) ** mat.hardening_exponent, x)
        assert abs(res_s) <= 1e-12 * max(s, s_b)
        assert min(s_b, s_sat) * (1 - 1e-14) <= s <= max(s_b, s_sat) * (1 + 1e-14)
        h = 1e-5 * q_tr
        fd = (anand_increment(q_tr + h, m3, tdt, par, s_b, 0.0, np.nan)[0]
              - anand_increment(q_tr - h, m3, tdt, par, s_b, 0.0, np.nan)[0]) / (2 * h)
        if dpq > 1e-10 / m3:   # below that dp is flat in q_tr and the difference is round-off
            worst_der = max(worst_der, abs(fd - dpq) / dpq)
        # a warm start from a nearby solution gives the same root
        dp2 = anand_increment(q_tr, m3, tdt, par, s_b, 0.0, u + 0.3)[0]
        assert dp2 == pytest.approx(dp, rel=1e-12)
    assert worst_res < 1e-13, worst_res
    assert worst_der < 1e-6, worst_der


def test_li_parameter_set_gives_a_single_root():
    """Requirement: for the Li parameters the scalar equation F(u) = 0 of the return map is increasing
    in u (one root; sampled over trial stresses 1e-4..1e3 MPa, theta dt 1e-8..1e6 s and resistances
    0.1..20 MPa, i.e. strong softening too). For arbitrary parameters (extreme softening) F need not
    be monotone; the bracketed solver still returns a root (test above)."""
    par = MAT.kernel_parameters()
    rng = np.random.default_rng(7)
    for _ in range(300):
        y, tdt, s_b = 10 ** rng.uniform(-4, 3), 10 ** rng.uniform(-8, 6), 10 ** rng.uniform(-1, 1.3)
        u_max = math.log(y / (M3 * tdt))
        F = [anand_point._evaluate(u, tdt * math.exp(u), y, M3, s_b, par)[0]
             for u in u_max - np.geomspace(1e-12, 80.0, 200)[::-1]]
        assert np.all(np.diff(F) > 0.0)


def test_theta_step_explicit_part_and_no_flow():
    """Requirement (kernel contract): dp = dp0 + d with the explicit part dp0 of a theta-step; where the
    explicit part alone relaxes the trial stress (q_tr - 3 mu dp0 <= 0) or dt = 0 nothing more flows:
    dp = dp0, s = s_b, d(dp)/d(q_tr) = 0."""
    par = MAT.kernel_parameters()
    dp, s, dpq, u = anand_increment(1.0, M3, 0.5, par, 1.2, 0.3 / M3, np.nan)
    y_tr = 1.0 - 0.3
    dpb, sb, dpqb, _ = anand_increment(y_tr, M3, 0.5, par, 1.2, 0.0, np.nan)
    assert dp == pytest.approx(0.3 / M3 + dpb, rel=1e-14) and s == sb and dpq == pytest.approx(dpqb, rel=1e-13)
    assert anand_increment(1.0, M3, 0.5, par, 1.2, 2.0 / M3, np.nan) == (2.0 / M3, 1.2, 0.0, -math.inf)
    assert anand_increment(1.0, M3, 0.0, par, 1.2, 0.0, np.nan) == (0.0, 1.2, 0.0, -math.inf)
    nu, sdot = anand_rates(0.0, 1.0, par)
    assert nu == 0.0 and sdot == 0.0
    q_n, s_n = np.array([0.8, 0.0]), np.array([1.1, 1.0])
    dp0, s_b = np.empty(2), np.empty(2)
    explicit_parts(q_n, s_n, par, 2.0, 0.5, dp0, s_b)
    nu, sdot = anand_rates(0.8, 1.1, par)
    assert dp0[0] == nu and s_b[0] == 1.1 + sdot and nu > 0.0 and sdot > 0.0   # 1.1 < s*: hardening
    assert dp0[1] == 0.0 and s_b[1] == 1.0
    dps, ss, _, _ = anand_increments(np.array([1.0, 2.0]), MAT.shear_modulus_MPa, 0.5, par, 1.2)
    assert dps[1] == anand_increment(2.0, M3, 0.5, par, 1.2, 0.0, np.nan)[0]


def test_without_hardening_it_is_the_norton_kernel():
    """Requirement: with H0 = 0 the flow resistance stays at S0 and the power-form law is Norton creep
    pdot = A_N q^n_N with A_N = nu0 S0^(-1/m), n_N = 1/m: dp equals the verified Norton return map
    (fem/physics/creep_point.py solve_increment) to 1e-12."""
    mat = LiAnand(hardening_modulus_MPa=0.0)
    par = mat.kernel_parameters()
    n_N = 1.0 / mat.rate_sensitivity
    A_N = mat.rate_prefactor_per_s * mat.initial_resistance_MPa ** (-n_N)
    for q_tr in (0.05, 0.5, 2.0, 20.0, 300.0):
        for tdt in (1e-4, 1e-1, 10.0, 1e4):
            dp, s, _, _ = anand_increment(q_tr, M3, tdt, par, mat.initial_resistance_MPa, 0.0, np.nan)
            assert s == mat.initial_resistance_MPa
            assert dp == pytest.approx(solve_increment(q_tr, M3, tdt * A_N, n_N, 0.0, 0.0), rel=1e-12)


@pytest.mark.parametrize("rate", [1e-6, 1e-4, 1e-2])
def test_constant_strain_rate_matches_the_ode(rate):
    """Requirement: constant true strain rate to 20 % strain (uniaxial compression and tension give the
    same von Mises history): the point update (trapezoidal, 1e5 steps) gives the stress history of the
    ODE integration to 1e-3 relative, and s at the end to 1e-6; backward Euler (2e5 steps) at 1e-4 /s too."""
    strain = 0.2
    T = strain / rate
    t = np.linspace(0.0, T, 100_001)
    every = 50
    p_ref, s_ref = _ode(MAT, lambda tt, p: M3 * (rate * tt - p), t[::every], [0.0, MAT.initial_resistance_MPa])
    q_ref = M3 * (rate * t[::every] - p_ref)
    pt = AnandPoint(MAT, theta=0.5)
    q = np.zeros(t.size)
    for k in range(1, t.size):
        q[k] = pt.strain_step(rate * t[k], t[k] - t[k - 1])
    assert _rel(q[::every], q_ref, 0.05 * q_ref.max()) < 1e-3
    assert pt.s == pytest.approx(s_ref[-1], rel=1e-6)
    # hardening towards, but still below, the steady state S_tilde (rate/nu0)^(m + n)
    assert q_ref[-1] < MAT.steady_state_stress_MPa(rate) and s_ref[-1] > MAT.initial_resistance_MPa
    if rate == 1e-4:
        t2 = np.linspace(0.0, T, 200_001)
        pt = AnandPoint(MAT, theta=1.0)
        q2 = np.zeros(t2.size)
        for k in range(1, t2.size):
            q2[k] = pt.strain_step(rate * t2[k], t2[k] - t2[k - 1])
        assert _rel(q2[::2 * every], q_ref, 0.05 * q_ref.max()) < 1e-3


@pytest.mark.parametrize("stress, duration", [(1.0, 100.0), (10.0, 2e-4)])
def test_constant_stress_creep_matches_the_ode(stress, duration):
    """Requirement: creep at a constant von Mises stress of 1 and 10 MPa (instantaneous elastic load at
    t = 0, then the held stress by a Newton iteration on the strain with the consistent tangent):
    the creep strain history matches the ODE to 1e-3 relative (trapezoidal and backward Euler)."""
    t = np.concatenate([[0.0], np.geomspace(duration * 1e-8, duration, 4000)])
    p_ref, _ = _ode(MAT, lambda tt, p: stress, t, [0.0, MAT.initial_resistance_MPa])
    for theta, refine in ((0.5, 1), (1.0, 5)):
        tt = np.concatenate([[0.0], np.geomspace(duration * 1e-8, duration, 3999 * refine + 1)])
        pt = AnandPoint(MAT, theta=theta)
        pt.q = stress   # elastic response at t = 0+
        p = np.zeros(tt.size)
        for k in range(1, tt.size):
            p[k] = pt.stress_step(stress, tt[k] - tt[k - 1])
        p = np.concatenate([[0.0], p[1::refine]])   # at the times of t
        assert _rel(p, p_ref, 1e-6 * p_ref[-1]) < 1e-3, theta
    assert p_ref[-1] > 0.1   # the test covers primary and secondary creep, not a few microstrain


def test_stress_relaxation_matches_the_ode():
    """Requirement: stress relaxation at fixed total strain (ramp at 1e-3 /s to 5 %, then a 1000 s hold):
    the stress history of the point update matches the ODE to 1e-3 relative, ramp and hold."""
    rate, eps0 = 1e-3, 0.05
    t1 = eps0 / rate
    t_ramp = np.linspace(0.0, t1, 20_001)
    t_hold = t1 + np.concatenate([[0.0], np.geomspace(1e-6, 1000.0, 4000)])
    p_r, s_r = _ode(MAT, lambda tt, p: M3 * (rate * tt - p), t_ramp[::10], [0.0, MAT.initial_resistance_MPa])
    p_h, _ = _ode(MAT, lambda tt, p: M3 * (eps0 - p), t_hold, [p_r[-1], s_r[-1]])
    q_ref = np.concatenate([M3 * (rate * t_ramp[::10] - p_r), M3 * (eps0 - p_h)])
    pt = AnandPoint(MAT, theta=0.5)
    q = [0.0]
    for k in range(1, t_ramp.size):
        q.append(pt.strain_step(rate * t_ramp[k], t_ramp[k] - t_ramp[k - 1]))
    q_num = q[::10]
    q_num.append(pt.q)
    for k in range(1, t_hold.size):
        q_num.append(pt.strain_step(eps0, t_hold[k] - t_hold[k - 1]))
    q_num = np.array(q_num)
    assert _rel(q_num, q_ref, 0.05 * q_ref.max()) < 1e-3
    assert q_ref[-1] < 0.5 * q_ref[t_ramp[::10].size - 1]   # it does relax


def test_flow_rate_and_flow_stress_are_inverse_and_steady_state_is_consistent():
    """Requirement: the helpers agree with each other and with LiAnand's steady-state formulas."""
    par = MAT.kernel_parameters()
    for nu in (1e-7, 1e-3, 10.0):
        q = flow_stress(nu, 1.3, par)
        assert flow_rate(q, 1.3, par) == pytest.approx(nu, rel=1e-12)
        s_star = saturation_value(nu, par)
        assert flow_stress(nu, s_star, par) == pytest.approx(MAT.steady_state_stress_MPa(nu), rel=1e-13)
        assert MAT.steady_state_rate_per_s(MAT.steady_state_stress_MPa(nu)) == pytest.approx(nu, rel=1e-12)
    sinh = LiAnand(flow_form="sinh", sinh_multiplier=2.0)
    ps = sinh.kernel_parameters()
    q = flow_stress(1e-3, 1.3, ps)
    assert flow_rate(q, 1.3, ps) == pytest.approx(1e-3, rel=1e-12)
    assert sinh.steady_state_rate_per_s(sinh.steady_state_stress_MPa(1e-3)) == pytest.approx(1e-3, rel=1e-9)


def test_sinh_form_matches_the_ode():
    """Requirement: the optional sinh flow rule (Anand 1982 form) is integrated as exactly as the
    power form (constant strain rate 1e-3 /s to 10 %, trapezoidal, 5e4 steps)."""
    mat = LiAnand(flow_form="sinh", sinh_multiplier=1.5, hardening_exponent=1.5)
    m3 = 3.0 * mat.shear_modulus_MPa
    rate, T = 1e-3, 100.0
    t = np.linspace(0.0, T, 50_001)
    p_ref, _ = _ode(mat, lambda tt, p: m3 * (rate * tt - p), t[::25], [0.0, mat.initial_resistance_MPa])
    q_ref = m3 * (rate * t[::25] - p_ref)
    pt = AnandPoint(mat, theta=0.5)
    q = np.zeros(t.size)
    for k in range(1, t.size):
        q[k] = pt.strain_step(rate * t[k], t[k] - t[k - 1])
    assert _rel(q[::25], q_ref, 0.05 * q_ref.max()) < 1e-3
