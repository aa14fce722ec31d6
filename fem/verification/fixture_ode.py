"""Reference for the screw fixture (fem/physics/fixture.py): a homogeneous, frictionless disc of the
package's elastic / power-law creep law in series with a spring, integrated by scipy's solve_ivp.
Units: mm, N, MPa, s.

Without elasticity (E -> infinity) the disc obeys, with the axial creep log-strain eps = ln(h0/h) and
the true stress F/A = F h / (A0 h0) (volume conserved),

    dh/dt = -h A (F h / (A0 h0))^n,   F = k (s - (h0 - h))        (fixture hold, screw at s)

and F(t) is prescribed during a tightening ramp. This module integrates the same equations with the
disc's elasticity included exactly (`elastic=True`, the default): for a force F and a creep strain eps
the elastic stretches (lr, lz) and the Kirchhoff von Mises stress q of the homogeneous state in
equilibrium come from fem.verification.analytic._elastic_state (the package's hyperelastic law), the
thickness is h = h0 lz exp(-eps), and deps/dt = A_eff <q - sigma_y>^n. During a hold the force solves
F = k (s - (h0 - h(F, eps))) by fixed-point iteration (contraction k / k_disc << 1). `elastic=False`
integrates the rigid form above (h = h0 exp(-eps), q = F h / (A0 h0)).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.integrate import solve_ivp

from fem.physics.materials import LiCreep
from fem.verification.analytic import _elastic_state


@dataclass(frozen=True)
class FixtureStep:
    ramp_s: float
    hold_s: float
    force_N: float          # target force of the tightening ramp


class FixtureDisc:
    """The homogeneous disc (radius R0, thickness h0) in a fixture of stiffness k (full disc)."""

    def __init__(self, mat: LiCreep, radius_mm: float, thickness_mm: float, stiffness_N_per_mm: float,
                 elastic: bool = True):
        self.mat, self.h0, self.k, self.elastic = mat, thickness_mm, stiffness_N_per_mm, elastic
        self.area0 = math.pi * radius_mm ** 2
        self._guess = None

    def state(self, force_N: float, eps: float) -> tuple[float, float]:
        """(thickness h, Kirchhoff von Mises stress q) for the force and the axial creep strain."""
        P = force_N / self.area0
        if not self.elastic:
            return self.h0 * math.exp(-eps), P * math.exp(-eps)
        lr, lz, q = _elastic_state(self.mat, P, eps, self._guess)
        self._guess = [lr, lz]
        return self.h0 * lz * math.exp(-eps), q

    def rate(self, q: float) -> float:
        m = self.mat
        return m.creep_A_eff * max(q - m.threshold_stress_MPa, 0.0) ** m.creep_n

    def hold_force(self, screw_mm: float, eps: float, F_guess: float) -> float:
        """F = k (s - (h0 - h(F, eps))), by fixed-point iteration."""
        F = F_guess
        for _ in range(200):
            h, _ = self.state(F, eps)
            F_new = self.k * (screw_mm - (self.h0 - h))
            if abs(F_new - F) <= 1e-13 * max(abs(F_new), 1.0):
                return F_new
            F = F_new
        raise RuntimeError("fixture hold: no fixed point")

    def run(self, steps: list[FixtureStep], rtol: float = 1e-10, atol: float = 1e-14):
        """Integrate the load history; returns the callable history(t) -> (F, h) and the screw
        positions of the holds (full disc, mm)."""
        pieces, t0, eps0, F0 = [], 0.0, 0.0, 0.0
        screws = []
        for st in steps:
            if st.ramp_s > 0.0:
                Fa, Fb, ta = F0, st.force_N, t0

                def F_ramp(t, Fa=Fa, Fb=Fb, ta=ta, T=st.ramp_s):
                    return Fa + (Fb - Fa) * min(max((t - ta) / T, 0.0), 1.0)

                sol = self._integrate(lambda t, e, F_ramp=F_ramp: F_ramp(t), t0, t0 + st.ramp_s, eps0, rtol, atol)
                pieces.append((t0, t0 + st.ramp_s, sol, "ramp", F_ramp))
                t0, eps0 = t0 + st.ramp_s, float(sol.sol(t0 + st.ramp_s)[0])
            F0 = st.force_N
            h, _ = self.state(F0, eps0)
            s = (self.h0 - h) + F0 / self.k
            screws.append(s)
            if st.hold_s > 0.0:
                last = [F0]

                def F_hold(t, e, s=s, last=last):
                    last[0] = self.hold_force(s, e, last[0])
                    return last[0]

                sol = self._integrate(F_hold, t0, t0 + st.hold_s, eps0, rtol, atol)
                pieces.append((t0, t0 + st.hold_s, sol, "hold", s))
                t0, eps0 = t0 + st.hold_s, float(sol.sol(t0 + st.hold_s)[0])
                F0 = self.hold_force(s, eps0, last[0])

        def history(t: float) -> tuple[float, float]:
            for ta, tb, sol, kind, extra in pieces:
                if ta - 1e-12 <= t <= tb + 1e-12:
                    e = float(sol.sol(min(max(t, ta), tb))[0])
                    F = extra(t) if kind == "ramp" else self.hold_force(extra, e, steps[0].force_N)
                    return F, self.state(F, e)[0]
            raise ValueError(f"t = {t} outside the history")

        return history, screws

    def _integrate(self, force_of, ta, tb, eps0, rtol, atol):
        def rhs(t, y):
            F = force_of(t, y[0])
            return [self.rate(self.state(F, y[0])[1])]
        sol = solve_ivp(rhs, (ta, tb), [eps0], method="LSODA", rtol=rtol, atol=atol, dense_output=True)
        if not sol.success:
            raise RuntimeError(f"fixture reference: {sol.message}")
        return sol


def compare_arrays(history, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(F, h) of the reference at the given times."""
    out = np.array([history(float(t)) for t in times])
    return out[:, 0], out[:, 1]
