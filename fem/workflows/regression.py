"""`make check`: regression check of the model against the measured strain.

Runs (or reuses finished cases of) the reference studies and compares every measured point of
studies/data/fig4_measured.csv with the prediction at the same sample and pressure. Tolerance:
|predicted - measured| <= TOLERANCE_PP percentage points for each of diameter and thickness change.
Prints a table; exits 1 when any modelled point is out of tolerance.
G-LiCFC points are blind predictions (nothing is fitted to them), so they never fail the check.
Each measured G-LiCFC point is listed once per composite study of BLIND_STUDIES, with that study's
label (disc, Li law, gel-on-steel friction) and status BLIND when the study has a finished case at
that pressure, or NO FINISHED CASE with the command that runs it (minutes to an hour per case on 2
cores, so make check starts none of them), and once per one-point identification of IDENTIFICATIONS
(fem/workflows/identify.py), as IDENTIFIED (the matched point) or PREDICTED, or NO FINISHED
IDENTIFICATION.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

from fem.stepping.outputs import atomic_write_text
from fem.workflows import strict_json
from fem.workflows.report import case_points, read_history, read_measured
from fem.workflows.sweep import case_dir, is_finished, load_sweep, run_sweep

TOLERANCE_PP = 5.0
# the bounded fit (fem/workflows/bounded_fit.py; every parameter inside its literature band). The unbounded
# calibration (studies/fig4_bare_li_calibrated.toml, A 4.8 decades below the literature) is no longer checked.
REFERENCE_STUDIES = {"bare_li": "studies/fig4_bare_li_bounded.toml"}
# G-LiCFC blind predictions, reused when finished, never run here: (study, label of its row)
BLIND_STUDIES = {"g_licfc": [
    ("studies/composite_glicfc_homogenised.toml", "15 mm HOMOGENISED (elastic cloth ply), Masias Norton Li law, gel mu 0.2"),
    ("studies/composite_glicfc_homogenised_creep.toml", "15 mm HOMOGENISED (RVE-fitted creep ply), Masias Norton Li law, gel mu 0.2"),
    ("studies/composite_glicfc_15mm_literature.toml", "15 mm, Masias Norton Li law, gel mu 0.2"),
    ("studies/composite_glicfc_15mm.toml", "15 mm, unbounded bare-Li calibration"),
    ("studies/composite_glicfc.toml", "6 mm, unbounded bare-Li calibration"),
]}
# G-LiCFC one-point identifications (fem/workflows/identify.py), reused when finished, never run here:
# the matched point is IDENTIFIED (a fit by construction), the others PREDICTED
IDENTIFICATIONS = {"g_licfc": [
    ("studies/composite_glicfc_homogenised_identify_gel_porosity.toml", "15 mm HOMOGENISED, gel porosity from the 5.19 MPa thinning"),
    ("studies/composite_glicfc_homogenised_creep_identify_gel_porosity.toml",
     "15 mm HOMOGENISED (RVE-fitted creep ply), gel porosity from the 5.19 MPa thinning"),
    ("studies/composite_glicfc_15mm_identify_gel_porosity.toml", "15 mm, gel porosity from the 5.19 MPa thinning"),
    ("studies/composite_glicfc_6mm_identify_gel_porosity.toml", "6 mm, gel porosity from the 5.19 MPa thinning"),
]}


def _finished_points(study: str, root: Path) -> dict:
    """{pressure (rounded): Point} of the finished cases of a study (nothing is run)."""
    out = {}
    if not Path(study).exists():
        return out
    name, cases = load_sweep(study)
    for c in cases:
        d = case_dir(name, c, root)
        if is_finished(d, c):
            for p in case_points(c, read_history(d / "history.csv"), ""):
                out[round(p.pressure_MPa, 9)] = p
    return out


def identification_rows(m: dict, q: str, results: Path, measured: Path) -> list[dict]:
    """The rows of measured point m (quantity q: "diameter" | "thickness") from the identifications
    of IDENTIFICATIONS for its sample: IDENTIFIED / PREDICTED with the model value, or NO FINISHED
    IDENTIFICATION (the prediction NaN)."""
    from fem.workflows.identify import prediction_rows
    out = []
    v = m[f"{q}_change_pct"]
    for study, label in IDENTIFICATIONS.get(m["sample"], []):
        found = {(round(r["pressure_MPa"], 9), r["quantity"]): r
                 for r in prediction_rows(results / Path(study).stem / "identify.json", measured, results)}
        r = found.get((round(m["pressure_MPa"], 9), q))
        pv = math.nan if r is None else r["predicted_pct"]
        status = (f"NO FINISHED IDENTIFICATION ({label}: make identify STUDY={study})" if r is None else
                  f"{r['label'].upper()} (not checked): {label}, {r['parameter']}")
        out.append({"sample": m["sample"], "pressure_MPa": m["pressure_MPa"], "quantity": q, "predicted_pct": pv,
                    "measured_pct": v, "diff_pp": pv - v, "status": status,
                    "label": "no identification" if r is None else r["label"], "study": study})
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m fem.workflows.regression")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--measured", default="studies/data/fig4_measured.csv")
    ap.add_argument("--results", default="results")
    ap.add_argument("--tolerance-pp", type=float, default=TOLERANCE_PP)
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    meas = read_measured(Path(a.measured))
    preds = {}
    for sample, study in REFERENCE_STUDIES.items():
        if not Path(study).exists():
            print(f"error: {study} not found; run `make bounded-fit` first", file=sys.stderr)
            return 2
        rc = run_sweep(study, jobs=a.jobs, root=Path(a.results))
        if rc != 0:
            print(f"error: reference study {study} did not finish (exit {rc})", file=sys.stderr)
            return rc
        preds.update({(sample, P): p for P, p in _finished_points(study, Path(a.results)).items()})
    blind = {(sample, study): _finished_points(study, Path(a.results))
             for sample, studies in BLIND_STUDIES.items() for study, _ in studies}
    rows, bad = [], 0
    print(f"\nregression check against measured strain (tolerance +-{a.tolerance_pp:g} pp)")
    print(f"{'sample':8s} {'P (MPa)':>8s} {'quantity':>9s} {'pred %':>8s} {'meas %':>8s} {'diff pp':>8s}  status")
    for m in meas:
        P = round(m["pressure_MPa"], 9)
        p = preds.get((m["sample"], P))
        for q in ("diameter", "thickness"):
            v = m[f"{q}_change_pct"]
            if v is None:
                continue
            if m["sample"] in BLIND_STUDIES:
                for study, label in BLIND_STUDIES[m["sample"]]:
                    bp = blind[(m["sample"], study)].get(P)
                    pv = math.nan if bp is None else getattr(bp, f"{q}_change_pct")
                    status = (f"BLIND (not checked): {label}" if bp is not None else
                              f"NO FINISHED CASE ({label}: make sweep STUDY={study})")
                    rows.append({"sample": m["sample"], "pressure_MPa": m["pressure_MPa"], "quantity": q,
                                 "predicted_pct": pv, "measured_pct": v, "diff_pp": pv - v, "status": status,
                                 "label": "blind", "study": study})
                    print(f"{m['sample']:8s} {m['pressure_MPa']:8.2f} {q:>9s} {pv:8.2f} {v:8.2f} {pv - v:+8.2f}  {status}")
                for r in identification_rows(m, q, Path(a.results), Path(a.measured)):
                    rows.append(r)
                    print(f"{m['sample']:8s} {m['pressure_MPa']:8.2f} {q:>9s} {r['predicted_pct']:8.2f} {v:8.2f} "
                          f"{r['diff_pp']:+8.2f}  {r['status']}")
                continue
            if p is None:
                status, pv, diff = "NOT MODELLED", math.nan, math.nan
            else:
                pv = getattr(p, f"{q}_change_pct")
                diff = pv - v
                status = "ok" if abs(diff) <= a.tolerance_pp else "OUT OF TOLERANCE"
                bad += status != "ok"
            rows.append({"sample": m["sample"], "pressure_MPa": m["pressure_MPa"], "quantity": q,
                         "predicted_pct": pv, "measured_pct": v, "diff_pp": diff, "status": status,
                         "label": "fitted (bounded fit)", "study": REFERENCE_STUDIES.get(m["sample"])})
            print(f"{m['sample']:8s} {m['pressure_MPa']:8.2f} {q:>9s} {pv:8.2f} {v:8.2f} {diff:+8.2f}  {status}")
    out = Path(a.results) / "check.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    # strict JSON: a point without a prediction (NaN here) is null in the file
    atomic_write_text(out, strict_json.dumps({"tolerance_pp": a.tolerance_pp, "rows": rows,
                                              "wall_time_s": time.perf_counter() - t0}) + "\n")
    print(f"\n{bad} point(s) out of tolerance; wall time {time.perf_counter() - t0:.1f} s; written {out}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
