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

Interrupts (SIGINT/SIGTERM) finish the current step, write a checkpoint and exit; rerunning the
same command resumes from it. Results are written atomically when the run completes.
"""
from __future__ import annotations

import json
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
from fem.models.newton import solve_step
from fem.models.solid3d import Disc3DModel
from fem.stepping.outputs import atomic_write_text, write_fields_vtk, write_history_csv
from fem.physics.platen import build_phases
from fem.physics.laws import LOG_SERIES_LIMIT
from fem.study import Study
from fem.stepping.timestep import INTEGRATORS, REJECT, first_step, local_error, step_factor

HISTORY_COLUMNS = ["step", "time_s", "dt_s", "phase", "force_N", "nominal_pressure_MPa", "gap_mm",
                   "diameter_mm", "thickness_change_pct", "diameter_change_pct", "newton_iterations",
                   "max_creep_increment", "rejected_steps"]


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
        t_mesh = time.perf_counter() - t_mesh
        t_setup = time.perf_counter()
        model = Disc3DModel(msh, study.geometry, phases, study.platen, study.quadrature_degree, theta,
                            cell_tags=cell_tags, fibre_direction=fibre, linear_solver=study.linear_solver,
                            reuse_factorisation=study.reuse_factorisation)
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

    stop_after_steps: testing hook that simulates an interrupt after that many accepted steps.
    """
    from mpi4py import MPI
    comm = MPI.COMM_WORLD
    root = comm.rank == 0
    wall0 = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    # under MPI every process keeps its own part of the state in its own checkpoint file
    ckpt_path = out_dir / ("checkpoint.npz" if comm.size == 1 else f"checkpoint.rank{comm.rank}.npz")
    show = _progress_printer(progress and root)
    # field output: VTK of the r-z section (axisymmetric) or of the 3D body (also under MPI: process 0
    # gathers the parts and writes the files)
    write_fields = study.write_fields

    model, mesh_report, t_mesh, t_setup = build_model(study)

    geo, ts = study.geometry, study.time
    phases = build_phases(study.load, geo.radius_mm, geo.thickness_mm, geo.use_symmetry)
    cap, cap_local = ts.max_creep_increment, ts.max_local_creep_increment
    tol, integ = ts.time_tolerance, ts.integrator
    theta = INTEGRATORS[integ]
    fp = study.fingerprint()
    rate_prev = np.zeros_like(model.rate_n)

    st = RunState()
    x = model.w.x.array
    x_n = x.copy()
    x_prev = x.copy()
    if ckpt_path.exists() and not restart:
        st, arrays = _load_checkpoint(ckpt_path, fp)
        if st is not None:
            x[:] = arrays["x"]; x_n[:] = arrays["x"]; x_prev[:] = arrays["x_prev"]
            model.Cc_inv_n.x.array[:] = arrays["Cc_inv"]
            model.p_eq.x.array[:] = arrays["p_eq"]
            model.rate_n[:] = arrays["rate_n"]
            rate_prev[:] = arrays["rate_prev"]
            model.delta = st.delta
            show(f"resuming from checkpoint at t = {st.t:.6g} s, step {st.counters.steps}", force=True)
        else:
            show("checkpoint belongs to a different study; starting over", force=True)
            st = RunState()
    c = st.counters
    wall_ckpt = time.monotonic()
    t_snap_last = {}

    def snapshot(t):
        if write_fields:
            if st.snapshots and st.snapshots[-1]["t"] == t:
                st.snapshots.pop()   # same time written again (end of an instantaneous phase)
            st.snapshots.append(model.snapshot(t))

    if not st.history:
        st.history.append(_history_row(model, 0, 0.0, 0.0, "start", 0.0, 0, 0.0, 0))
        snapshot(0.0)

    with _StopFlag() as stop:
        while st.phase_index < len(phases):
            ph = phases[st.phase_index]
            label = f"{ph.kind} {ph.step_index + 1}/{len(study.load)}"
            if math.isnan(ph.value_start):  # control mode switched: ramp from the current state
                start = model.delta if ph.control == "gap" else _current_force(model)
                ph = type(ph)(ph.step_index, ph.kind, ph.control, ph.t_start, ph.t_end, start, ph.value_end)
                phases[st.phase_index] = ph
            duration = ph.t_end - ph.t_start
            if duration <= 0.0:
                if ph.kind == "ramp":   # instantaneous load change: one elastic step
                    res = _solve(model, 0.0, x_n, x_n, ph, ph.t_end, ts)
                    _accept(model, res, 0.0, ph.t_end, x, x_n, x_prev, st, label)
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
                dt = min(st.dt_next, ph.t_end - st.t)
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
                _accept(model, res, dt, t_new, x, x_n, x_prev, st, label)
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
                last = t_snap_last.get(st.phase_index, ph.t_start)
                at_end = st.t >= ph.t_end - 1e-12 * max(1.0, ph.t_end)
                if not at_end and elapsed >= study.snapshot_growth * max(last - ph.t_start, 1e-300):
                    snapshot(st.t)
                    t_snap_last[st.phase_index] = st.t
                show(_progress_line(label, st, ph, res, model), force=at_end)
                # collective decisions (all processes must take the same branch)
                want_stop = comm.allreduce(int(stop.requested or (stop_after_steps is not None
                                                                  and c.steps >= stop_after_steps)), op=MPI.MAX)
                want_ckpt = comm.allreduce(int(time.monotonic() - wall_ckpt > 60.0), op=MPI.MAX)
                if want_stop or want_ckpt:
                    st.wall_before_s += time.perf_counter() - wall0
                    wall0 = time.perf_counter()
                    _save_checkpoint(ckpt_path, fp, st, model, x_prev, rate_prev)
                    wall_ckpt = time.monotonic()
                    if want_stop:
                        raise Interrupted(f"interrupted at t = {st.t:.6g} s (step {c.steps}); checkpoint written to "
                                          f"{ckpt_path}; rerun the same command to resume")
            st.phase_index += 1
            snapshot(st.t)

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
        "max_equivalent_creep_strain": comm.allreduce(float(model.p_eq.x.array.max(initial=0.0)), op=MPI.MAX),
        "dofs": int(model.W.dofmap.index_map.size_global * model.W.dofmap.index_map_bs),
        "cells": int(model.mesh.topology.index_map(model.mesh.topology.dim).size_global),
        "mpi_processes": comm.size,
        "wall_time_s": wall,
        "linear_solves": model.linear_solves,
        "factorisations": model.factorisations,
        "reuse_factorisation": model.reuse_factorisation,
        "linear_solver": model.linear_solver.kind, "linear_solver_requested": model.linear_solver.requested,
        **({"linear_solver_fallback": model.linear_solver.fallback} if model.linear_solver.fallback else {}),
        **({"krylov_iterations": {"per_solve_mean": float(np.mean(model.linear_solver.krylov_iterations)),
                                  "max": int(np.max(model.linear_solver.krylov_iterations)), "solver": "gamg"}}
           if model.linear_solver.krylov_iterations else {}),
        "timings_s": {"mesh": t_mesh, "setup_and_jit": t_setup, **dict(model.timings)},
        **model.extra_results(),
        **({"composite": {k: mesh_report[k] for k in ("solved", "volume_fractions", "target_volumes_mm3",
                                                        "mesh_volumes_mm3", "mesh_rel_error", "n_tets",
                                                        "n_tets_per_phase", "quality_sicn")}}
           if mesh_report else {}),
        "sign_convention": THICKNESS_SIGN + "; diameter_change_pct = (D-D0)/D0*100",
        "units": {"length": "mm", "force": "N", "stress": "MPa", "time": "s"},
        "parameters": study.to_dict(),
        "sources": _sources(study.model),
        "versions": _versions(),
    }
    if root:
        write_history_csv(out_dir / "history.csv", HISTORY_COLUMNS, st.history)
    if write_fields:
        write_fields_vtk(out_dir, model, st.snapshots)   # collective: every process sends its part
    if root:
        if write_fields:
            summary["fields"] = "fields.pvd"
        summary["timings_s"]["io"] = time.perf_counter() - t_io
        atomic_write_text(out_dir / "summary.json", json.dumps(summary, indent=2) + "\n")
    summary = comm.bcast(summary if root else None, root=0)
    comm.Barrier()
    if ckpt_path.exists():
        ckpt_path.unlink()
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


def _accept(model, res, dt, t_new, x, x_n, x_prev, st, label):
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
                                   res.max_dp, c.rejected))


def _current_force(model) -> float:
    return model.platen_force_N()


def _history_row(model, step, t, dt, label, force, its, max_dp, rejected) -> dict:
    m = model.measure()
    R0 = model.geo.radius_mm
    return {"step": step, "time_s": t, "dt_s": dt, "phase": label, "force_N": force,
            "nominal_pressure_MPa": force / (math.pi * R0 ** 2), "gap_mm": m["gap_mm"],
            "diameter_mm": m["diameter_mm"], "thickness_change_pct": m["thickness_change_pct"],
            "diameter_change_pct": m["diameter_change_pct"], "newton_iterations": its,
            "max_creep_increment": max_dp, "rejected_steps": rejected}


def _progress_line(label, st, ph, res, model) -> str:
    h = st.history[-1]
    return (f"[{label}] step {st.counters.steps:4d}  t = {st.t:10.4g} / {ph.t_end:.4g} s  dt = {st.dt_prev:9.3g} s  "
            f"Newton {res.iterations}  F = {res.force_N:9.2f} N  thickness change {h['thickness_change_pct']:+.3f} %  "
            f"diameter {h['diameter_change_pct']:+.3f} %")


# -------------------------------------------------------------------- checkpoint
def _save_checkpoint(path: Path, fp: str, st: RunState, model, x_prev, rate_prev) -> None:
    meta = {"fingerprint": fp, "t": st.t, "phase_index": st.phase_index, "dt_next": st.dt_next,
            "delta": st.delta, "delta_prev": st.delta_prev, "dt_prev": st.dt_prev,
            "smooth_steps": st.smooth_steps,
            "history": st.history, "counters": st.counters.__dict__, "wall_before_s": st.wall_before_s,
            "snapshot_times": [s["t"] for s in st.snapshots]}
    snaps = {}
    for i, s in enumerate(st.snapshots):
        for k in ("u", "von_mises", "p_eq"):
            snaps[f"snap{i}_{k}"] = s[k]
    tmp = path.with_name(path.name + f".tmp{os.getpid()}.npz")
    np.savez(tmp, meta=np.array(json.dumps(meta)), x=model.w.x.array, x_prev=x_prev,
             Cc_inv=model.Cc_inv_n.x.array, p_eq=model.p_eq.x.array, rate_n=model.rate_n,
             rate_prev=rate_prev, **snaps)
    os.replace(tmp, path)


def _load_checkpoint(path: Path, fp: str):
    with np.load(path) as z:
        meta = json.loads(str(z["meta"]))
        if meta["fingerprint"] != fp:
            return None, None
        arrays = {k: z[k].copy() for k in ("x", "x_prev", "Cc_inv", "p_eq", "rate_n", "rate_prev")}
        snaps = [{"t": t, **{k: z[f"snap{i}_{k}"].copy() for k in ("u", "von_mises", "p_eq")}}
                 for i, t in enumerate(meta["snapshot_times"])]
    st = RunState(t=meta["t"], phase_index=meta["phase_index"], dt_next=meta["dt_next"], delta=meta["delta"],
                  delta_prev=meta["delta_prev"], dt_prev=meta["dt_prev"],
                  smooth_steps=meta["smooth_steps"], history=meta["history"],
                  snapshots=snaps, counters=Counters(**meta["counters"]), wall_before_s=meta["wall_before_s"])
    return st, arrays


def _sources(model: str = "axisymmetric") -> dict:
    from fem.physics.materials import CARBON_SOURCES, GPE_SOURCES, LI_SOURCES, VOID_SOURCES
    if model != "composite":
        return LI_SOURCES
    from meshes.composite import DEFAULT_SOURCES
    return {"li": LI_SOURCES, "carbon": CARBON_SOURCES, "gpe": GPE_SOURCES, "void": VOID_SOURCES,
            "geometry": DEFAULT_SOURCES}


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
