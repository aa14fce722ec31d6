"""Design study of a G-LiCFC disc (issue 18 item 5): `make design [STUDY=...]` runs a sweep study
whose swept keys are design variables (default studies/composite_glicfc_design.toml: Li loading,
cloth areal weight and gel amount at 10 and 30 MPa on the homogenised disc), then writes

    results/<study>/design.md    one row per case: the design, the layers, diameter and thickness change
    results/<study>/design.json  the same rows
    results/<study>/design.png   diameter (solid) and thickness (dashed) change against each design
                                 variable, the others at their middle value, one panel row per pressure

Units: masses mg per 15 mm disc (as the paper gives them), lengths mm, pressure MPa, changes %.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from fem.stepping.outputs import atomic_output, atomic_write_text
from fem.study import StudyError
from fem.workflows import strict_json
from fem.workflows.sweep import RESULTS_ROOT, case_dir, is_finished, load_sweep, run_sweep

DEFAULT_STUDY = Path("studies/composite_glicfc_design.toml")
LABELS = {"li_mass_mg": "Li loading (mg per disc)", "cfc_mass_mg": "carbon cloth (mg per disc)",
          "gpe_mass_mg": "gel (mg per disc)", "gpe_thickness_mm": "gel skin (mm)",
          "void_fraction": "void fraction", "tow_pitch_mm": "tow pitch (mm)"}


def rows_of(study_path: Path, root: Path = RESULTS_ROOT) -> tuple[list[dict], list[str], list[str]]:
    """(rows of the finished cases, the swept design keys, the unfinished case names)."""
    name, cases = load_sweep(study_path)
    design = [k for k in cases[0].swept if k != "pressure_MPa"] if cases else []
    rows, missing = [], []
    for c in cases:
        out = case_dir(name, c, root)
        if not is_finished(out, c):
            missing.append(c.name)
            continue
        s = json.loads((out / "summary.json").read_text())
        lay = s.get("homogenised", {}).get("layers_mm", {})
        rows.append({**c.swept, "diameter_change_pct": s["diameter_change_pct"],
                     "thickness_change_pct": s["thickness_change_pct"],
                     "thickness_mm": c.study.geometry.thickness_mm,
                     **{f"{k}_layer_mm": v for k, v in lay.items()}, "case": c.name})
    return rows, design, missing


def _middle(values):
    v = sorted(set(values))
    return v[len(v) // 2]


def plot(rows: list[dict], design: list[str], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    pressures = sorted({r["pressure_MPa"] for r in rows})
    mid = {k: _middle([r[k] for r in rows]) for k in design}
    fig, axes = plt.subplots(len(pressures), len(design), figsize=(4.0 * len(design), 3.2 * len(pressures)),
                             squeeze=False)
    for i, P in enumerate(pressures):
        for j, k in enumerate(design):
            sel = sorted((r for r in rows if r["pressure_MPa"] == P and all(r[o] == mid[o] for o in design if o != k)),
                         key=lambda r: r[k])
            ax = axes[i, j]
            x = [r[k] for r in sel]
            ax.plot(x, [r["diameter_change_pct"] for r in sel], "o-", label="diameter")
            ax.plot(x, [r["thickness_change_pct"] for r in sel], "s--", label="thickness")
            ax.set_xlabel(LABELS.get(k, k))
            ax.set_ylabel("change (%)")
            others = ", ".join(f"{o} {mid[o]:g}" for o in design if o != k)
            ax.set_title(f"{P:g} MPa ({others})", fontsize=8)
            ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    atomic_output(path, lambda f: fig.savefig(f, dpi=120))


def markdown(rows: list[dict], design: list[str], study: str) -> str:
    head = ["pressure_MPa", *design, "thickness_mm", "ply_layer_mm", "li_layer_mm", "gpe_layer_mm",
            "diameter_change_pct", "thickness_change_pct"]
    lines = [f"# Design study {study}", "",
             "Diameter and thickness change (%, positive = larger diameter / thinner) after the study's load; "
             "masses in mg per 15 mm disc, layers per half disc (mm).", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in sorted(rows, key=lambda r: tuple(r[k] for k in ["pressure_MPa", *design])):
        lines.append("| " + " | ".join(f"{r.get(k, float('nan')):.4g}" for k in head) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m fem.workflows.design", description=__doc__.splitlines()[0])
    ap.add_argument("study", nargs="?", default=str(DEFAULT_STUDY))
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--no-run", action="store_true", help="only tabulate and plot the finished cases")
    a = ap.parse_args(argv)
    path = Path(a.study)
    try:
        name, _ = load_sweep(path)
    except StudyError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if not a.no_run:
        rc = run_sweep(path, jobs=a.jobs)
        if rc == 130:
            return rc
    rows, design, missing = rows_of(path)
    if not rows:
        print(f"error: no finished case of {path}", file=sys.stderr)
        return 1
    if not design:
        print(f"error: {path}: no swept design key (sweep at least one key besides pressure_MPa)", file=sys.stderr)
        return 2
    out = RESULTS_ROOT / name
    atomic_write_text(out / "design.md", markdown(rows, design, name))
    atomic_write_text(out / "design.json", strict_json.dumps({"design_keys": design, "rows": rows,
                                                               "unfinished": missing}) + "\n")
    plot(rows, design, out / "design.png")
    if missing:
        print(f"{len(missing)} case(s) did not finish and are left out: {', '.join(missing[:5])}"
              + (" ..." if len(missing) > 5 else ""))
    print(f"written: {out}/design.md, {out}/design.json, {out}/design.png ({len(rows)} cases)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
