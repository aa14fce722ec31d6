"""fem/physics/pore_closure.py: the ply's pore closure against the back-pressure of the squeezed pores,
dc/dt = B <-p - p_c c/(phi - c)>^m (phi - c), backward Euler. Its two solvers (the disc's, at a
given pressure; the point law's, at a given volume strain) are checked against each other, against
the equation and against central differences. Units: MPa, s."""
import numpy as np
import pytest

from fem.physics.pore_closure import closure_at_pressure, closure_at_volume_strain

K, PHI, M, DT = 3000.0, 0.0064, 6.2, 0.1

# (volume strain, c_n, B, p_c): slow and fast closure, a closure far along, no back-pressure
CASES = [(-2e-3, 0.0, 1e-6, 8.0), (-4e-3, 0.001, 1e-5, 8.0), (-8e-3, 0.002, 1e-3, 8.0), (-1e-2, 0.0, 1e30, 8.0),
         (-6e-3, 0.003, 1e-5, 0.0), (-3e-3, 0.0005, 1e-4, 0.3)]


@pytest.mark.parametrize("tr,c_n,B,p_c", CASES)
def test_the_disc_and_the_point_law_solve_one_equation(tr, c_n, B, p_c):
    """At the pressure the point law returns for a volume strain, the disc's closure (solved at that
    pressure) is the point law's c (1e-9); the backward-Euler equation holds at the root; the
    back-pressure keeps c below c* (where the drive vanishes) and below phi."""
    c, p, _ = closure_at_volume_strain(tr, c_n, DT, K, PHI, B, M, p_c)
    assert p < 0.0 and c_n < c < PHI
    got, _ = closure_at_pressure(np.array([p]), np.array([c_n]), DT, PHI, B, M, p_c)
    assert got[0] == pytest.approx(c, rel=1e-9, abs=1e-15)
    X = -p - p_c * c / (PHI - c)
    assert X > 0.0
    if B < 1e20:   # (c - c_n) / (phi - c) = dt B X^m
        assert (c - c_n) / (PHI - c) == pytest.approx(DT * B * X ** M, rel=1e-7)
    if p_c > 0.0:
        assert c < -p * PHI / (p_c - p)


@pytest.mark.parametrize("tr,c_n,B,p_c", CASES)
def test_tangents_are_central_differences(tr, c_n, B, p_c):
    """dc/dp of the disc's solver and dp/dtr of the point law's, against central differences (1e-5)."""
    c, p, dp_dtr = closure_at_volume_strain(tr, c_n, DT, K, PHI, B, M, p_c)
    h = 1e-9
    num = (closure_at_volume_strain(tr + h, c_n, DT, K, PHI, B, M, p_c)[1]
           - closure_at_volume_strain(tr - h, c_n, DT, K, PHI, B, M, p_c)[1]) / (2 * h)
    assert dp_dtr == pytest.approx(num, rel=1e-5)
    assert 0.0 < dp_dtr <= K   # closing pores soften the volumetric response
    _, dc = closure_at_pressure(np.array([p]), np.array([c_n]), DT, PHI, B, M, p_c)
    hp = 1e-6 * abs(p)
    cc = closure_at_pressure(np.array([p - hp, p + hp]), np.array([c_n, c_n]), DT, PHI, B, M, p_c)[0]
    assert dc[0] == pytest.approx((cc[1] - cc[0]) / (2 * hp), rel=1e-5, abs=1e-14)
    assert dc[0] <= 0.0


def test_without_back_pressure_it_is_the_closed_form():
    """p_c = 0: c = (c_n + r phi) / (1 + r), r = dt B <-p>^m (the law before FIT_VERSION 10)."""
    p = np.array([-12.0, -3.0, 0.5, -30.0])
    c_n = np.array([0.001, 0.0, 0.002, 0.003])
    B = 1e-7
    c, _ = closure_at_pressure(p, c_n, DT, PHI, B, M, 0.0)
    r = DT * B * np.maximum(-p, 0.0) ** M
    assert np.allclose(c, (c_n + r * PHI) / (1 + r), rtol=1e-14, atol=0.0)


def test_no_closure_where_the_drive_vanishes():
    """c = c_n and dc/dp = 0 in tension, without rate, and where the back-pressure of c_n already
    exceeds the pressure (no reopening); points of every kind in one call (the disc's quadrature points)."""
    p_c = 8.0
    p = np.array([1.0, -5.0, -5.0, -20.0])
    c_n = np.array([0.001, 0.004, 0.001, 0.0])     # at -5 MPa: c* = 5 phi / 13 = 0.00246
    c, dc = closure_at_pressure(p, c_n, DT, PHI, 1e-3, M, p_c)
    assert c[0] == c_n[0] and dc[0] == 0.0          # tension
    assert c[1] == c_n[1] and dc[1] == 0.0          # the squeezed pores already push back harder
    assert c_n[2] < c[2] < 5.0 * PHI / 13.0 and dc[2] < 0.0
    assert 0.0 < c[3] < 20.0 * PHI / 28.0
    c0, dc0 = closure_at_pressure(p, c_n, DT, PHI, 0.0, M, p_c)   # no rate
    assert np.array_equal(c0, c_n) and not dc0.any()
    # the back-pressure slows the closure: less closed than without it, at every compressed point
    c_free, _ = closure_at_pressure(p, c_n, DT, PHI, 1e-3, M, 0.0)
    assert np.all(c[2:] < c_free[2:])
