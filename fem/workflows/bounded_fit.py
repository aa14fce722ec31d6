"""Bounded fit of the bare-Li Fig. 4 points: every parameter inside its literature band (`make bounded-fit`).

What is free (at most two parameters for four measured numbers; everything else is a literature value or
a stated assumption, listed in the output):
  * the platen friction: a Tresca friction factor m in [0, 1] (studies/fig4_bare_li_bounded_tresca.toml,
    shear flow stress k = 0.44 MPa) or a Coulomb coefficient mu (studies/fig4_bare_li_bounded_coulomb.toml);
  * the flow prefactor A within +-1 decade of its literature value (Anand law: 4.25e4 1/s for the
    default parameter set, 0.05 1/s for the set of Narayan & Anand 2018, Table 2; Norton law:
    7.7e-3 MPa^-n/s, Masias et al. 2019), the spread of published Li creep data between laboratories.
Objective, prior stated in it:
    chi^2 = sum over the measured bare-Li numbers ((predicted - measured) / uncertainty)^2
            + ((log10 A - log10 A_lit) / 1 decade)^2,
the uncertainties being those of studies/data/fig4_measured.csv (assumed; the paper reports none).
The grid studies are ordinary sweeps (cached, resumable, any executor); this module only evaluates them:
the chi^2 table, the profile over the friction (A fitted at each value on the grid), the best grid point,
the Fisher matrix there (finite differences on the grid: identifiability), and leave-one-out (fit on one
pressure, predict the other). It writes results/bounded_fit/bounded_fit.json and .md, and the study of
the best point over the Fig. 4 pressures (studies/fig4_bare_li_bounded.toml), which `make check` uses.
Units: MPa, %, percentage points (pp).
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

from fem.stepping.outputs import atomic_write_text
from fem.workflows import strict_json
from fem.workflows.report import case_points, read_history, read_measured
from fem.workflows.sweep import case_dir, is_finished, load_sweep, run_sweep, to_toml

# grid study -> the literature value of its flow prefactor A (1/s), the centre of the prior:
#   the default [anand] set (public MOOSE input files, fem/physics/materials.py LI_ANAND_SOURCES): 4.25e4;
#   Narayan & Anand 2018, Table 2 (eps0, isothermal): 0.05
#   the Norton law fitted by Masias et al. 2019 to their tension creep data (Table S1): 7.7e-3 MPa^-n/s,
#   the one law that also predicts their compression creep (studies/masias2019_compression_norton.toml)
GRIDS = {"studies/fig4_bare_li_bounded_tresca.toml": 4.25e4,
         "studies/fig4_bare_li_bounded_coulomb.toml": 4.25e4,
         "studies/fig4_bare_li_bounded_na2018_tresca.toml": 0.05,
         "studies/fig4_bare_li_bounded_na2018_coulomb.toml": 0.05,
         "studies/fig4_bare_li_bounded_norton_tresca.toml": 7.7e-3}
# the swept prefactor of each law: (study table, key)
PREFACTOR_KEYS = (("anand", "flow_prefactor_per_s"), ("li", "creep_A"))
A_LIT = 4.25e4               # 1/s, the default set's prefactor (when a grid is not in GRIDS)
A_PRIOR_DECADES = 1.0        # prior width and bound of log10 A
FRICTION_KEYS = ("tresca_m", "mu")
CURVE_PRESSURES_MPA = (5.19, 10.0, 17.79, 25.0, 30.0)   # the Fig. 4 pressures of the written study
BEST_STUDY = "studies/fig4_bare_li_bounded.toml"


def grid_table(study: str, results: Path, measured: list[dict], a_lit: float = A_LIT) -> list[dict]:
    """One row per parameter point of a finished grid: friction, log10 A, the predictions at each
    measured pressure, the data chi^2 and the prior term."""
    name, cases = load_sweep(study)
    meas = {round(m["pressure_MPa"], 9): m for m in measured if m["sample"] == "bare_li"}
    points: dict[tuple, dict] = {}
    for c in cases:
        d = case_dir(name, c, results)
        if not is_finished(d, c):
            continue
        fr_key = next(k for k in FRICTION_KEYS if k in c.swept)
        a_key = next(k for _, k in PREFACTOR_KEYS if k in c.swept)
        key = (fr_key, float(c.swept[fr_key]), float(c.swept[a_key]))
        row = points.setdefault(key, {"friction": fr_key, "friction_value": key[1],
                                      "log10_A": math.log10(key[2]), "pred": {}})
        for p in case_points(c, read_history(d / "history.csv"), ""):
            row["pred"][round(p.pressure_MPa, 9)] = (p.thickness_change_pct, p.diameter_change_pct)
    rows = []
    for row in points.values():
        if set(row["pred"]) != set(meas):
            continue
        rows.append(chi2_row(row, meas, a_lit))
    return rows


def _terms(pred: dict, meas: dict, only=None) -> dict:
    out = {}
    for P, m in meas.items():
        if only is not None and P != only:
            continue
        t, dd = pred[P]
        out[(P, "thickness")] = ((t - m["thickness_change_pct"]) / m["thickness_uncertainty_pct"]) ** 2
        out[(P, "diameter")] = ((dd - m["diameter_change_pct"]) / m["diameter_uncertainty_pct"]) ** 2
    return out


def fisher(rows: list[dict], best: dict, meas: dict) -> dict | None:
    """J^T W J of the four weighted residuals at the best grid point by central (or one-sided)
    differences over the grid in (friction, log10 A), plus the prior's 1/decade^2 on log10 A;
    its eigenvalues say which combinations the data identify."""
    fr = sorted({r["friction_value"] for r in rows})
    la = sorted({round(r["log10_A"], 9) for r in rows})
    at = {(r["friction_value"], round(r["log10_A"], 9)): r for r in rows}

    def resid(r):
        out = []
        for P, m in sorted(meas.items()):
            t, d = r["pred"][P]
            out += [(t - m["thickness_change_pct"]) / m["thickness_uncertainty_pct"],
                    (d - m["diameter_change_pct"]) / m["diameter_uncertainty_pct"]]
        return np.array(out)

    def deriv(axis_vals, i, get):
        lo, hi = max(i - 1, 0), min(i + 1, len(axis_vals) - 1)
        a, b = get(axis_vals[lo]), get(axis_vals[hi])
        if a is None or b is None or lo == hi:
            return None
        return (resid(b) - resid(a)) / (axis_vals[hi] - axis_vals[lo])

    f0, a0 = best["friction_value"], round(best["log10_A"], 9)
    jf = deriv(fr, fr.index(f0), lambda v: at.get((v, a0)))
    ja = deriv(la, la.index(a0), lambda v: at.get((f0, v)))
    if jf is None or ja is None:
        return None
    J = np.stack([jf, ja], axis=1)
    Fm = J.T @ J + np.diag([0.0, 1.0 / A_PRIOR_DECADES ** 2])
    w, V = np.linalg.eigh(Fm)
    cov = np.linalg.inv(Fm) if w.min() > 0 else None
    return {"parameters": [best["friction"], "log10_A"], "matrix": Fm.tolist(), "eigenvalues": w.tolist(),
            "eigenvectors": V.T.tolist(),
            "std": None if cov is None else np.sqrt(np.diag(cov)).tolist()}


def evaluate(results: Path, measured_path: Path, grids=None) -> dict:
    measured = read_measured(measured_path)
    meas = {round(m["pressure_MPa"], 9): m for m in measured if m["sample"] == "bare_li"}
    grids = GRIDS if grids is None else grids
    out = {"objective": "chi2 = sum(((pred - meas)/u)^2 over the 4 bare-Li numbers) + ((log10 A - log10 A_lit)/1)^2",
           "free": {"friction": "Tresca m in [0, 1] (k = 0.44 MPa) or Coulomb mu",
                    "log10_A": "log10 A_lit +- 1 (grid bound); A_lit 4.25e4 1/s (default set) or 0.05 1/s (Narayan & Anand 2018)"},
           "fixed": {"law": "Anand; the default set (public MOOSE inputs) or Narayan & Anand 2018 Table 2 (grid file header)",
                     "temperature_K": "298 (assumption)", "thickness_mm": "0.5 (assumption; commercial foils 0.4-0.6)",
                     "protocol": "one fresh sample per pressure, 1 s ramp + 60 s hold, dead load (assumption)"},
           "grids": {}}
    for g, a_lit in grids.items():
        rows = grid_table(g, results, measured, a_lit)
        if rows:
            out["grids"][g] = summarise(rows, meas)
    return out


def summarise(rows: list[dict], meas: dict) -> dict:
    """Best point, profile over the friction, Fisher matrix and leave-one-out of one grid's rows."""
    best = min(rows, key=lambda r: r["chi2"])
    profile = {}
    for r in rows:
        v = r["friction_value"]
        if v not in profile or r["chi2"] < profile[v]["chi2"]:
            profile[v] = r
    loo = {}
    for P in meas:   # fit on one pressure (its two numbers + the prior), predict the other
        fit = min(rows, key=lambda r: sum(_terms(r["pred"], meas, only=P).values()) + r["chi2_prior"])
        other = [Q for Q in meas if Q != P][0]
        t, d = fit["pred"][other]
        loo[f"fit_{P:g}_predict_{other:g}"] = {
            "friction_value": fit["friction_value"], "log10_A": fit["log10_A"],
            "thickness_miss_pp": t - meas[other]["thickness_change_pct"],
            "diameter_miss_pp": d - meas[other]["diameter_change_pct"]}
    return {"points": len(rows),
            "best": {**_public(best), "misses_pp": _misses(best, meas)},
            "profile": [{"friction_value": v, "log10_A": r["log10_A"], "chi2": r["chi2"],
                         "misses_pp": _misses(r, meas)} for v, r in sorted(profile.items())],
            "fisher": fisher(rows, best, meas),
            "leave_one_out": loo,
            "table": [_public(r) for r in sorted(rows, key=lambda r: (r["friction_value"], r["log10_A"]))]}


def chi2_row(row: dict, meas: dict, a_lit: float = A_LIT) -> dict:
    """Adds chi2_data, chi2_prior and chi2 to a grid row (the objective of the module docstring)."""
    row["chi2_data"] = sum(_terms(row["pred"], meas).values())
    row["log10_A_literature"] = math.log10(a_lit)
    row["chi2_prior"] = ((row["log10_A"] - math.log10(a_lit)) / A_PRIOR_DECADES) ** 2
    row["chi2"] = row["chi2_data"] + row["chi2_prior"]
    return row


def _public(r: dict) -> dict:
    return {"friction": r["friction"], "friction_value": r["friction_value"], "log10_A": r["log10_A"],
            "chi2": r["chi2"], "chi2_data": r["chi2_data"], "chi2_prior": r["chi2_prior"],
            "log10_A_literature": r.get("log10_A_literature"),
            "pred": {f"{P:g}": {"thickness_change_pct": v[0], "diameter_change_pct": v[1]} for P, v in r["pred"].items()}}


def _misses(r: dict, meas: dict) -> dict:
    return {f"{P:g}": {"thickness_pp": r["pred"][P][0] - m["thickness_change_pct"],
                       "diameter_pp": r["pred"][P][1] - m["diameter_change_pct"]} for P, m in meas.items()}


def write_best_study(grid: str, best: dict, path: Path) -> None:
    """The grid study at its best point over the Fig. 4 pressures (for make check and make report)."""
    import tomllib
    d = tomllib.loads(Path(grid).read_text())
    table, key = next((t, k) for t, k in PREFACTOR_KEYS if isinstance(d.get(t, {}).get(k), list))
    law, unit = ("Anand", "1/s") if table == "anand" else ("Norton", "MPa^-n/s")
    d["study"] = {"name": Path(path).stem,
                  "description": f"bare Li, bounded fit (make bounded-fit): {law} law, A = 10^{best['log10_A']:.2f} {unit} "
                                 f"(literature 10^{best['log10_A_literature']:.2f} +- 1 decade), "
                                 f"{best['friction']} = {best['friction_value']:g}"}
    d[table][key] = float(f"{10.0 ** best['log10_A']:.6g}")
    d["platen"][best["friction"]] = best["friction_value"]
    d["load"][0]["pressure_MPa"] = list(CURVE_PRESSURES_MPA)
    header = ("# Written by `make bounded-fit` (fem/workflows/bounded_fit.py): the best point of the bounded grid\n"
              f"# {grid}; every parameter at its literature value or inside its band. `make check` compares it with\n"
              "# the measured points. Units: mm, N, MPa, s, K.\n")
    atomic_write_text(path, header + to_toml(d))


def _markdown(res: dict) -> str:
    lines = ["# Bounded fit of the bare-Li Fig. 4 points", "", f"Objective: {res['objective']}", ""]
    for g, r in res["grids"].items():
        b = r["best"]
        lines += [f"## {g} ({r['points']} points)", "",
                  f"best: {b['friction']} = {b['friction_value']:g}, log10 A = {b['log10_A']:.2f} (literature "
                  f"{b['log10_A_literature']:.2f}), chi2 = {b['chi2']:.1f} "
                  f"(data {b['chi2_data']:.1f}, prior {b['chi2_prior']:.2f})", "",
                  "| P (MPa) | thickness miss (pp) | diameter miss (pp) |", "|---|---|---|"]
        lines += [f"| {P} | {m['thickness_pp']:+.2f} | {m['diameter_pp']:+.2f} |" for P, m in b["misses_pp"].items()]
        lines += ["", "profile (log10 A fitted at each friction value):", "",
                  f"| {b['friction']} | log10 A | chi2 | 5.19 Δt / ΔD miss (pp) | 17.79 Δt / ΔD miss (pp) |", "|---|---|---|---|---|"]
        for p in r["profile"]:
            m = p["misses_pp"]
            lines.append(f"| {p['friction_value']:g} | {p['log10_A']:.2f} | {p['chi2']:.1f} | "
                         f"{m['5.19']['thickness_pp']:+.1f} / {m['5.19']['diameter_pp']:+.1f} | "
                         f"{m['17.79']['thickness_pp']:+.1f} / {m['17.79']['diameter_pp']:+.1f} |")
        f = r["fisher"]
        if f:
            lines += ["", f"Fisher matrix at the best point ({', '.join(f['parameters'])}): eigenvalues "
                      + ", ".join(f"{w:.3g}" for w in f["eigenvalues"])
                      + ("" if f["std"] is None else "; standard deviations " + ", ".join(f"{s:.3g}" for s in f["std"]))]
        lines += ["", "leave-one-out:", ""]
        for k, v in r["leave_one_out"].items():
            lines.append(f"* {k}: {v['friction_value']:g}, log10 A {v['log10_A']:.2f}: thickness {v['thickness_miss_pp']:+.1f} pp, "
                         f"diameter {v['diameter_miss_pp']:+.1f} pp")
        lines.append("")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m fem.workflows.bounded_fit", description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--results", default="results")
    ap.add_argument("--measured", default="studies/data/fig4_measured.csv")
    ap.add_argument("--no-run", action="store_true", help="evaluate the finished grid cases only")
    a = ap.parse_args(argv)
    if not a.no_run:
        for g in GRIDS:
            rc = run_sweep(g, jobs=a.jobs, root=Path(a.results))
            if rc != 0:
                print(f"error: grid study {g} did not finish (exit {rc})", file=sys.stderr)
                return rc
    res = evaluate(Path(a.results), Path(a.measured))
    if not res["grids"]:
        print("error: no finished grid point; run without --no-run", file=sys.stderr)
        return 2
    out = Path(a.results) / "bounded_fit"
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "bounded_fit.json", strict_json.dumps(res) + "\n")
    md = _markdown(res)
    atomic_write_text(out / "bounded_fit.md", md)
    print(md)
    g, r = min(res["grids"].items(), key=lambda kv: kv[1]["best"]["chi2"])
    write_best_study(g, r["best"], Path(BEST_STUDY))
    print(f"written {out / 'bounded_fit.json'}, {out / 'bounded_fit.md'}, {BEST_STUDY}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
