"""Rewrite tests/gold/*.csv from the current code (`make gold`). Read tests/gold_cases.py first."""
import csv
import datetime
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
from conftest import make_study  # noqa: E402
from fem.stepping.run import run_case  # noqa: E402
from gold_cases import COLUMNS, GOLD_CASES  # noqa: E402

with tempfile.TemporaryDirectory() as tmp:
    for name, over in sorted(GOLD_CASES.items()):
        run_case(make_study(name, **over), Path(tmp) / name, progress=False)
        with open(Path(tmp) / name / "history.csv") as f:
            rows = list(csv.DictReader(f))
        out = ROOT / "tests" / "gold" / f"{name}.csv"
        with open(out, "w") as f:
            f.write(f"# gold history of tests/gold_cases.py::{name}, written {datetime.date.today()} by make gold\n")
            w = csv.DictWriter(f, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n")
            w.writeheader()
            w.writerows(rows)
        print(f"wrote {out} ({len(rows)} rows)")
