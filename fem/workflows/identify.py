"""One-point identification: one unknown parameter of a study from one measured number, then
predictions with nothing else fitted (`make identify STUDY=...`).

An identification study is a plain study (one case; its [[load]] is the identification point) plus
an [identify] table (units as in the key names):

    [identify]
    parameter = "gpe.porosity"          # table.key of the unknown (any scalar study key)
    lower = 0.0                         # bracket of the unknown (its prior band)
    upper = 0.3
    scale = "linear"                    # or "log" (the root is sought in log10 of the parameter)
    quantity = "thickness_change_pct"   # the model output matched (summary.json key, %)
    sample = "g_licfc"                  # the measured point: studies/data/fig4_measured.csv
    pressure_MPa = 5.19                 # (sample, pressure) -> the measured value
    predict_pressures_MPa = [5.19, 30]  # pressures predicted with the identified value
    tolerance_pp = 0.02                 # stop when |model - measured| <= this (percentage points)

Method: the model output is taken to be monotone in the unknown on the bracket. Both ends are run
first; if the measured value is not between their outputs the identification stops with a one-line
message (the unknown cannot explain the measurement inside its band: a finding, not a failure of
the method). Then the Illinois variant of regula falsi (bracketing, superlinear) runs until the
tolerance is met (at most MAX_EVALUATIONS runs). Every run is a cached case under
results/<study>/identify/ (keyed by its fingerprint), so an interrupted identification resumes.

Output: results/<study>/identify.json (the runs, the identified value, the label), the study with
the identified value and the prediction pressures as a sweep, results/<study>/identified.toml, and
its cases under results/<study>/predicted/. The table printed at the end labels each row:
IDENTIFIED (the matched quantity at the identification point: a fit by construction) or PREDICTED
(everything else, nothing fitted to it). `make check` lists the same rows (fem/workflows/regression.py).
"""
from __future__ import annotations

import argparse
import copy
import json
import math
import sys
from pathlib import Path

from fem.stepping.outputs import atomic_write_text
from fem.study import StudyError, parse_study, read_study_toml
from fem.workflows import strict_json
from fem.workflows.report import read_measured
from fem.workflows.sweep import RESULTS_ROOT, Case, is_finished, run_cases, to_toml

MAX_EVALUATIONS = 10
QUANTITIES = ("thickness_change_pct", "diameter_change_pct")


class IdentifyError(ValueError):
    """One-line error of an identification study or of the identification itself."""


def read_identify_study(path: str | Path) -> tuple[str, dict, dict]:
    """(name, the plain study tables, the checked [identify] table) of an identification study."""
    path = Path(path)
    data = read_study_toml(path)
    if "identify" not in data:
        raise IdentifyError(f"{path}: no [identify] table (see fem/workflows/identify.py)")
    idt = dict(data.pop("identify"))
    base = copy.deepcopy(data)
    known = {"parameter", "lower", "upper", "scale", "quantity", "sample", "pressure_MPa",
             "predict_pressures_MPa", "tolerance_pp"}
    for k in idt:
        if k not in known:
            raise IdentifyError(f"[identify] {k}: unknown key; allowed: {', '.join(sorted(known))}")
    for k in ("parameter", "lower", "upper", "quantity", "sample", "pressure_MPa"):
        if k not in idt:
            raise IdentifyError(f"[identify] {k}: missing (see fem/workflows/identify.py)")
    par = idt["parameter"]
    if not isinstance(par, str) or par.count(".") != 1:
        raise IdentifyError(f"[identify] parameter = {par!r}: must be \"table.key\", e.g. \"gpe.porosity\"")
    table, key = par.split(".")
    if table == "load":
        raise IdentifyError("[identify] parameter: a [[load]] key cannot be identified here")
    idt.setdefault("scale", "linear")
    if idt["scale"] not in ("linear", "log"):
        raise IdentifyError(f"[identify] scale = {idt['scale']!r}: must be \"linear\" or \"log\"")
    for k in ("lower", "upper", "pressure_MPa"):
        if not isinstance(idt[k], (int, float)) or isinstance(idt[k], bool) or not math.isfinite(idt[k]):
            raise IdentifyError(f"[identify] {k} = {idt[k]!r}: must be a finite number")
    if not idt["lower"] < idt["upper"]:
        raise IdentifyError(f"[identify] lower = {idt['lower']}, upper = {idt['upper']}: need lower < upper")
    if idt["scale"] == "log" and idt["lower"] <= 0.0:
        raise IdentifyError(f"[identify] lower = {idt['lower']}: must be > 0 with scale = \"log\"")
    if idt["quantity"] not in QUANTITIES:
        raise IdentifyError(f"[identify] quantity = {idt['quantity']!r}: must be one of {', '.join(QUANTITIES)}")
    tol = idt.setdefault("tolerance_pp", 0.02)
    if not isinstance(tol, (int, float)) or not 0.0 < tol <= 10.0:
        raise IdentifyError(f"[identify] tolerance_pp = {tol!r}: must be in (0, 10] percentage points")
    pp = idt.setdefault("predict_pressures_MPa", [idt["pressure_MPa"]])
    if not isinstance(pp, list) or not pp or not all(isinstance(p, (int, float)) and 0.0 < p <= 1000.0 for p in pp):
        raise IdentifyError(f"[identify] predict_pressures_MPa = {pp!r}: must be a list of pressures in (0, 1000] MPa")
    if not isinstance(base.get("load"), list) or len(base["load"]) != 1:
        raise IdentifyError(f"{path}: an identification study has exactly one [[load]] step (the identification point)")
    base["load"][0]["pressure_MPa"] = float(idt["pressure_MPa"])
    base.setdefault(table, {})[key] = float(idt["lower"])
    try:
        parse_study(base, name=path.stem)   # the plain study must be valid (one-line StudyError)
    except StudyError as e:
        raise IdentifyError(f"{path}: {e}") from None
    return path.stem, base, idt


def illinois(f, lo: float, hi: float, f_lo: float, f_hi: float, tol: float, max_evals: int):
    """Root of a monotone f on [lo, hi] with f(lo), f(hi) of opposite sign: the Illinois variant of
    regula falsi. Returns (x, f(x), converged); stops when |f| <= tol or after max_evals calls."""
    side = 0
    x, fx = (lo, f_lo) if abs(f_lo) <= abs(f_hi) else (hi, f_hi)
    for _ in range(max_evals):
        if abs(fx) <= tol:
            return x, fx, True
        x = (lo * f_hi - hi * f_lo) / (f_hi - f_lo)
        fx = f(x)
        if fx * f_hi > 0:
            hi, f_hi = x, fx
            if side == -1:
                f_lo *= 0.5
            side = -1
        else:
            lo, f_lo = x, fx
            if side == 1:
                f_hi *= 0.5
            side = 1
    return x, fx, abs(fx) <= tol


class Identifier:
    def __init__(self, path: str | Path, measured: Path, root: Path = RESULTS_ROOT, jobs: int = 1,
                 ranks: int | None = None, stream=sys.stdout):
        self.name, self.base, self.idt = read_identify_study(path)
        self.root, self.jobs, self.ranks, self.stream = Path(root), jobs, ranks, stream
        self.out = self.root / self.name
        self.table, self.key = self.idt["parameter"].split(".")
        meas = [m for m in read_measured(measured) if m["sample"] == self.idt["sample"]
                and abs(m["pressure_MPa"] - self.idt["pressure_MPa"]) < 1e-9]
        value = meas[0][self.idt["quantity"]] if meas else None
        if value is None:
            raise IdentifyError(f"[identify] no measured {self.idt['quantity']} of sample {self.idt['sample']!r} at "
                                f"{self.idt['pressure_MPa']} MPa in {measured}")
        self.measured = float(value)
        self.runs: list[dict] = []

    def _to_param(self, s: float) -> float:
        return 10.0 ** s if self.idt["scale"] == "log" else s

    def _to_search(self, v: float) -> float:
        return math.log10(v) if self.idt["scale"] == "log" else v

    def model(self, value: float) -> dict:
        """Run (or reuse) the identification case at parameter `value`; its summary."""
        d = copy.deepcopy(self.base)
        d[self.table][self.key] = float(value)
        d.setdefault("output", {})["fields"] = False
        st = parse_study(d, name=self.name)
        case = Case(f"{self.key}-{value:.6g}_{st.fingerprint()}", d, st, {})
        out = self.out / "identify" / case.name
        if not is_finished(out, case):
            rc = run_cases(f"{self.name} identification", [(case, out)], jobs=1, stream=self.stream,
                           ranks=self.ranks)
            if rc == 130:
                raise KeyboardInterrupt
            if not is_finished(out, case):
                raise IdentifyError(f"the run at {self.idt['parameter']} = {value:.6g} failed (see {out}/run.log)")
        s = json.loads((out / "summary.json").read_text())
        q = float(s[self.idt["quantity"]])
        self.runs.append({"value": value, self.idt["quantity"]: q, "misfit_pp": q - self.measured,
                          "thickness_change_pct": s["thickness_change_pct"],
                          "diameter_change_pct": s["diameter_change_pct"], "case": str(out)})
        print(f"identify: {self.idt['parameter']} = {value:.6g} -> {self.idt['quantity']} {q:.4f} % "
              f"(measured {self.measured:.2f} %, misfit {q - self.measured:+.4f} pp)", file=self.stream, flush=True)
        return s

    def _misfit(self, s: float) -> float:
        self.model(self._to_param(s))
        return self.runs[-1]["misfit_pp"]

    def identify(self) -> dict:
        lo, hi = self._to_search(self.idt["lower"]), self._to_search(self.idt["upper"])
        f_lo, f_hi = self._misfit(lo), self._misfit(hi)
        tol = float(self.idt["tolerance_pp"])
        res = {"parameter": self.idt["parameter"], "bracket": [self.idt["lower"], self.idt["upper"]],
               "scale": self.idt["scale"], "quantity": self.idt["quantity"], "sample": self.idt["sample"],
               "pressure_MPa": self.idt["pressure_MPa"], "measured_pct": self.measured, "tolerance_pp": tol,
               "label": f"identified (one point: {self.idt['quantity']} of {self.idt['sample']} at "
                        f"{self.idt['pressure_MPa']:g} MPa)"}
        if f_lo * f_hi > 0 and min(abs(f_lo), abs(f_hi)) > tol:
            res.update(identified=None, converged=False, runs=self.runs,
                       finding=f"the measured {self.measured:g} % is outside what {self.idt['parameter']} in "
                               f"[{self.idt['lower']:g}, {self.idt['upper']:g}] gives "
                               f"({self.runs[0][self.idt['quantity']]:.3f} .. {self.runs[1][self.idt['quantity']]:.3f} %)")
            self._write(res)
            raise IdentifyError(res["finding"])
        s, fs, ok = illinois(self._misfit, lo, hi, f_lo, f_hi, tol, MAX_EVALUATIONS - 2)
        res.update(identified=self._to_param(s), misfit_pp=fs, converged=ok, runs=self.runs)
        self._write(res)
        return res

    def _write(self, res: dict) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.out / "identify.json", strict_json.dumps(res) + "\n")

    def predicted_study(self, value: float) -> Path:
        """The study with the identified value and the prediction pressures (a sweep)."""
        d = copy.deepcopy(self.base)
        d[self.table][self.key] = float(value)
        d["load"][0]["pressure_MPa"] = [float(p) for p in self.idt["predict_pressures_MPa"]]
        d.setdefault("study", {})["description"] = (f"{self.name}: {self.idt['parameter']} = {value:.6g} identified from "
                                                   f"{self.idt['quantity']} at {self.idt['pressure_MPa']:g} MPa; "
                                                   "every other number predicted")
        path = self.out / "identified.toml"
        atomic_write_text(path, to_toml(d))
        return path


def prediction_rows(identify_json: Path, measured: Path, root: Path) -> list[dict]:
    """The labelled rows (IDENTIFIED / PREDICTED) of a finished identification and its prediction
    runs, against the measured points of its sample; [] when not finished."""
    from fem.workflows.report import case_points, read_history
    from fem.workflows.sweep import case_dir, load_sweep
    try:
        res = json.loads(identify_json.read_text())
    except (OSError, ValueError):
        return []
    study = identify_json.parent / "identified.toml"
    if res.get("identified") is None or not study.exists():
        return []
    name, cases = load_sweep(study)
    pts = {}
    for c in cases:
        d = case_dir("predicted", c, identify_json.parent)
        if is_finished(d, c):
            for p in case_points(c, read_history(d / "history.csv"), ""):
                pts[round(p.pressure_MPa, 9)] = p
    rows = []
    for m in read_measured(measured):
        if m["sample"] != res["sample"]:
            continue
        p = pts.get(round(m["pressure_MPa"], 9))
        for q in QUANTITIES:
            v = m[q]
            if v is None or p is None:
                continue
            fitted = q == res["quantity"] and abs(m["pressure_MPa"] - res["pressure_MPa"]) < 1e-9
            pv = getattr(p, q)
            rows.append({"sample": m["sample"], "pressure_MPa": m["pressure_MPa"], "quantity": q.split("_")[0],
                         "predicted_pct": pv, "measured_pct": v, "diff_pp": pv - v,
                         "label": "identified" if fitted else "predicted",
                         "parameter": f"{res['parameter']} = {res['identified']:.6g}"})
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m fem.workflows.identify", description=__doc__.split("\n")[0])
    ap.add_argument("study", help="identification study (a study with an [identify] table)")
    ap.add_argument("--measured", default="studies/data/fig4_measured.csv")
    ap.add_argument("--results", default=str(RESULTS_ROOT))
    ap.add_argument("--jobs", type=int, default=1, help="parallel prediction cases")
    ap.add_argument("--ranks", type=int, default=None, help="MPI ranks of each 3D/composite case")
    a = ap.parse_args(argv)
    try:
        idf = Identifier(a.study, Path(a.measured), Path(a.results), a.jobs, a.ranks)
        res = idf.identify()
    except (IdentifyError, StudyError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: rerun the same command to resume (finished runs are reused)", file=sys.stderr)
        return 130
    state = "" if res["converged"] else f" (NOT converged: misfit {res['misfit_pp']:+.3f} pp)"
    print(f"identified {res['parameter']} = {res['identified']:.6g}{state} in {len(res['runs'])} runs; "
          f"{res['label']}")
    study = idf.predicted_study(res["identified"])
    from fem.workflows.sweep import load_sweep, case_dir
    name, cases = load_sweep(study)
    rc = run_cases(f"{idf.name} predictions", [(c, case_dir("predicted", c, idf.out)) for c in cases],
                   jobs=a.jobs, ranks=a.ranks)
    if rc != 0:
        print(f"error: prediction runs did not finish (exit {rc}); rerun to resume", file=sys.stderr)
        return rc
    rows = prediction_rows(idf.out / "identify.json", Path(a.measured), Path(a.results))
    print(f"\n{'sample':8s} {'P (MPa)':>8s} {'quantity':>9s} {'model %':>8s} {'meas %':>8s} {'diff pp':>8s}  label")
    for r in rows:
        print(f"{r['sample']:8s} {r['pressure_MPa']:8.2f} {r['quantity']:>9s} {r['predicted_pct']:8.2f} "
              f"{r['measured_pct']:8.2f} {r['diff_pp']:+8.2f}  {r['label'].upper()} ({r['parameter']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
