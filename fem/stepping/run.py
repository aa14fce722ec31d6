"""Run one case: adaptive time stepping through the load history, measurements, outputs.

Time step control (per accepted step):
  * error control (fem/stepping/timestep.py): the estimated local truncation error of the creep
    integration per unit creep strain must stay below `time_tolerance` (the user's accuracy
    target; 0 switches it off). The integrator is `trapezoidal` (second order, default) or
    `backward_euler` (first order);
  * creep cap: the volume-weighted RMS of the equivalent creep increment dp over the disc must
    stay below `max_creep_increment`, and its pointwise maximum below `max_local_creep_increment`
    (the RMS governs accuracy of the global measures; the pointwise cap keeps the singular
    rim corner from being stepped over). A step exceeding either by 1.5x is rejected and redone;
  * the next step is min(2 dt, cap / current creep rate (RMS and pointwise), dt_max), cut to
    0.7 dt after a step that needed more than 6 Newton iterations, and by 4x after a failed solve;
  * predictor: linear extrapolation of the displacement/pressure and platen motion.
Ramps are followed with at least `min_ramp_steps` steps; a zero-length ramp is one
instantaneous (dt = 0, purely elastic) step.

Checkpoints (fem/stepping/checkpoint.py) are written atomically every `checkpoint_every_steps`
accepted steps or `checkpoint_every_s` wall seconds, whichever comes first, and on SIGINT/SIGTERM,
which finish the current step, write a checkpoint and exit. Rerunning the same command, also after
a kill -9 or a power cut, resumes from the last checkpoint and repeats the uninterrupted run step
for step. One run per output directory: the run holds the lock out_dir/.lock (fem/stepping/lock.py)
from start to end. Results are written atomically when the run completes; a write that fails (disk
full, read-only directory) raises OutputError and leaves the files already there as they were.
Robustness overview: docs/robustness.md.
"""
from __future__ import annotations

import math
import os
import platform
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fem import __version__
from fem.models.axisym import AxisymDiscModel
from fem.models.base import DiscModelInterface, NewtonFailure, StepTooLarge
from fem.models.measure import THICKNESS_SIGN
from fem.models import rim_contact
from fem.models.newton import solve_step
from fem.models.solid3d import Disc3DModel
from fem.stepping import checkpoint as ckpt
from fem.stepping.lock import LockHeld, OutputError, describe_oserror, mpi_run_lock   # noqa: F401 (re-exported)
from fem.stepping.outputs import atomic_write_text, write_fields_vtk, write_history_csv
from fem.workflows import strict_json
from fem.physics.platen import build_phases
from fem import aot
from fem.physics.creep_point import LOG_SERIES_LIMIT
from fem.study import Study
from fem.stepping.timestep import INTEGRATORS, REJECT, first_step, local_error, step_factor

HISTORY_COLUMNS = ["step", "time_s", "dt_s", "phase", "force_N", "nominal_pressure_MPa", "gap_mm",
                   "diameter_mm", "thickness_change_pct", "diameter_change_pct", "newton_iterations",
                   "max_creep_increment", "rejected_steps", "rim_contact_nodes", "min_rim_gap_mm", "min_J"]
FIXTURE_COLUMNS = ["screw_mm"]   # with a [fixture]: full-disc screw position s = (h0 - h) + F/k (mm)


MAX_NEWTON_FAILURES = 60   # per run: beyond this the run is stuck cutting steps, not progressing


class Interrupted(Exception):
    pass


@dataclass
class Counters:
    steps: int = 0
    newton_iterations: int = 0
    rejected: int = 0
    newton_failures: int = 0


@dataclass
class RunState:
    """Everything needed to resume a run (written to the checkpoint)."""
    t: float = 0.0
    phase_index: int = 0
    dt_next: float = math.nan
    delta: float = 0.0
    delta_prev: float = 0.0
    dt_prev: float = 0.0
    # accepted steps since the last instantaneous load jump (rates are discontinuous there):
    # < 2 -> the next step is a backward-Euler start-up step without an error estimate
    smooth_steps: int = 2
    history: list = field(default_factory=list)
    snapshots: list = field(default_factory=list)
    counters: Counters = field(default_factory=Counters)
    wall_before_s: float = 0.0
    # snapshot schedule: phase index -> time of its last snapshot
    t_snap_last: dict = field(default_factory=dict)
    # phase start values resolved from the state when the phase began (None: not yet resolved)
    phase_value_start: list = field(default_factory=list)


class _StopFlag:
    def __init__(self):
        self.requested = False
        self._old = {}

    def __enter__(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._old[sig] = signal.signal(sig, self._handler)
            except ValueError:  # not in the main thread
                pass
        return self

    def _handler(self, signum, frame):
        if self.requested:  # second interrupt: give up immediately
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc):
        for sig, old in self._old.items():
            signal.signal(sig, old)


def _progress_printer(enabled: bool, stream=None):
    stream = stream or sys.stdout
    last = [0.0]

    def show(msg: str, force: bool = False):
        if not enabled:
            return
        now = time.monotonic()
        if force or now - last[0] > 0.5:
            print(msg, file=stream, flush=True)
            last[0] = now
    return show


def build_model(study: Study):
    """Mesh (cached) and model of a study: returns (model, composite mesh report or None,
    mesh seconds, setup seconds)."""
    t_mesh = time.perf_counter()
    mesh_report = None
    theta = INTEGRATORS[study.time.integrator]
    if study.model == "composite":
        from meshes import composite as C
        msh, cell_tags, _, mesh_report = C.load_mesh(study.geometry)
        present = {k for k, n in mesh_report["n_tets_per_phase"].items() if n > 0}
        mats = study.materials
        phases = {"li": ((C.LI,), study.li),
                  "carbon": (tuple(t for t in (C.CARBON_WARP, C.CARBON_WEFT) if C.CELL_NAMES[t] in present),
                             mats["carbon"]),
                  "gpe": ((C.GPE,), mats["gpe"]), "void": ((C.VOID,), mats["void"])}
        phases = {k: v for k, v in phases.items()
                  if all(C.CELL_NAMES[t] in present for t in v[0]) and v[0]}
        fibre = {t: C.tangent_function(mesh_report, t) for t in (C.CARBON_WARP, C.CARBON_WEFT)}
        if "crossing" in mats:   # [crossing] law = "bonded": the Li between crossing tows as an elastic solid
            cell_tags, n_cross = C.retag_crossings(msh, cell_tags, mesh_report["solved"]["tow_pitch_mm"],
                                                   mesh_report["solved"]["tow_width_mm"])
            if n_cross == 0:
                raise C.GeometryError("[crossing] law = \"bonded\": the mesh has no Li cell between crossing tows")
            mesh_report = {**mesh_report, "crossing_cells": n_cross}
            phases["crossing"] = ((C.CROSSING,), mats["crossing"].as_tow())
            fibre[C.CROSSING] = C.crossing_direction
        t_mesh = time.perf_counter() - t_mesh
        t_setup = time.perf_counter()
        model = Disc3DModel(msh, study.geometry, phases, study.platen, study.quadrature_degree, theta,
                            cell_tags=cell_tags, fibre_direction=fibre, linear_solver=study.linear_solver,
                            reuse_factorisation=study.reuse_factorisation)
    elif study.model == "composite_homogenised":
        from fem.physics.materials import PlyElastic
        from fem.rve.ply import homogenised_ply
        from meshes import homogenised as H
        mats = study.materials
        lay = study.geometry.layered()
        msh, cell_tags, facet_tags = H.load_mesh(lay)
        if study.geometry.ply_law == "rve_creep":   # the Li region's fitted viscoplastic law
            from fem.physics.materials import PlyViscoplastic
            from fem.rve.ply_fit import fitted_ply
            from fem.rve.ply_tables import disc_table_path
            fit = fitted_ply(disc_table_path(study.geometry, {"li": study.li, **mats}), {"li": study.li, **mats})
            ply_mat = PlyViscoplastic.from_fit(fit, study.li.temperature_K)
            mesh_report = {"ply_fit": fit, "ply_law": "rve_creep"}
        else:
            ply = homogenised_ply(study.geometry.composite, {"li": study.li, **mats}, study.geometry.ply_rve_mesh_size_mm)
            ply_mat = PlyElastic(**ply["constants"])
            mesh_report = {"ply": ply, "ply_law": "elastic"}
        mesh_report["layers_mm"] = {"ply": lay.ply_mm, "li": lay.li_mm, "gpe": lay.gpe_mm}
        phases = {"li": ((H.LI,), study.li), "ply": ((H.PLY,), ply_mat), "gpe": ((H.GPE,), mats["gpe"])}
        phases = {k: v for k, v in phases.items() if v[0][0] in set(cell_tags.values.tolist())}
        # the ply's symmetry axis: z, the second of the axisymmetric (r, z, theta) components
        axis_z = lambda x: np.vstack([np.zeros(x.shape[1]), np.ones(x.shape[1]), np.zeros(x.shape[1])])  # noqa: E731
        t_mesh = time.perf_counter() - t_mesh
        t_setup = time.perf_counter()
        model = AxisymDiscModel(msh, facet_tags, study.geometry, study.li, study.platen, study.quadrature_degree,
                                theta, pressure_space=study.pressure_space, linear_solver=study.linear_solver,
                                reuse_factorisation=study.reuse_factorisation, phases=phases, cell_tags=cell_tags,
                                fibre_direction={H.PLY: axis_z})
    elif study.model == "3d":
        from meshes.disc_3d import load_mesh
        msh, _, _ = load_mesh(study.geometry)
        t_mesh = time.perf_counter() - t_mesh
        t_setup = time.perf_counter()
        model = Disc3DModel(msh, study.geometry, {"li": (None, study.li)}, study.platen, study.quadrature_degree, theta,
                            linear_solver=study.linear_solver, reuse_factorisation=study.reuse_factorisation)
    else:
        from meshes.disc_axisym import load_mesh
        msh, _, facet_tags = load_mesh(study.geometry)
        t_mesh = time.perf_counter() - t_mesh
        t_setup = time.perf_counter()
        model = AxisymDiscModel(msh, facet_tags, study.geometry, study.li, study.platen, study.quadrature_degree,
                                theta, pressure_space=study.pressure_space, linear_solver=study.linear_solver,
                                reuse_factorisation=study.reuse_factorisation)
    assert isinstance(model, DiscModelInterface)
    return model, mesh_report, t_mesh, time.perf_counter() - t_setup


def run_case(study: Study, out_dir: str | Path, progress: bool = True, restart: bool = False,
             stop_after_steps: int | None = None) -> dict:
    """Run the study and write out_dir/{summary.json, history.csv, fields.pvd + fields/*.vtu}.

    Holds the lock out_dir/.lock for the whole run (LockHeld if another live run holds it).
    OutputError (one-line message) when out_dir or a file in it cannot be written; what was there
    stays as it was. stop_after_steps: testing hook that simulates an interrupt after that many
    accepted steps.
    """
    from mpi4py import MPI
    comm = MPI.COMM_WORLD
    out_dir = Path(out_dir)
    err = None
    if comm.rank == 0:
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            err = f"--out {out_dir}: " + describe_oserror(e, "the output directory")
    if comm.size > 1:
        err = comm.bcast(err, root=0)
    if err:
        raise OutputError(err)
    lock = mpi_run_lock(out_dir, comm)
    try:
        return _run_locked(study, out_dir, comm, progress, restart, stop_after_steps)
    finally:
        if lock is not None:
            lock.release()


def _run_locked(study: Study, out_dir: Path, comm, progress: bool, restart: bool,
                stop_after_steps: int | None) -> dict:
    from mpi4py import MPI
    root = comm.rank == 0
    wall0 = time.perf_counter()
    if root:
        ckpt.remove_leftovers(out_dir)   # temporary files of a killed earlier run (we hold the lock)
    comm.Barrier()
    ckpt_name = ckpt.describe(out_dir, comm.size)
    show = _progress_printer(progress and root)
    # field output: VTK of the r-z section (axisymmetric) or of the 3D body (also under MPI: process 0
    # gathers the parts and writes the files)
    write_fields = study.write_fields

    model, mesh_report, t_mesh, t_setup = build_model(study)

    geo, ts = study.geometry, study.time
    fixture = study.fixture
    phases = build_phases(study.load, geo.radius_mm, geo.thickness_mm, geo.use_symmetry, fixture)
    columns = HISTORY_COLUMNS + (FIXTURE_COLUMNS if fixture is not None else [])
    if root:
        for w in study.warnings:   # e.g. a torque below the fixture fit's range: one line each
            print(f"warning: {w}", file=sys.stderr, flush=True)
    cap, cap_local = ts.max_creep_increment, ts.max_local_creep_increment
    tol, integ = ts.time_tolerance, ts.integrator
    theta = INTEGRATORS[integ]
    fp = study.fingerprint()
    rate_prev = np.zeros_like(model.rate_n)

    st = RunState()
    x = model.w.x.array
    x_n = x.copy()
    x_prev = x.copy()
    if not restart:
        expect = {"x": x.size, "x_prev": x.size, "Cc_inv": model.Cc_inv_n.x.array.size,
                  "p_eq": model.p_eq.x.array.size, "rate_n": model.rate_n.size, "rate_prev": model.rate_n.size,
                  "rim_active": model.rim_active.size, "s_n": model.s_n.size, "q_n": model.q_n.size,
                  "gel_closure": 0 if model.gel_closure is None else model.gel_closure.size,
                  "Cc2_inv": 0 if model.Cc2_inv_n is None else model.Cc2_inv_n.x.array.size}
        outcome, meta, arrays, snaps = ckpt.load(out_dir, comm, fp, expect)
        if outcome == "ok":
            st = _state_from_meta(meta, snaps)
            x[:] = arrays["x"]; x_n[:] = arrays["x"]; x_prev[:] = arrays["x_prev"]
            model.Cc_inv_n.x.array[:] = arrays["Cc_inv"]
            if model.Cc2_inv_n is not None:   # the ply's second Li branch
                model.Cc2_inv_n.x.array[:] = arrays["Cc2_inv"]
            model.p_eq.x.array[:] = arrays["p_eq"]
            model.rate_n[:] = arrays["rate_n"]
            rate_prev[:] = arrays["rate_prev"]
            model.delta = st.delta
            model.s_n[:] = arrays["s_n"]   # Anand flow resistance (zeros for Norton)
            model.q_n[:] = arrays["q_n"]
            if model.gel_closure is not None:   # a draining gel's pore closure (dt 0 until the next step: c = c_n)
                model.gel_closure[:] = arrays["gel_closure"]
                model.gel_closure_n.x.array[:] = arrays["gel_closure"]
            model.rim_committed = arrays["rim_active"] > 0.5   # rim contact set of the last step
            model.begin_step_contact()
            _restore_solver(model, meta.get("solver", {}))
            for i, v in enumerate(st.phase_value_start[:len(phases)]):
                if v is not None and math.isnan(phases[i].value_start):
                    phases[i] = phases[i].resolved(v)
            show(f"resuming from checkpoint at t = {st.t:.6g} s, step {st.counters.steps}", force=True)
        elif outcome == "other":
            show("checkpoint belongs to a different study; starting over", force=True)
        elif outcome == "unreadable":
            if root:
                print(f"checkpoint {ckpt_name} unreadable: {meta}; starting over", file=sys.stderr, flush=True)
    c = st.counters
    if len(st.phase_value_start) != len(phases):
        st.phase_value_start = [None] * len(phases)
    every_steps, every_s = study.checkpoint_every_steps, study.checkpoint_every_s
    wall_ckpt = time.monotonic()
    steps_ckpt = c.steps   # accepted steps at the last checkpoint (or start)

    def save_checkpoint():
        nonlocal wall0, wall_ckpt, steps_ckpt
        st.wall_before_s += time.perf_counter() - wall0
        wall0 = time.perf_counter()
        try:
            _save_checkpoint(out_dir, comm, fp, st, model, x_prev, rate_prev)
        except OSError as e:
            raise OutputError(describe_oserror(e, f"the checkpoint in {out_dir}") +
                              "; the previous checkpoint and results are kept") from None
        wall_ckpt = time.monotonic()
        steps_ckpt = c.steps

    def snapshot(t):
        if write_fields:
            if st.snapshots and st.snapshots[-1]["t"] == t:
                st.snapshots.pop()   # same time written again (end of an instantaneous phase)
            st.snapshots.append(model.snapshot(t))

    if not st.history:
        st.history.append(_history_row(model, 0, 0.0, 0.0, "start", 0.0, 0, 0.0, 0, fixture))
        snapshot(0.0)

    def resolve_start():
        """The start value of the current phase when it comes from the state (control mode switched:
        ramp from the current force or platen position; fixture: re-torque from the relaxed force,
        hold at the screw position reached); recorded for a resume."""
        i = st.phase_index
        if i < len(phases) and math.isnan(phases[i].value_start):
            ph = phases[i]
            # the force of the state: with a fixture that of the last accepted step (its converged force)
            force = (math.nan if ph.control == "gap" else
                     st.history[-1]["force_N"] if fixture is not None else _current_force(model))
            start = ph.start_from_state(model.delta, force)
            phases[i] = ph.resolved(start)
            st.phase_value_start[i] = start

    def finish_phase():
        """End of a phase with creep steps: its last snapshot, the next phase and its start value, all
        before the checkpoint of this step, so that a resume reads nothing from the model state that
        only a solve sets (derived quadrature data, e.g. the stress behind the platen force)."""
        st.phase_index += 1
        snapshot(st.t)
        resolve_start()

    with _StopFlag() as stop:
        while st.phase_index < len(phases):
            resolve_start()
            ph = phases[st.phase_index]
            label = f"{ph.kind} {ph.step_index + 1}/{len(study.load)}"
            duration = ph.t_end - ph.t_start
            if duration <= 0.0:
                if ph.kind == "ramp":   # instantaneous load change: one elastic step
                    res = _solve(model, 0.0, x_n, x_n, ph, ph.t_end, ts)
                    _accept(model, res, 0.0, ph.t_end, x, x_n, x_prev, st, label, fixture)
                    _check_quality(study, st)
                    st.smooth_steps = 0   # the rates jump: restart the integrator
                    show(_progress_line(label, st, ph, res, model), force=True)
                st.phase_index += 1
                # first creep step after a load jump: from the creep rate it produced
                st.dt_next = math.nan
                if ph.kind == "ramp" and res.max_rate > 0:
                    st.dt_next = first_step(tol, model.global_median(res.rate), _rate_dt(res, cap, cap_local))
                snapshot(st.t)
                continue
            if math.isnan(st.dt_next):
                st.dt_next = ts.dt_max_s
                if ph.kind == "ramp":
                    st.dt_next = min(st.dt_next, duration / ts.min_ramp_steps)
            while st.t < ph.t_end - 1e-12 * max(1.0, ph.t_end):
                dt = min(st.dt_next, ph.t_end - st.t, model.dt_cap_s)
                if ph.t_end - st.t - dt < 0.2 * dt:
                    dt = ph.t_end - st.t
                if ph.kind == "ramp":
                    dt = min(dt, duration / ts.min_ramp_steps * (1 + 1e-9))
                while True:
                    if dt < ts.dt_min_s:
                        raise RuntimeError(f"time step fell below dt_min_s = {ts.dt_min_s:g} s at t = {st.t:.6g} s")
                    t_new = st.t + dt
                    ratio = dt / st.dt_prev if st.dt_prev > 0 else 0.0
                    x_guess = x_n + ratio * (x_n - x_prev)
                    model.delta = st.delta + ratio * (st.delta - st.delta_prev)
                    model.theta = 1.0 if st.smooth_steps < 2 else theta
                    try:
                        res = _solve(model, dt, x_n, x_guess, ph, t_new, ts)
                    except StepTooLarge as e:   # converged, but beyond the tensor-log range: a rejection
                        c.rejected += 1
                        dt *= e.factor
                        continue
                    except NewtonFailure as e:
                        c.newton_failures += 1
                        c.rejected += 1
                        if c.newton_failures > MAX_NEWTON_FAILURES:
                            raise RuntimeError(
                                f"{c.newton_failures} failed Newton solves (at t = {t_new:.6g} s); the mesh is "
                                "probably too distorted (e.g. the rim folding over onto the platen)") from None
                        show(f"  Newton failed at t = {t_new:.4g} s, dt = {dt:.3g} s ({e}); cutting the step", force=True)
                        dt *= 0.25
                        continue
                    excess = max(res.rms_dp / cap, res.max_dp / cap_local)
                    err = 0.0
                    if tol > 0.0 and st.smooth_steps >= 2:
                        err = local_error(integ, model.rms, dt, st.dt_prev, res.rate, model.rate_n, rate_prev, res.dp,
                                          res.rms_elastic_strain, t_new - ph.t_start)
                    if os.environ.get("FEM_DEBUG_STEPS"):
                        print(f"    try dt={dt:.3g} err={err:.3g} excess={excess:.3g} its={res.iterations} "
                              f"rms_dp={res.rms_dp:.3g} max_dp={res.max_dp:.3g}")
                    if excess > 1.5 or err > REJECT * tol > 0.0:
                        c.rejected += 1
                        c.newton_iterations += res.iterations
                        f = min(max(0.1, 0.9 / excess) if excess > 1.5 else 1.0,
                                step_factor(integ, err, tol, rejected=True) if tol > 0.0 else 1.0)
                        dt *= f
                        continue
                    break
                rate_prev[:] = model.rate_n
                _accept(model, res, dt, t_new, x, x_n, x_prev, st, label, fixture)
                _check_quality(study, st)
                st.smooth_steps += 1
                grow = 2.0 * dt if st.smooth_steps != 1 else dt   # two equal start-up steps
                if tol > 0.0:
                    grow = min(grow, dt * step_factor(integ, err, tol))
                rate_dt = _rate_dt(res, cap, cap_local)
                if res.trial_distance > 0.0:   # keep the next step inside the tensor-log range
                    grow = min(grow, dt * 0.8 * LOG_SERIES_LIMIT / res.trial_distance)
                st.dt_next = min(grow, rate_dt, ts.dt_max_s)
                # Newton effort: factorisations (chord iterations with reuse_factorisation are cheap)
                if (res.factorisations if model.reuse_factorisation else res.iterations) > 6:
                    st.dt_next = min(st.dt_next, 0.7 * dt)
                st.dt_next = max(st.dt_next, ts.dt_min_s)
                elapsed = st.t - ph.t_start
                last = st.t_snap_last.get(st.phase_index, ph.t_start)
                at_end = st.t >= ph.t_end - 1e-12 * max(1.0, ph.t_end)
                if not at_end and elapsed >= study.snapshot_growth * max(last - ph.t_start, 1e-300):
                    snapshot(st.t)
                    st.t_snap_last[st.phase_index] = st.t
                show(_progress_line(label, st, ph, res, model), force=at_end)
                if at_end:
                    finish_phase()
                done = st.phase_index >= len(phases)   # the results follow at once: no checkpoint needed
                # collective decisions (all processes must take the same branch): stop, checkpoint by
                # wall time (clocks differ between processes); the step count is the same everywhere
                flags = np.array([int(stop.requested or (stop_after_steps is not None and c.steps >= stop_after_steps)),
                                  int(time.monotonic() - wall_ckpt >= every_s)], dtype=np.int32)
                if comm.size > 1:
                    comm.Allreduce(MPI.IN_PLACE, flags, op=MPI.MAX)
                want_stop = bool(flags[0])
                if not done and (want_stop or flags[1] or c.steps - steps_ckpt >= every_steps):
                    save_checkpoint()
                    if want_stop:
                        raise Interrupted(f"interrupted at t = {st.t:.6g} s (step {c.steps}); checkpoint written to "
                                          f"{ckpt_name}; rerun the same command to resume")
                if at_end:
                    break
            else:   # no step was needed (the phase had already reached its end)
                finish_phase()

    # ---------------------------------------------------------------- outputs
    t_io = time.perf_counter()
    final = st.history[-1]
    wall = st.wall_before_s + time.perf_counter() - wall0
    summary = {
        "study": study.name,
        "fingerprint": study.fingerprint(),
        "thickness_change_pct": final["thickness_change_pct"],
        "diameter_change_pct": final["diameter_change_pct"],
        "platen_force_N": final["force_N"],
        "nominal_pressure_MPa": final["nominal_pressure_MPa"],
        "gap_mm": final["gap_mm"],
        "diameter_mm": final["diameter_mm"],
        "final_time_s": st.t,
        "time_steps": c.steps,
        "rejected_steps": c.rejected,
        "newton_iterations": c.newton_iterations,
        "newton_iterations_per_step": c.newton_iterations / max(c.steps, 1),
        "rim_contact": {"nodes_at_end": st.history[-1]["rim_contact_nodes"],
                        "max_nodes": max(h.get("rim_contact_nodes", 0) for h in st.history),
                        "min_gap_mm": min(h.get("min_rim_gap_mm", math.inf) for h in st.history),
                        "candidates": int(model._sum(np.count_nonzero(model.rim_owned)))},
        "min_J": min(h.get("min_J", 1.0) for h in st.history),
        "max_equivalent_creep_strain": comm.allreduce(float(model.p_eq.x.array.max(initial=0.0)), op=MPI.MAX),
        "dofs": int(model.W.dofmap.index_map.size_global * model.W.dofmap.index_map_bs),
        "cells": int(model.mesh.topology.index_map(model.mesh.topology.dim).size_global),
        "mpi_processes": comm.size,
        "wall_time_s": wall,
        "linear_solves": model.linear_solves,
        "factorisations": model.factorisations,
        "reuse_factorisation": model.reuse_factorisation,
        "kernels": aot.kind(),   # the numba kernels: compiled ahead of time ("aot", fem/aot.py) or JIT
        "linear_solver": model.linear_solver.kind, "linear_solver_requested": model.linear_solver.requested,
        **({"linear_solver_fallback": model.linear_solver.fallback} if model.linear_solver.fallback else {}),
        **({"krylov_iterations": {"per_solve_mean": float(np.mean(model.linear_solver.krylov_iterations)),
                                  "max": int(np.max(model.linear_solver.krylov_iterations)), "solver": "gamg"}}
           if model.linear_solver.krylov_iterations else {}),
        "timings_s": {"mesh": t_mesh, "setup_and_jit": t_setup, **dict(model.timings)},
        **model.extra_results(),
        **({"composite": {k: mesh_report[k] for k in ("solved", "volume_fractions", "target_volumes_mm3",
                                                        "mesh_volumes_mm3", "mesh_rel_error", "n_tets",
                                                        "n_tets_per_phase", "quality_sicn", "crossing_cells")
                                    if k in mesh_report}}
           if mesh_report and study.model == "composite" else {}),
        **({"homogenised": mesh_report} if study.model == "composite_homogenised" else {}),
        "sign_convention": THICKNESS_SIGN + "; diameter_change_pct = (D-D0)/D0*100",
        "units": {"length": "mm", "force": "N", "stress": "MPa", "time": "s"},
        "parameters": study.to_dict(),
        "sources": _sources(study.model),
        **({"fixture": _fixture_summary(study, st.history)} if fixture is not None else {}),
        "versions": _versions(),
    }
    # history.csv, fields, then summary.json (a finished case is recognised by its summary); each file
    # atomically. A failure keeps the checkpoint, so the same command redoes only the missing tail.
    err = None
    if root:
        try:
            write_history_csv(out_dir / "history.csv", columns, st.history)
        except OSError as e:
            err = describe_oserror(e, out_dir / "history.csv")
    if comm.size > 1:
        err = comm.bcast(err, root=0)
    if err is None and write_fields:
        try:
            write_fields_vtk(out_dir, model, st.snapshots)   # collective: every process sends its part
        except RuntimeError as e:   # the same message on every process
            if "[Errno" not in str(e):
                raise
            err = f"cannot write the fields in {out_dir}: {str(e).splitlines()[0]}"
    if err is None and root:
        if write_fields:
            summary["fields"] = "fields.pvd"
        summary["timings_s"]["io"] = time.perf_counter() - t_io
        try:
            atomic_write_text(out_dir / "summary.json", strict_json.dumps(summary) + "\n")
        except OSError as e:
            err = describe_oserror(e, out_dir / "summary.json")
    if comm.size > 1:
        err = comm.bcast(err, root=0)
    if err is not None:
        raise OutputError(err + "; files already there are kept")
    summary = comm.bcast(summary if root else None, root=0)
    comm.Barrier()
    ckpt.remove(out_dir, comm)
    return summary


# -------------------------------------------------------------------- step helpers
def _rate_dt(res, cap, cap_local) -> float:
    """Step that would reach the creep caps at the current creep rates."""
    dts = [cap / res.rms_rate if res.rms_rate > 0 else math.inf,
           cap_local / res.max_rate if res.max_rate > 0 else math.inf]
    return min(dts)


def _solve(model, dt, x_n, x_guess, ph, t_new, ts):
    return solve_step(model, dt, x_n, ph.constraint(t_new), x_guess, model.delta,
                      max_it=ts.max_newton_iterations)


def _accept(model, res, dt, t_new, x, x_n, x_prev, st, label, fixture=None):
    model.commit_state(res.rate)
    x_prev[:] = x_n
    x_n[:] = x
    st.delta_prev, st.delta = st.delta, model.delta
    st.dt_prev = dt
    st.t = t_new
    c = st.counters
    c.steps += 1
    c.newton_iterations += res.iterations
    st.history.append(_history_row(model, c.steps, t_new, dt, label, res.force_N, res.iterations,
                                   res.max_dp, c.rejected, fixture, res.min_J))


class MeshQualityLimit(RuntimeError):
    """det F at a quadrature point fell below [numerics] min_J: the run stops (one line, exit 1)."""


def _check_quality(study: Study, st) -> None:
    h = st.history[-1]
    if h["min_J"] < study.min_J:
        raise MeshQualityLimit(
            f"mesh quality limit: det F = {h['min_J']:.3g} at a quadrature point < [numerics] min_J = "
            f"{study.min_J:g} at t = {h['time_s']:.6g} s (step {h['step']}, thickness change "
            f"{h['thickness_change_pct']:+.2f} %): the elements are too distorted to trust (the shear layer under "
            f"the platen: refine it with [geometry] platen_refinement, or stop the load earlier)")


def _current_force(model) -> float:
    return model.platen_force_N()


def _history_row(model, step, t, dt, label, force, its, max_dp, rejected, fixture=None, min_J=1.0) -> dict:
    m = model.measure()
    R0 = model.geo.radius_mm
    row = {"step": step, "time_s": t, "dt_s": dt, "phase": label, "force_N": force,
           "nominal_pressure_MPa": force / (math.pi * R0 ** 2), "gap_mm": m["gap_mm"],
           "diameter_mm": m["diameter_mm"], "thickness_change_pct": m["thickness_change_pct"],
           "diameter_change_pct": m["diameter_change_pct"], "newton_iterations": its,
           "max_creep_increment": max_dp, "rejected_steps": rejected,
           # rim contact (fem/models/rim_contact.py): free-surface nodes held on a platen, and the
           # smallest gap of the others (mm; negative would be a penetration)
           "rim_contact_nodes": int(model._sum(np.count_nonzero(model.rim_active[model.rim_owned]))),
           "min_rim_gap_mm": rim_contact.min_gap_mm(model),
           "min_J": min_J}   # smallest det F at a quadrature point (mesh quality; [numerics] min_J stops the run)
    if fixture is not None:   # full-disc screw position s = (h0 - h) + F/k (fem/physics/fixture.py)
        row["screw_mm"] = fixture.screw_mm(model.geo.thickness_mm - m["gap_mm"], force)
    return row


def _fixture_summary(study: Study, history: list[dict]) -> dict:
    """The fixture of a run and the relaxation of each hold (fem/physics/fixture.py hold_relaxation)."""
    from fem.physics.fixture import FIXTURE_SOURCES, hold_relaxation
    fx = study.fixture
    return {"stiffness_N_per_mm": fx.stiffness_N_per_mm,
            "model_spring_N_per_mm": fx.model_spring_N_per_mm(study.geometry.use_symmetry),
            "torque_to_force_N": list(fx.torque_to_force_N), "min_torque_Nm": fx.min_torque_Nm,
            "holds": hold_relaxation(study.load, history), "sources": FIXTURE_SOURCES}


def _progress_line(label, st, ph, res, model) -> str:
    h = st.history[-1]
    return (f"[{label}] step {st.counters.steps:4d}  t = {st.t:10.4g} / {ph.t_end:.4g} s  dt = {st.dt_prev:9.3g} s  "
            f"Newton {res.iterations}  F = {res.force_N:9.2f} N  thickness change {h['thickness_change_pct']:+.3f} %  "
            f"diameter {h['diameter_change_pct']:+.3f} %")


# -------------------------------------------------------------------- checkpoint
def _save_checkpoint(out_dir: Path, comm, fp: str, st: RunState, model, x_prev, rate_prev) -> None:
    """Write the checkpoint (fem/stepping/checkpoint.py; collective under MPI). OSError on failure."""
    ls = model.linear_solver
    meta = {"fingerprint": fp, "step": st.counters.steps, "t": st.t, "phase_index": st.phase_index,
            "dt_next": st.dt_next, "delta": st.delta, "delta_prev": st.delta_prev, "dt_prev": st.dt_prev,
            "smooth_steps": st.smooth_steps, "history": st.history, "counters": st.counters.__dict__,
            "wall_before_s": st.wall_before_s, "t_snap_last": {str(k): v for k, v in st.t_snap_last.items()},
            "phase_value_start": st.phase_value_start,
            "solver": {"kind": ls.kind, "fallback": ls.fallback, "krylov_iterations": list(ls.krylov_iterations),
                       "linear_solves": model.linear_solves, "factorisations": model.factorisations}}
    arrays = {"x": model.w.x.array, "x_prev": x_prev, "Cc_inv": model.Cc_inv_n.x.array, "p_eq": model.p_eq.x.array,
              "rate_n": model.rate_n, "rate_prev": rate_prev, "rim_active": model.rim_committed.astype(float),
              "s_n": model.s_n, "q_n": model.q_n,
              "gel_closure": np.zeros(0) if model.gel_closure is None else model.gel_closure,
              "Cc2_inv": np.zeros(0) if model.Cc2_inv_n is None else model.Cc2_inv_n.x.array}
    ckpt.save(out_dir, comm, meta, arrays, st.snapshots)


def _state_from_meta(meta: dict, snaps: list) -> RunState:
    return RunState(t=meta["t"], phase_index=meta["phase_index"], dt_next=meta["dt_next"], delta=meta["delta"],
                    delta_prev=meta["delta_prev"], dt_prev=meta["dt_prev"], smooth_steps=meta["smooth_steps"],
                    history=meta["history"], snapshots=snaps, counters=Counters(**meta["counters"]),
                    wall_before_s=meta["wall_before_s"],
                    t_snap_last={int(k): v for k, v in meta["t_snap_last"].items()},
                    phase_value_start=list(meta["phase_value_start"]))


def _restore_solver(model, saved: dict) -> None:
    """Linear-solver bookkeeping of the checkpoint: counts, and an automatic GAMG -> MUMPS switch."""
    ls = model.linear_solver
    model.linear_solves = int(saved.get("linear_solves", 0))
    model.factorisations = int(saved.get("factorisations", 0))
    ls.krylov_iterations = list(saved.get("krylov_iterations", []))
    if saved.get("fallback") and ls.kind != saved.get("kind"):
        ls.kind, ls.fallback = saved["kind"], saved["fallback"]
        ls._ksp = ls._pmg = None   # made for the restored kind at the first operator()


def _sources(model: str = "axisymmetric") -> dict:
    from fem.physics.materials import CARBON_SOURCES, GPE_SOURCES, LI_SOURCES, PLY_SOURCES, VOID_SOURCES
    if model not in ("composite", "composite_homogenised"):
        return LI_SOURCES
    from meshes.composite import DEFAULT_SOURCES
    return {"li": LI_SOURCES, "carbon": CARBON_SOURCES, "gpe": GPE_SOURCES, "void": VOID_SOURCES,
            "geometry": DEFAULT_SOURCES, **({"ply": PLY_SOURCES} if model == "composite_homogenised" else {})}


def _versions() -> dict:
    import dolfinx
    import gmsh
    v = {"fem": __version__, "python": platform.python_version(), "dolfinx": dolfinx.__version__,
         "numpy": np.__version__}
    try:
        v["gmsh"] = gmsh.__version__
    except AttributeError:
        pass
    return v
