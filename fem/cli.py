"""Command line: python -m fem run STUDY.toml --out DIR   (also: validate, sweep, report; -h lists them)

Exit codes: 0 done, 2 bad input (one line on stderr, no traceback), also: the output directory is
held by another run (lock), cannot be written (read-only, disk full); 1 the solve failed,
130 interrupted (a checkpoint is written; rerun the same command to resume).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["check"]:   # renamed: `make check` is the regression check (fem/workflows/regression.py)
        print("error: `python -m fem check` is now `python -m fem validate` (validate a study file); "
              "the regression check against the measurements is `make check`", file=sys.stderr)
        return 2
    ap = argparse.ArgumentParser(prog="python -m fem", description="Li anode disc under stack pressure (mm, N, MPa, s)")
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="run one study file")
    r.add_argument("study", help="study file (TOML)")
    r.add_argument("--out", required=True, help="output directory (summary.json, history.csv, fields.pvd)")
    r.add_argument("--quiet", action="store_true", help="no progress lines")
    r.add_argument("--restart", action="store_true", help="ignore an existing checkpoint and start over")
    c = sub.add_parser("validate", help="validate a study file without running it")
    c.add_argument("study")
    sw = sub.add_parser("sweep", help="run every case of a study with lists (skips finished cases)")
    sw.add_argument("study")
    sw.add_argument("--jobs", type=int, default=1, help="cases run in parallel (default 1)")
    sw.add_argument("--force", action="store_true", help="rerun finished cases")
    sw.add_argument("--results", default="results", help="results root (default results/)")
    from fem.workflows.executor import add_executor_args   # --executor, --scheduler, --cluster-config, --ranks
    add_executor_args(sw)
    rp = sub.add_parser("report", help="write results/<study>/report.md and plots from a finished sweep")
    rp.add_argument("study")
    rp.add_argument("--results", default="results")
    rp.add_argument("--measured", default="studies/data/fig4_measured.csv")
    args = ap.parse_args(argv)

    from fem.study import StudyError, load_study
    if args.cmd == "validate":
        from fem.study import read_study_toml
        from fem.workflows.sweep import load_sweep
        try:
            if "identify" in read_study_toml(args.study):   # a one-point identification study
                from fem.workflows.identify import IdentifyError, read_identify_study
                try:
                    _, _, idt = read_identify_study(args.study)
                except IdentifyError as e:
                    raise StudyError(str(e)) from None
                print(f"{args.study}: ok (identification of {idt['parameter']}: make identify STUDY={args.study})")
                return 0
            _, cases = load_sweep(args.study)
        except StudyError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        for w in dict.fromkeys(w for c in cases for w in c.study.warnings):   # e.g. a torque outside the fit's range
            print(f"warning: {w}", file=sys.stderr)
        print(f"{args.study}: ok" + (f" ({len(cases)} cases)" if len(cases) > 1 else ""))
        return 0
    if args.cmd in ("sweep", "report"):
        from fem.workflows.sweep import load_sweep
        try:
            name, cases = load_sweep(args.study)
            if args.cmd == "report" and cases[0].study.model == "rve":   # no disc histories to plot
                raise StudyError(f"{args.study}: `fem report` is for disc studies; the table of an RVE sweep: "
                                 f".venv/bin/python -m fem.rve.convergence {Path(args.results) / name}")
            if args.cmd == "sweep" and args.jobs < 1:
                raise StudyError(f"--jobs {args.jobs}: must be a whole number >= 1")
        except StudyError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        if args.cmd == "sweep":
            from fem.workflows.sweep import run_sweep
            return run_sweep(args.study, jobs=args.jobs, force=args.force, root=Path(args.results),
                             executor=args.executor, scheduler=args.scheduler,
                             cluster_config=args.cluster_config, ranks=args.ranks)
        from fem.workflows.report import write_report
        try:
            path = write_report(args.study, root=Path(args.results), measured=Path(args.measured))
        except FileNotFoundError as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
        print(f"report: {path}")
        return 0
    try:
        study = load_study(args.study)
    except StudyError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        print(f"error: --out {out}: exists and is not a directory", file=sys.stderr)
        return 2
    if study.model == "rve":   # periodic RVE: effective stiffness, no time stepping (fem/rve/run.py)
        from fem.rve.run import run_rve_cli
        return run_rve_cli(study, out, quiet=args.quiet)
    from fem.stepping.run import Interrupted, LockHeld, MeshQualityLimit, OutputError, run_case
    from meshes.common import GeometryError
    from mpi4py import MPI
    try:
        s = run_case(study, out, progress=not args.quiet, restart=args.restart)
    except (LockHeld, OutputError) as e:   # raised on every process alike: one line from process 0
        if MPI.COMM_WORLD.rank == 0:
            print(f"error: {e}", file=sys.stderr, flush=True)
        return 2
    except Interrupted as e:
        print(f"{e}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("interrupted before a checkpoint could be written", file=sys.stderr)
        return 130
    except MeshQualityLimit as e:
        if MPI.COMM_WORLD.rank == 0:
            print(f"error: {e}", file=sys.stderr, flush=True)
        return 1
    except GeometryError as e:   # the mesher's exact layout can refuse what the study's check let pass
        if MPI.COMM_WORLD.rank == 0:
            print(f"error: {args.study}: [{_geometry_table(study)}] {e}", file=sys.stderr, flush=True)
        return 2
    except RuntimeError as e:
        print(f"error: solve failed: {e}", file=sys.stderr)
        return 1
    if MPI.COMM_WORLD.rank != 0:   # under mpirun: one report
        return 0
    print(f"\n{study.name}: thickness change {s['thickness_change_pct']:+.2f} % (positive = thinner), "
          f"diameter change {s['diameter_change_pct']:+.2f} % after {s['final_time_s']:g} s "
          f"(platen force {s['platen_force_N']:.2f} N = {s['nominal_pressure_MPa']:.3f} MPa nominal)")
    print(f"{s['time_steps']} steps, {s['newton_iterations']} Newton iterations "
          f"({s['newton_iterations_per_step']:.2f}/step), {s['rejected_steps']} rejected, "
          f"{s['dofs']} dofs, wall time {s['wall_time_s']:.1f} s")
    for h in s.get("fixture", {}).get("holds", []):   # screw fixture: the force relaxation of each hold
        print(f"fixture hold {h['step']} ({h['set_point']}): {h['pressure_start_MPa']:.3f} -> "
              f"{h['pressure_end_MPa']:.3f} MPa ({h['force_start_N']:.1f} -> {h['force_end_N']:.1f} N, "
              f"-{h['force_relaxation_pct']:.1f} %) over {h['t_end_s'] - h['t_start_s']:g} s")
    print(f"results: {out}/summary.json, {out}/history.csv" +
          (f"\nParaView: paraview {out}/fields.pvd  (Warp By Vector: displacement; "
           f"colour: equivalent_creep_strain)" if "fields" in s else ""))
    return 0


def _geometry_table(study) -> str:
    """The study table whose keys a mesh builder's GeometryError names: [composite] for the composite
    discs (masses, weave), else [geometry]."""
    return "composite" if study.model in ("composite", "composite_homogenised") else "geometry"
