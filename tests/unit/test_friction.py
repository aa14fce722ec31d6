"""Friction (fem/physics/friction.py, assembled by fem/models/contact.py): one kernel for both
dimensions, its derivatives by finite differences, and the consistent Jacobian of the assembled
friction forces. Units: mm, N, s."""
import math

import numpy as np
import pytest

from fem.models import contact as contact_module
from fem.physics import friction
from fem.physics.friction import FrictionSpec, coulomb, regularisation_width, smooth_positive
from fem.stepping.run import build_model
from fem.verification.cases import make_study


@pytest.mark.parametrize("k", [1, 2])
def test_kernel_derivatives_match_finite_differences(k):
    """Requirement: df/ds and df/dN of the regularised Coulomb force agree with central differences
    to 1e-6 relative, for one (axisymmetric) and two (3D) slip components, across stick and slip."""
    rng = np.random.default_rng(k)
    n, mu, eps, d = 40, 0.3, 1e-4, 1e-3
    N = rng.normal(0.5, 1.0, n)          # includes tensile (N < 0) nodes: smooth positive part
    s = rng.normal(0.0, 3e-4, (n, k))    # from |s| << eps (viscous) to |s| >> eps (full Coulomb)
    f = coulomb(N, s, mu, eps, d)
    h = 1e-9
    for j in range(k):
        e = np.zeros(k)
        e[j] = h
        fd = (coulomb(N, s + e, mu, eps, d).force - coulomb(N, s - e, mu, eps, d).force) / (2 * h)
        assert np.allclose(fd, f.d_ds[:, :, j], rtol=1e-6, atol=1e-6 * np.abs(f.d_ds).max())
    hN = 1e-7
    fdN = (coulomb(N + hN, s, mu, eps, d).force - coulomb(N - hN, s, mu, eps, d).force) / (2 * hN)
    assert np.allclose(fdN, f.d_dN, rtol=1e-6, atol=1e-8)
    # the limits: full Coulomb force mu N far above the regularisation, viscous below it
    big = coulomb(np.array([2.0]), np.array([[1.0] + [0.0] * (k - 1)]), mu, eps, 0.0).force
    assert big[0, 0] == pytest.approx(mu * 2.0, rel=1e-8)
    assert np.all(coulomb(np.array([-1.0]), s[:1], mu, eps, 0.0).force == 0.0)   # no pull-off friction


def test_regularisation_is_a_slip_velocity_without_floor():
    """Requirement: the width is v_reg dt for every time step (no floor that changes the physics with
    dt) and the floor only for instantaneous (dt = 0) load steps."""
    spec = FrictionSpec("coulomb", 0.2, slip_regularization_mm_per_s=1e-4, slip_floor_mm=1e-6)
    assert regularisation_width(spec, 1e-9) == pytest.approx(1e-13)
    assert regularisation_width(spec, 10.0) == pytest.approx(1e-3)
    assert regularisation_width(spec, 0.0) == 1e-6
    assert regularisation_width(spec, 10.0, scale=100.0) == pytest.approx(0.1)


def _platen_state(model, slip_mm, N_node):
    """x with a radial slip of slip_mm at every platen node (x_n = 0) and a residual whose platen
    rows carry the normal force N_node at every node."""
    nd = model.contact.nodes
    x = np.zeros(model.w.x.array.size)
    node_of = {int(d): i for i, d in enumerate(model.node_dofs[:, -1])}
    radial = []
    for z, t in zip(nd.z, nd.t):
        X = model.node_coords[node_of[int(z)]]
        k = model.inplane_components
        R = math.hypot(*X[:k])
        e = X[:k] / R if R > 0 else np.zeros(k)
        for c in range(k):
            if t[c] >= 0:
                x[t[c]] = slip_mm * e[c]
        radial.append(e)
    r = np.zeros_like(x)
    r[nd.z] = -nd.sign * N_node
    return x, r, np.array(radial)


def test_both_dimensions_call_the_same_friction_kernel(monkeypatch):
    """Requirement: the axisymmetric and the 3D model compute platen friction with the same kernel and
    the same rule: at a fixed radial slip s and normal force N, every platen node of both models
    gets the tangential force mu N+ s / sqrt(s^2 + eps^2), eps = v_reg dt, along the slip."""
    calls = []
    real = contact_module.coulomb

    def spy(*a, **k):
        calls.append(a[1].shape[1])
        return real(*a, **k)

    monkeypatch.setattr(contact_module, "coulomb", spy)
    platen = {"friction": "coulomb", "mu": 0.25}
    models = [build_model(make_study("ax", platen=platen))[0],
              build_model(make_study("q3", platen=platen, geometry={"model": "3d", "mesh_size_mm": 0.75,
                                                                   "layers": 1}))[0]]
    s, N, dt, F_scale = 2e-4, 0.7, 1.0, 917.0
    eps = 1e-4 * dt
    for m in models:
        x, r, radial = _platen_state(m, s, N)
        f = m.contact.friction(r, x, np.zeros_like(x), dt, 1.0, F_scale)
        d = friction.NORMAL_SMOOTHING * F_scale / (m.force_factor * m.contact.n_moving_global)
        Np, _ = smooth_positive(np.array([N]), d)
        expected = m.platen_spec.mu * Np[0] * s / math.sqrt(s * s + eps * eps)
        nd = m.contact.nodes
        has = nd.t >= 0
        # the force added to the residual at each free in-plane dof: expected x the radial direction
        added = np.where(has, r[nd.t], 0.0)
        assert np.allclose(added, np.where(has, expected * radial, 0.0), rtol=1e-12, atol=1e-15)
        assert np.allclose(np.linalg.norm(f.force, axis=1)[has.any(axis=1)], expected, rtol=1e-12)
    assert calls == [1, 2]


@pytest.mark.parametrize("tresca_m", [0.0, 0.5], ids=["coulomb", "tresca-capped"])
def test_assembled_friction_jacobian_matches_finite_differences(tresca_m):
    """Requirement: the system matrix A = K + T K + D of fem/models/contact.py is the derivative of the
    residual with friction (including dN/du through the platen reactions): A v agrees with a central
    difference of the residual along a random admissible direction v to 1e-5 relative
    (axisymmetric disc, Coulomb mu 0.3, elastically compressed, slipping platen nodes); also with
    the Tresca cap active at more than 10 nodes (mu p > m k; the cap is lagged at the step start)."""
    m = build_model(make_study("fd", platen={"friction": "coulomb", "mu": 0.3, "tresca_m": tresca_m}))[0]
    x = m.w.x.array
    rng = np.random.default_rng(0)
    H, R = m.geo.height_mm, m.geo.radius_mm
    X = m.node_coords
    delta = 2e-4
    base = np.zeros_like(x)
    base[m.node_dofs[:, 1]] = -delta * X[:, 1] / H
    base[m.node_dofs[:, 0]] = 0.3 * delta * X[:, 0] / H * (1.0 + 0.1 * np.sin(7 * X[:, 0] / R))
    m.apply_constraints(base, delta)
    x_n = np.zeros_like(x)
    dt = 1.0
    spec_eps_scale = 1.0
    cap = m.friction_cap(x_n)
    assert (cap is None) == (tresca_m == 0.0)

    def residual(xv):
        x[:] = xv
        m.prepare_step(dt)
        m.dt_A = 0.0              # elastic: no creep within the check
        m.dp_explicit[:] = 0.0
        m.update_creep_increment(0.0)
        r = m.assemble_residual()
        fr = m.contact.friction(r, x, x_n, dt, spec_eps_scale, 100.0, cap)
        return r, fr

    r0, fr = residual(base)
    assert np.count_nonzero(np.linalg.norm(fr.force, axis=1) > 1e-3 * np.abs(fr.force).max()) > 10
    if cap is not None:
        assert np.count_nonzero(np.linalg.norm(fr.force, axis=1) > 0.9 * cap) > 10
    K = m.assemble_jacobian()
    A = m.system_matrix(K, fr)
    v = rng.normal(size=x.size) * 1e-5
    v[m.constrained] = 0.0
    vin, Av = A.createVecRight(), A.createVecLeft()
    vin.array[:] = v
    A.mult(vin, Av)
    h = 1e-3
    rp, _ = residual(base + h * v)
    rm, _ = residual(base - h * v)
    fd = (rp - rm) / (2 * h)
    rows = np.concatenate([m.free_u_owned, m.free_p_owned])
    err = np.abs(fd[rows] - Av.array[rows]).max()
    assert err <= 1e-5 * np.abs(Av.array[rows]).max(), err
    # the friction part is really in there: without it the difference is large
    K2 = m.assemble_jacobian()
    K2.mult(vin, Av)
    plat = m.contact.nodes.t[:, 0]
    plat = plat[plat >= 0]
    assert np.abs(fd[plat] - Av.array[plat]).max() > 100 * err


# ---------------------------------------------------------------------- Tresca cap
@pytest.mark.parametrize("k", [1, 2])
def test_tresca_capped_kernel_derivatives_and_limits(k):
    """Requirement: with a Tresca cap c the force magnitude is smin(mu N+, c): Coulomb where mu N+ << c,
    the cap where mu N+ >> c (both to the smoothing width 1e-3 c), and df/dN, df/ds agree with
    central differences to 1e-6 relative across the transition."""
    rng = np.random.default_rng(10 + k)
    n, mu, eps, d = 60, 0.3, 1e-4, 1e-3
    N = rng.uniform(-0.5, 3.0, n)
    s = rng.normal(0.0, 3e-4, (n, k))
    cap = rng.uniform(0.05, 0.6, n)              # from well below to above mu N+
    f = coulomb(N, s, mu, eps, d, cap)
    h = 1e-9
    for j in range(k):
        e = np.zeros(k)
        e[j] = h
        fd = (coulomb(N, s + e, mu, eps, d, cap).force - coulomb(N, s - e, mu, eps, d, cap).force) / (2 * h)
        assert np.allclose(fd, f.d_ds[:, :, j], rtol=1e-6, atol=1e-6 * np.abs(f.d_ds).max())
    hN = 1e-7
    fdN = (coulomb(N + hN, s, mu, eps, d, cap).force - coulomb(N - hN, s, mu, eps, d, cap).force) / (2 * hN)
    assert np.allclose(fdN, f.d_dN, rtol=1e-6, atol=1e-8)
    big_slip = np.zeros((2, k))
    big_slip[:, 0] = 1.0
    low = coulomb(np.array([0.1, 10.0]), big_slip, mu, eps, 0.0, np.array([1.0, 1.0])).force[:, 0]
    assert low[0] == pytest.approx(mu * 0.1, rel=1e-5)          # Coulomb: mu N = 0.03 << cap 1
    assert low[1] == pytest.approx(1.0, rel=1e-5)               # capped: mu N = 3 >> cap 1
    assert np.all(np.linalg.norm(f.force, axis=1) <= cap * (1 + 1e-12))


def test_platen_contact_areas_follow_the_deformation():
    """Requirement: the nodal contact areas of the cap sum to the current platen area: the top face of
    the axisymmetric disc (R^2/2 per radian) and of the 3D quarter disc (its polygonal face area),
    both scaled by (1 + e)^2 under a uniform radial stretch e and unchanged by the thinning."""
    platen = {"friction": "coulomb", "mu": 0.3, "tresca_m": 1.0, "shear_flow_stress_MPa": 1.0}
    for geo in ({}, {"model": "3d", "mesh_size_mm": 0.75, "layers": 1}):
        m = build_model(make_study("area", platen=platen, geometry=geo))[0]
        X, nd = m.node_coords, m.node_dofs
        k = m.inplane_components
        areas = []
        for e in (0.0, 0.1):
            x = np.zeros(m.w.x.array.size)
            for c in range(k):
                x[nd[:, c]] = e * X[:, c]
            x[nd[:, -1]] = -0.01 * X[:, k]      # 1 % thinning: no effect on the platen area
            areas.append(m.friction_cap(x).sum())
        if not geo:
            assert areas[0] == pytest.approx(m.geo.radius_mm ** 2 / 2, rel=1e-12)
        else:
            assert areas[0] == pytest.approx(math.pi * m.geo.radius_mm ** 2 / 4, rel=2e-2)
        assert areas[1] == pytest.approx(1.1 ** 2 * areas[0], rel=1e-10)
