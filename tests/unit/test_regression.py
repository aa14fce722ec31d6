"""`make check` (fem/workflows/regression.py): the measured-strain regression check fails loudly when a point is out
of tolerance, reuses finished reference cases, never fails on the G-LiCFC blind prediction, and
writes strict JSON (null where there is no number)."""
import json

from fem.verification.cases import ROOT
from fem.workflows import regression as check


def _strict(text: str):
    """Parse strict JSON: NaN and Infinity (Python's json extensions) are errors."""
    def reject(name):
        raise ValueError(f"non-standard JSON constant {name}")
    return json.loads(text, parse_constant=reject)


def test_check_exit_code_follows_the_tolerance(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    res = tmp_path / "results"
    # a tolerance no model meets: exit 1, every bare-Li point flagged
    assert check.main(["--results", str(res), "--tolerance-pp", "1e-6"]) == 1
    rows = _strict((res / "check.json").read_text())["rows"]   # strict JSON: null, not NaN
    bare = [r for r in rows if r["sample"] == "bare_li"]
    assert len(bare) == 4 and all(r["status"] == "OUT OF TOLERANCE" for r in bare)
    # blind prediction points are listed, never counted as failures
    blind = [r for r in rows if r["sample"] == "g_licfc"]
    ok = ("BLIND (not checked)", "NO FINISHED CASE", "IDENTIFIED (not checked)", "PREDICTED (not checked)",
          "NO FINISHED IDENTIFICATION")
    assert blind and all(r["status"].startswith(ok) for r in blind)
    # one labelled row per blind study and identification for each measured G-LiCFC point and quantity
    studies = [st for st, _ in check.BLIND_STUDIES["g_licfc"] + check.IDENTIFICATIONS["g_licfc"]]
    assert len(blind) == 3 * len(studies) and {r["study"] for r in blind} == set(studies)
    assert {r["label"] for r in blind} <= {"blind", "identified", "predicted", "no identification"}
    assert all(r["label"].startswith("fitted") for r in bare)
    assert all(r["predicted_pct"] is None and r["diff_pp"] is None
               for r in rows if r["status"].startswith("NO FINISHED"))
    # a tolerance every point meets: exit 0, and the finished reference cases are reused (no rerun)
    capsys.readouterr()
    assert check.main(["--results", str(res), "--tolerance-pp", "1e3"]) == 0
    out = capsys.readouterr().out
    assert "0 point(s) out of tolerance" in out
    assert _strict((res / "check.json").read_text())["wall_time_s"] < 5.0   # reused, not rerun (~25 s)
