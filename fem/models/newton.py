"""The Newton solve of one time step, for every disc model (fem/models/base.py): the only Newton
loop of the package.

Each iteration:
  1. the pointwise creep return map at the current displacement (model.update_creep_increment);
  2. the residual r and the platen force F (read from r, fem/models/contact.py);
  3. the friction forces added to r (fem/physics/friction.py);
  4. convergence: nodal force imbalance, pressure-equation residual and load-constraint violation
     all below their tolerances (model.tolerances);
  5. otherwise a backtracking line search on the scaled residual norm (merit), or a new Newton
     update: Jacobian K (+ the friction linearisation), Dirichlet rows/columns replaced by identity,
     one factorisation and two solves (bordering, below).

Bordering of the platen displacement delta (one global unknown): solve A a = -r (with a = 0 on the
constrained dofs) and A b = 0 with b = -1 on the moving platen's normal dofs (the response to a
unit platen motion), then choose d(delta) so that the linearised load constraint holds:
    alpha F + beta delta = gamma           (fem/physics/platen.py LoadConstraint)
    alpha (F + g.a + d g.b) + beta (delta + d) = gamma,   g = dF/dx,
which covers force control (alpha 1, beta 0), a spring-loaded fixture (alpha 1, beta k) and, with
alpha 0, gap control (delta prescribed: the b solve is skipped). The update is a + d b.

Factorisation reuse (model.reuse_factorisation, study key [numerics] reuse_factorisation): the
factorisation of a 3D system costs 10-100 x a residual (measured: docs/benchmarks.md), so an
iteration may solve with the last factorisation (and its platen response b) instead of a new one,
also across steps: a chord (modified Newton) iteration. The true residual decides convergence as
always, so the converged answer is the same to the Newton tolerance. A new factorisation is made
when none is stored, when a chord iteration contracted the scaled residual by less than
REUSE_CONTRACTION, or when it did not reduce it at all (then from the previous iterate, which is
restored). max_it bounds the factorisations; chord iterations are bounded by CHORD_MAX_IT.

Stick start (Coulomb friction): where the disc under the face is much softer in shear than the
stick stiffness mu N / eps of the regularised law (the gel skin of the composite: G ~ 1 MPa against
mu N / eps ~ 1e3 N/mm), a node that should stick but starts the iteration sliding (the first load
step, whose first Jacobian has no normal force and so no friction in it; the first step of a hold,
from a guess extrapolated from the ramp) has almost no tangent stiffness along its slip. Newton
overshoots it to a large slip the other way and cycles: the 6 mm composite at mu 0.2 failed its
first step down to dt 1.6 ms, continuation included (docs/results.md). So a failed solve is first
retried, before the continuation below, with a first update that holds the platen nodes' in-plane
dofs at zero slip over the step (a stuck predictor, as the trial state of a friction return map).
From there the nodes that must slide leave the stick regime: Newton approaches them from the stiff
side and does not overshoot. Only the first update differs (its factorisation is not reused), so
the converged answer is unchanged (tests/unit/test_newton.py). It is a fallback, not the default:
in the stiff bare-Li disc the usual predictor converges in fewer iterations.

Constraints of other kinds (periodic RVE boundaries) enter through a prolongation, see
fem/models/linear_solvers.py ProlongedSystem.

Continuation: with Coulomb friction a failed solve (after the stick start) is retried with the
regularisation width 1e4, 1e3, 1e2, 10 and 1 x eps in turn, each stage starting from the previous one's solution; the
last stage is the exact problem, so continuation changes robustness, not the answer.
"""
from __future__ import annotations

import math
import os

import numpy as np
from petsc4py import PETSc

from fem.models import rim_contact
from fem.models.base import NewtonFailure, StepResult
from fem.models.linear_solvers import LinearSolverFailure
from fem.physics.platen import LoadConstraint

CONTINUATION = (1e4, 1e3, 1e2, 10.0, 1.0)
REUSE_CONTRACTION = 0.3   # a chord iteration must shrink the scaled residual at least this much
STICK_START = True        # a failed Coulomb solve is retried from a stuck predictor first (docstring)
CHORD_MAX_IT = 40         # chord (reused-factorisation) iterations per Newton solve
DEBUG = bool(os.environ.get("FEM_DEBUG_NEWTON"))   # FEM_DEBUG_NEWTON=1: print the residual norms of every iteration


def solve_step(model, dt: float, x_n: np.ndarray, constraint: LoadConstraint, x_guess: np.ndarray,
               delta_guess: float, max_it: int = 12) -> StepResult:
    """Solve the step of length dt (s; 0: an instantaneous, elastic step) that ends on the load
    constraint. On success model.w holds the solution and model.delta the platen displacement.

    Rim contact (fem/models/rim_contact.py): the step starts from the last accepted active set;
    when a converged solution changes the set, it is solved again from there with the new set."""
    model.begin_step_contact()
    its = facs = 0
    for _ in range(rim_contact.MAX_ROUNDS):
        res = _solve_with_set(model, dt, x_n, constraint, x_guess, delta_guess, max_it)
        its += res.iterations
        facs += res.factorisations
        if not model.update_rim_contact():
            res.iterations, res.factorisations = its, facs
            return res
        x_guess, delta_guess = model.w.x.array.copy(), model.delta
        model.set_platen(x_guess, delta_guess)   # the new nodes onto the platen plane
    raise NewtonFailure(f"the rim contact set did not settle in {rim_contact.MAX_ROUNDS} solves")


def _solve_with_set(model, dt, x_n, constraint, x_guess, delta_guess, max_it) -> StepResult:
    """solve_step with a fixed contact set (and the friction continuation)."""
    try:
        return newton(model, dt, x_n, constraint, x_guess, delta_guess, max_it, 1.0)
    except NewtonFailure as e:
        if not model.contact.coulomb:
            raise
        its, facs = e.iterations, e.factorisations
    if STICK_START:
        try:   # the stick start (module docstring)
            res = newton(model, dt, x_n, constraint, x_guess, delta_guess, max_it, 1.0, stick_start=True)
            res.iterations, res.factorisations = res.iterations + its, res.factorisations + facs
            return res
        except NewtonFailure as e:
            its, facs = its + e.iterations, facs + e.factorisations
    guess, dguess = x_guess.copy(), delta_guess
    for k, scale in enumerate(CONTINUATION):
        res = newton(model, dt, x_n, constraint, guess, dguess, max_it, scale, stick_start=STICK_START and k == 0)
        its += res.iterations
        facs += res.factorisations
        guess, dguess = model.w.x.array.copy(), model.delta
    res.iterations, res.factorisations = its, facs
    return res


def newton(model, dt, x_n, constraint: LoadConstraint, x_guess, delta_guess, max_it, eps_scale,
           stick_start: bool = False) -> StepResult:
    x = model.w.x.array
    model.prepare_step(dt)
    delta = constraint.rhs if constraint.is_gap else delta_guess
    x[:] = x_guess
    model.apply_constraints(x, delta)
    F_scale, tol_u, tol_p, tol_F = model.tolerances(constraint.force_target_N)
    n_own = model.n_owned
    free_u, free_p = model.free_u_owned, model.free_p_owned
    nsolve, nfactor, nchord, alpha, prev = 0, 0, 0, 1.0, None
    chord_prev = False        # the last update came from a reused factorisation
    force_fresh = False
    contact = model.contact
    cap = model.friction_cap(x_n)   # Tresca cap per platen node, at the start of the step (or None)
    while True:
        with model.timed("constitutive"):
            q_tr, mubar, dp = model.update_creep_increment(dt)
        with model.timed("assembly"):
            r = model.assemble_residual()
        F = contact.force(r)
        with model.timed("friction"):
            fr = contact.friction(r, x, x_n, dt, eps_scale, F_scale, cap)
        ru = model._max(np.abs(r[free_u]).max(initial=0.0))
        rp = model._max(np.abs(r[free_p]).max(initial=0.0))
        f_err = 0.0 if constraint.is_gap else abs(constraint.residual(F, delta))
        if DEBUG and model.comm.rank == 0:
            print(f"    it {nsolve} a={alpha:.3g}{' chord' if chord_prev else ''}: |r_u|={ru:.3e}/{tol_u:.1e} "
                  f"|r_p|={rp:.3e}/{tol_p:.1e} |dF|={f_err:.3e}/{tol_F:.1e}")
        if not (math.isfinite(ru) and math.isfinite(rp)):
            merit = math.inf
        else:
            if ru <= tol_u and rp <= tol_p and f_err <= tol_F:
                res = model.converged(nsolve, F, delta, q_tr, mubar, dp)
                res.factorisations = nfactor
                return res
            nu2 = model._sum(np.dot(r[free_u], r[free_u]))
            np2 = model._sum(np.dot(r[free_p], r[free_p]))
            merit = math.sqrt(nu2 / tol_u ** 2 + np2 / tol_p ** 2 + (f_err / tol_F) ** 2)
        if chord_prev and prev is not None and not merit < prev[2]:
            # the reused factorisation did not reduce the residual: back to the previous iterate and
            # factorise there
            x[:n_own] = prev[0]
            model.w.x.scatter_forward()
            delta = prev[1]
            model.set_platen(x, delta)
            force_fresh, chord_prev, prev = True, False, None
            continue
        # backtracking line search on the residual norm (needed with sharp friction regularisation)
        if prev is not None and not chord_prev and not merit < prev[2] and alpha > 1.0 / 64:
            alpha *= 0.5
            x[:n_own] = prev[0] + alpha * prev[3]
            model.w.x.scatter_forward()
            delta = prev[1] + alpha * prev[4]
            model.set_platen(x, delta)
            continue
        if not math.isfinite(merit):
            raise NewtonFailure("residual is not finite")
        stick = _stick_start_dofs(model, x, x_n) if stick_start and nsolve == 0 else None
        chord = (model.reuse_factorisation and model.factorisation is not None and not force_fresh
                 and stick is None
                 and (constraint.is_gap or model.factorisation[2] is not None)
                 and nchord < CHORD_MAX_IT
                 and (not chord_prev or prev is None or merit < REUSE_CONTRACTION * prev[2]))
        if not chord and nfactor == max_it:
            break
        if chord:
            a, ddelta = _chord_update(model, r, F, delta, constraint)
            nchord += 1
        else:
            with model.timed("assembly"):
                K = model.assemble_jacobian()
            with model.timed("friction"):
                A = model.system_matrix(K, fr)
            a, ddelta = _bordered_update(model, K, A, r, F, delta, constraint, stick)
            nfactor += 1
        nsolve += 1
        force_fresh, chord_prev = False, chord
        if model._max(0.0 if np.all(np.isfinite(a)) else 1.0) > 0.0:   # on any process: all take this branch
            # a solve that returned inf or NaN without failing: the factorisation is not to be
            # reused, and the solver is rebuilt (LinearSolver.reset)
            model.factorisation = None
            model.linear_solver.reset()
            raise NewtonFailure("Newton update is not finite")
        prev = (x[:n_own].copy(), delta, merit, a, ddelta)
        alpha = 1.0
        x[:n_own] += a
        model.w.x.scatter_forward()
        delta += ddelta
        model.set_platen(x, delta)
    err = NewtonFailure(f"no convergence in {max_it} iterations (|r_u|={ru:.3e}, |r_p|={rp:.3e}, "
                        f"|F-F*|={f_err:.3e} N)")
    err.iterations, err.factorisations = nsolve, nfactor
    raise err


def _stick_start_dofs(model, x, x_n):
    """The stick start (module docstring): (owned in-plane dofs of the platen-contact nodes, the
    update that brings their slip back to 0), or None without Coulomb friction."""
    contact = model.contact
    if not contact.coulomb or contact.n_moving_global == 0:
        return None
    nd = contact.nodes
    t = nd.t[nd.t >= 0]
    return t, -(x[t] - x_n[t])


def _bordered_update(model, K, A, r, F, delta, constraint: LoadConstraint, stick=None):
    """The Newton update (a, d delta) of the owned dofs (see the module docstring); stick: (owned
    dofs, their prescribed update) held in this update only (the stick start)."""
    solver = model.linear_solver
    n_own = model.n_owned
    with model.timed("solve"):
        lift = None
        cons = model.constrained_owned
        if stick is not None:
            # the prescribed update of the held dofs enters the a-solve's right-hand side through
            # the columns of A (before they are zeroed)
            v = A.createVecRight()
            v.array[:] = 0.0
            v.array[stick[0]] = stick[1]
            lift = A.createVecLeft()
            A.mult(v, lift)
            cons = np.union1d(cons, stick[0])
        bc_vals = A.createVecRight()
        bc_vals.array[:] = 0.0
        bc_vals.array[model.contact.moving_z] = -1.0   # owned moving-platen normal dofs
        rhs_b = A.createVecLeft()
        rhs_b.set(0.0)
        rows = (cons + model.global_offset).astype(PETSc.IntType)
        A.zeroRowsColumns(rows, diag=1.0, x=bc_vals, b=rhs_b)
        solver.operator(A)
    model.factorisation = None
    model.factorisations += 1
    try:
        with model.timed("factorisation"):
            solver.factor()
        with model.timed("solve"):
            rhs_a = A.createVecLeft()
            rhs_a.array[:] = -r[:n_own]
            if lift is not None:
                rhs_a.array[:] -= lift.array
            rhs_a.array[cons] = 0.0
            if stick is not None:
                rhs_a.array[stick[0]] = stick[1]
            sol_a = A.createVecRight()
            solver.solve(rhs_a, sol_a)
            model.linear_solves += 1
            a = sol_a.array.copy()
            if constraint.is_gap:
                model.factorisation = (A, K, None, None) if stick is None else None
                return a, 0.0
            sol_b = A.createVecRight()
            solver.solve(rhs_b, sol_b)
            model.linear_solves += 1
            b = sol_b.array.copy()
    except LinearSolverFailure as e:
        raise NewtonFailure(str(e)) from e
    # dF/dx . v from the rows of K: F = factor * sum(-sign r_z), so dF.v = factor * sum(-sign (K v)_z)
    gb = contact_derivative(model, K, b)
    # a factorisation with the stick-start rows held is not the system of later iterations
    model.factorisation = (A, K, b, gb) if stick is None else None
    return _with_platen_increment(model, K, a, b, gb, F, delta, constraint)


def _chord_update(model, r, F, delta, constraint: LoadConstraint):
    """The update with the stored factorisation and platen response (see the module docstring)."""
    A, K, b, gb = model.factorisation
    with model.timed("solve"):
        rhs_a = A.createVecLeft()
        rhs_a.array[:] = -r[:model.n_owned]
        rhs_a.array[model.constrained_owned] = 0.0
        sol_a = A.createVecRight()
        try:
            model.linear_solver.solve(rhs_a, sol_a)
        except LinearSolverFailure as e:
            model.factorisation = None   # the solver was reset: nothing left to reuse
            raise NewtonFailure(str(e)) from e
        model.linear_solves += 1
        a = sol_a.array.copy()
    if constraint.is_gap:
        return a, 0.0
    return _with_platen_increment(model, K, a, b, gb, F, delta, constraint)


def _with_platen_increment(model, K, a, b, gb, F, delta, constraint: LoadConstraint):
    """(a + d b, d): the platen increment d that satisfies the linearised load constraint
    alpha (F + g.a + d g.b) + beta (delta + d) = gamma, g = dF/dx (module docstring)."""
    ga = contact_derivative(model, K, a)
    al, be = constraint.force_coef, constraint.delta_coef
    ddelta = (constraint.rhs - al * F - be * delta - al * ga) / (al * gb + be)
    return a + ddelta * b, ddelta


def contact_derivative(model, K, v: np.ndarray) -> float:
    vin, Kv = K.createVecRight(), K.createVecLeft()
    vin.array[:] = v
    K.mult(vin, Kv)
    return model.contact.force(Kv.array)
