"""fem/cli.py: bad input gives one line on stderr naming the key and the allowed range, exit code 2,
no traceback, and results already on disk stay untouched; `fem validate` checks a study file
(and every shipped study) without running it."""
import subprocess
import sys

import pytest

from fem.cli import main
from fem.verification.cases import BASE_TOML, ROOT

GOOD = BASE_TOML

BAD = [
    ("missing key", GOOD.replace("creep_n = 6.56\n", ""), ["creep_n", "missing"]),
    ("unknown key", GOOD.replace("creep_n = 6.56", "creep_n = 6.56\ncreep_m = 1.0"), ["creep_m", "unknown"]),
    ("zero mesh size", GOOD.replace("mesh_size_mm = 0.125", "mesh_size_mm = 0.0"), ["mesh_size_mm", "0 <"]),
    ("negative thickness", GOOD.replace("thickness_mm = 0.5", "thickness_mm = -0.5"), ["thickness_mm", "0 <"]),
    ("nu out of range", GOOD.replace("poisson_ratio = 0.381", "poisson_ratio = 0.6"), ["poisson_ratio", "< 0.5"]),
    ("negative pressure", GOOD.replace("pressure_MPa = 5.19", "pressure_MPa = -5.19"), ["pressure_MPa", "0 <="]),
    ("unknown friction", GOOD.replace('friction = "coulomb"', 'friction = "glue"'),
     ["friction", "frictionless, sticking, coulomb"]),
    ("malformed toml", GOOD.replace("mu = 0.2", "mu = = 0.2"), ["malformed TOML"]),
    ("string for number", GOOD.replace("creep_A = 7.7e-3", 'creep_A = "fast"'), ["creep_A", "number"]),
    ("no load", GOOD.split("[[load]]")[0], ["load", "missing"]),
    ("coulomb without mu", GOOD.replace("mu = 0.2\n", ""), ["mu", "coulomb"]),
    ("gap larger than disc", GOOD.replace("pressure_MPa = 5.19", "gap_mm = 0.7"), ["gap_mm", "thickness_mm"]),
    ("wrong model", GOOD.replace('model = "axisymmetric"', 'model = "4d"'), ["model", "axisymmetric"]),
    ("unknown linear solver", GOOD + '[numerics]\nlinear_solver = "cg"\n', ["linear_solver", "mumps, gamg"]),
    ("gamg on the axisymmetric path", GOOD + '[numerics]\nlinear_solver = "gamg"\n', ["linear_solver", "mumps"]),
]


@pytest.mark.parametrize("label,text,needles", BAD, ids=[b[0] for b in BAD])
def test_bad_input_one_line_exit_2_results_untouched(tmp_path, label, text, needles):
    study = tmp_path / "bad.toml"
    study.write_text(text)
    out = tmp_path / "out"
    out.mkdir()
    (out / "summary.json").write_text('{"precious": true}\n')
    p = subprocess.run([sys.executable, "-m", "fem", "run", str(study), "--out", str(out)],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert p.returncode == 2, (p.stdout, p.stderr)
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    assert "Traceback" not in p.stderr
    for n in needles:
        assert n in lines[0], lines[0]
    assert (out / "summary.json").read_text() == '{"precious": true}\n'
    assert sorted(x.name for x in out.iterdir()) == ["summary.json"]


def test_missing_study_file(tmp_path):
    p = subprocess.run([sys.executable, "-m", "fem", "run", str(tmp_path / "nope.toml"), "--out", str(tmp_path)],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert p.returncode == 2 and "not found" in p.stderr and len(p.stderr.strip().splitlines()) == 1


def test_good_study_validates(tmp_path):
    study = tmp_path / "good.toml"
    study.write_text(GOOD)
    p = subprocess.run([sys.executable, "-m", "fem", "validate", str(study)], capture_output=True, text=True,
                       cwd=ROOT, timeout=120)
    assert p.returncode == 0, p.stderr


def test_shipped_studies_validate():
    for f in sorted((ROOT / "studies").glob("*.toml")):
        p = subprocess.run([sys.executable, "-m", "fem", "validate", str(f)], capture_output=True, text=True,
                           cwd=ROOT, timeout=120)
        assert p.returncode == 0, (f, p.stderr)


def test_check_was_renamed_to_validate(capsys):
    """`fem check` (the old name of `fem validate`) says so in one line, exit code 2."""
    assert main(["check", "studies/demo_bare_li.toml"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "fem validate" in err[0], err


def test_mesh_quality_limit_stops_with_one_line(tmp_path):
    """[numerics] min_J: a run whose det F falls below the limit stops with one line naming the key
    and exit 1 (here a limit above the elastic volume change, 1 - p/K ~ 3e-4, so the first step trips
    it); a normal run reports the smallest det F it reached."""
    toml = tmp_path / "q.toml"
    toml.write_text(GOOD.replace("hold_s = 600.0", "hold_s = 1.0") + "[numerics]\nmin_J = 0.99999\n[output]\nfields = false\n")
    p = subprocess.run([sys.executable, "-m", "fem", "run", str(toml), "--out", str(tmp_path / "o"), "--quiet"],
                       cwd=ROOT, capture_output=True, text=True)
    assert p.returncode == 1, p.stderr
    err = p.stderr.strip().splitlines()
    assert len(err) == 1 and "mesh quality limit" in err[0] and "[numerics] min_J = 0.99999" in err[0], p.stderr
    assert "Traceback" not in p.stderr
    toml.write_text(GOOD.replace("hold_s = 600.0", "hold_s = 1.0") + "[output]\nfields = false\n")
    p = subprocess.run([sys.executable, "-m", "fem", "run", str(toml), "--out", str(tmp_path / "o2"), "--quiet"],
                       cwd=ROOT, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    import json
    s = json.loads((tmp_path / "o2" / "summary.json").read_text())
    assert 0.99 < s["min_J"] < 1.0
