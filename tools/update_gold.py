"""Rewrite tests/gold/*.csv from the current code (`make gold [CASES=a,b]`, serial runs).
Read fem/verification/gold.py first: gold files change only when results are meant to change.

    python tools/update_gold.py [case ...]      # default: every case of GOLD_CASES
"""
import csv
import datetime
import io
import sys
import tempfile
from pathlib import Path

import dolfinx_solver  # noqa: F401  (must precede dolfinx)

from fem.stepping.outputs import atomic_write_text
from fem.stepping.run import run_case
from fem.verification.gold import COLUMNS, GOLD_CASES, GOLD_DIR, gold_study

names = sys.argv[1:] or sorted(GOLD_CASES)
unknown = [n for n in names if n not in GOLD_CASES]
if unknown:
    sys.exit(f"error: unknown gold case(s) {', '.join(unknown)}: must be among {', '.join(sorted(GOLD_CASES))}")
with tempfile.TemporaryDirectory() as tmp:
    for name in names:
        run_case(gold_study(name), Path(tmp) / name, progress=False)
        with open(Path(tmp) / name / "history.csv") as f:
            rows = list(csv.DictReader(f))
        buf = io.StringIO()
        buf.write(f"# gold history of fem/verification/gold.py::{name}, written {datetime.date.today()} by make gold\n")
        w = csv.DictWriter(buf, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
        out = GOLD_DIR / f"{name}.csv"
        atomic_write_text(out, buf.getvalue())
        print(f"wrote {out} ({len(rows)} rows)")
