"""Benchmark (not a test): the cost of a Newton iteration on the realistic 3D bare-Li case,
split into assembly, factorisation and solve, with and without factorisation reuse.

Case: studies/li3d_literature_mu01.toml (literature Norton law, Coulomb mu 0.1, 5.19 MPa, 1 s ramp
+ 30 s hold, quarter disc, mesh 0.25 mm, 99 494 unknowns). Each variant runs until the case ends or
until --steps accepted steps (the run is then interrupted like a Ctrl-C; the timings so far count).

    python bench/bench_newton_3d.py [--steps N] [--study FILE] [--variants mumps,mumps+reuse,gamg]

Writes results/bench/<date>/newton_3d.json (atomically) and prints one line per variant.
Units: s (wall), counts.
"""
from __future__ import annotations

import argparse
import datetime
import json
import tempfile
import time
from pathlib import Path

import fem.stepping.run as run
from fem.stepping.outputs import atomic_write_text
from fem.study import load_study

VARIANTS = {"mumps": {"linear_solver": "mumps", "reuse": False},
            "mumps+reuse": {"linear_solver": "mumps", "reuse": True},
            "gamg": {"linear_solver": "gamg", "reuse": False},
            "gamg+reuse": {"linear_solver": "gamg", "reuse": True}}


def measure(study_file: str, variant: str, steps: int | None) -> dict:
    import dataclasses
    v = VARIANTS[variant]
    study = load_study(study_file)
    study = dataclasses.replace(study, linear_solver=v["linear_solver"], reuse_factorisation=v["reuse"])
    box = {}
    orig = run.build_model

    def capture(s):
        out = orig(s)
        box["model"] = out[0]
        return out

    run.build_model = capture
    t0 = time.perf_counter()
    finished = True
    with tempfile.TemporaryDirectory() as tmp:
        try:
            summary = run.run_case(study, Path(tmp), progress=False, stop_after_steps=steps)
        except run.Interrupted:
            finished, summary = False, None
        finally:
            run.build_model = orig
        wall = time.perf_counter() - t0
        m = box["model"]
        if summary is None:   # interrupted: the counters are in the checkpoint
            from mpi4py import MPI
            from fem.stepping import checkpoint
            outcome, meta, _, snaps = checkpoint.load(Path(tmp), MPI.COMM_WORLD, study.fingerprint(), {})
            assert outcome == "ok", outcome
            ck = run._state_from_meta(meta, snaps)
            hist, counters = ck.history, ck.counters
        else:
            hist, counters = None, None
    its = summary["newton_iterations"] if summary else counters.newton_iterations
    nsteps = summary["time_steps"] if summary else counters.steps
    last = summary if summary else hist[-1]
    t = dict(m.timings)
    return {"variant": variant, "finished": finished, "wall_s": wall, "steps": nsteps,
            "t_end_s": last.get("final_time_s", last.get("time_s")),
            "newton_iterations": its, "factorisations": m.factorisations, "linear_solves": m.linear_solves,
            "thickness_change_pct": last["thickness_change_pct"], "diameter_change_pct": last["diameter_change_pct"],
            "dofs": int(m.W.dofmap.index_map.size_global * m.W.dofmap.index_map_bs),
            "timings_s": t,
            # per unit of work: a residual + Jacobian assembly (one per factorisation; chord iterations
            # assemble only the residual), a factorisation, a linear solve
            "per_factorisation_s": t.get("factorisation", 0.0) / max(m.factorisations, 1),
            "per_solve_s": t.get("solve", 0.0) / max(m.linear_solves, 1),
            "per_iteration_s": {k: t.get(k, 0.0) / max(its, 1) for k in ("assembly", "factorisation", "solve",
                                                                        "constitutive", "friction")}}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--study", default="studies/li3d_literature_mu01.toml")
    ap.add_argument("--steps", type=int, default=None, help="stop after this many accepted steps")
    ap.add_argument("--variants", default="mumps,mumps+reuse")
    a = ap.parse_args(argv)
    rows = []
    for v in a.variants.split(","):
        r = measure(a.study, v, a.steps)
        rows.append(r)
        t = r["timings_s"]
        print(f"{v:12s} dofs {r['dofs']} {'finished' if r['finished'] else 'stopped'} at t = {r['t_end_s']:.4g} s: "
              f"steps {r['steps']}, Newton iterations {r['newton_iterations']}, factorisations {r['factorisations']}, "
              f"linear solves {r['linear_solves']}, wall {r['wall_s']:.1f} s | totals: assembly "
              f"{t.get('assembly', 0):.1f} s, factorisation {t.get('factorisation', 0):.1f} s "
              f"({r['per_factorisation_s']:.2f} s each), solve {t.get('solve', 0):.1f} s ({r['per_solve_s']:.3f} s each), "
              f"return map {t.get('constitutive', 0):.1f} s, friction {t.get('friction', 0):.1f} s | thickness change "
              f"{r['thickness_change_pct']:+.3f} %, diameter {r['diameter_change_pct']:+.3f} %", flush=True)
    out = Path("results/bench") / datetime.date.today().isoformat() / "newton_3d.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
