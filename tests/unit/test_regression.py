"""`make check` (fem/workflows/regression.py): the measured-strain regression check fails loudly when a point is out
of tolerance, reuses finished reference cases, and never fails on the G-LiCFC blind prediction."""
import json
from pathlib import Path

from fem.workflows import regression as check

ROOT = Path(__file__).resolve().parent.parent


def test_check_exit_code_follows_the_tolerance(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    res = tmp_path / "results"
    # a tolerance no model meets: exit 1, every bare-Li point flagged
    assert check.main(["--results", str(res), "--tolerance-pp", "1e-6"]) == 1
    rows = json.loads((res / "check.json").read_text())["rows"]
    bare = [r for r in rows if r["sample"] == "bare_li"]
    assert len(bare) == 4 and all(r["status"] == "OUT OF TOLERANCE" for r in bare)
    # blind prediction points are listed, never counted as failures
    blind = [r["status"] for r in rows if r["sample"] == "g_licfc"]
    assert blind and all(s == "BLIND (not checked)" or s.startswith("NO FINISHED CASE") for s in blind)
    # a tolerance every point meets: exit 0, and the finished reference cases are reused (no rerun)
    capsys.readouterr()
    assert check.main(["--results", str(res), "--tolerance-pp", "1e3"]) == 0
    out = capsys.readouterr().out
    assert "0 point(s) out of tolerance" in out
    assert json.loads((res / "check.json").read_text())["wall_time_s"] < 5.0   # reused, not rerun (~25 s)
