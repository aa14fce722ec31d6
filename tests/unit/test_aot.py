"""The ahead-of-time compiled kernels (fem/aot.py): built from the current sources into a fresh folder,
they give the JIT kernels' numbers bit for bit on the arrays of a real run; arguments of other types
go to the JIT dispatcher (a compiled function would reinterpret them); a module of other sources is
never loaded. Units: mm, MPa, s."""
import importlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import dolfinx_solver  # noqa: F401
from fem import aot
from fem.study import parse_study

ROOT = Path(__file__).resolve().parents[2]


def _capture_kernel_args(tmp_path, monkeypatch):
    """The arguments of one call of every kernel in a short axisymmetric creep run (serial kernel)."""
    monkeypatch.setenv("FEM_KERNEL_THREADS", "1")
    from fem.stepping.run import run_case
    import fem.models.assembly  # noqa: F401  (registers _assemble)
    seen = {}
    originals = {}
    for k in aot._EXPORTS.values():
        originals[k.name] = k.jit

    class Spy:
        def __init__(self, name, jit):
            self.name, self.jit = name, jit
            self.py_func = jit.py_func

        def __call__(self, *args):
            # keep the arguments of a tangent call of the creep kernel (mode = 1), else the first call
            if self.name not in seen or (self.name == "creep_points" and args[14] == 1):
                seen[self.name] = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
            return self.jit(*args)

    for k in aot._EXPORTS.values():
        k.jit, k._fn = Spy(k.name, k.jit), None
    saved = aot._loaded
    aot._loaded = False   # JIT everywhere for the capture
    try:
        d = {"geometry": {"model": "axisymmetric", "diameter_mm": 15.0, "thickness_mm": 0.5, "mesh_size_mm": 0.25},
             "li": {"youngs_modulus_MPa": 7820.0, "poisson_ratio": 0.381, "creep_A": 1e-5, "creep_n": 6.56},
             "platen": {"friction": "coulomb", "mu": 0.2},
             "load": [{"pressure_MPa": 5.0, "ramp_s": 0.0, "hold_s": 2.0}], "output": {"fields": False}}
        run_case(parse_study(d), tmp_path / "run", progress=False)
        from fem.physics import anand_point
        q = np.linspace(0.5, 5.0, 7)
        s = np.full(7, 1.0)
        par = np.ascontiguousarray(anand_point_params(), dtype=float)
        anand_point.flow_rates(q, s, par, np.zeros(7))
        anand_point.explicit_parts(q, s, par, 0.1, 0.5, np.zeros(7), np.zeros(7))
    finally:
        for k in aot._EXPORTS.values():
            k.jit, k._fn = originals[k.name], None
        aot._loaded = saved
    return seen


def anand_point_params():
    from fem.physics.materials import LiAnand
    return LiAnand().kernel_array


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    d = tmp_path_factory.mktemp("aot")
    path = aot.build(d, quiet=True)
    return d, path


def _load(path):
    spec = importlib.util.spec_from_file_location(path.name.split(".")[0], path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_compiled_kernels_match_jit_bit_for_bit(built, tmp_path, monkeypatch):
    _, path = built
    mod = _load(path)
    args = _capture_kernel_args(tmp_path, monkeypatch)
    assert set(args) == set(aot._EXPORTS) == {"creep_points", "commit_points", "_assemble", "explicit_parts",
                                             "flow_rates"}
    for name, a in args.items():
        k = aot._EXPORTS[name]
        assert all(t.ok(x) for t, x in zip(k.args, a)), f"{name}: the run's arguments are not the declared types"
        out_jit = [x.copy() if isinstance(x, np.ndarray) else x for x in a]
        out_aot = [x.copy() if isinstance(x, np.ndarray) else x for x in a]
        k.jit(*out_jit)
        getattr(mod, name)(*out_aot)
        for i, (x, y) in enumerate(zip(out_jit, out_aot)):
            if isinstance(x, np.ndarray):
                assert np.array_equal(x, y, equal_nan=True), f"{name} argument {i} differs"
        changed = any(isinstance(x, np.ndarray) and not np.array_equal(x, y, equal_nan=True)
                      for x, y in zip(a, out_aot))
        assert changed, f"{name} wrote nothing"


def test_wrong_argument_types_go_to_the_jit(built, monkeypatch):
    d, path = built
    monkeypatch.setenv("FEM_AOT_DIR", str(d))
    monkeypatch.setattr(aot, "_loaded", None)
    from fem.physics import anand_point
    k = anand_point.flow_rates
    monkeypatch.setattr(k, "_fn", None)
    par = np.ascontiguousarray(anand_point_params(), dtype=float)
    q, s = np.linspace(0.5, 5.0, 8), np.ones(8)
    ref = np.zeros(8)
    k.jit(q, s, par, ref)
    out = np.zeros(8)
    k(q, s, par, out)                       # declared types: the compiled function
    assert k._fn is not k.jit and np.array_equal(out, ref)
    out2 = np.zeros(8)
    k(q[::1].copy(), s, par, out2)
    assert np.array_equal(out2, ref)
    strided = np.zeros(16)[::2]             # not contiguous: a compiled function would write every other entry wrongly
    k(q, s, par, strided)
    assert np.array_equal(strided, ref)
    q32 = q.astype(np.float32)              # another dtype: the JIT specialises for it
    out3 = np.zeros(8)
    k(q32, s, par, out3)
    ref3 = np.zeros(8)
    k.jit(q32, s, par, ref3)
    assert np.array_equal(out3, ref3)


def test_module_of_other_sources_is_not_loaded(built, tmp_path, monkeypatch):
    d, path = built
    other = tmp_path / path.name.replace(aot.source_key(), "0" * 16)
    other.write_bytes(path.read_bytes())
    monkeypatch.setenv("FEM_AOT_DIR", str(tmp_path))
    monkeypatch.setattr(aot, "_loaded", None)
    assert aot.module_path() is None and aot.kind() == "jit"
    monkeypatch.setenv("FEM_AOT_DIR", str(d))
    monkeypatch.setattr(aot, "_loaded", None)
    monkeypatch.setenv("FEM_AOT", "0")
    assert aot.kind() == "jit"
    monkeypatch.delenv("FEM_AOT")
    monkeypatch.setattr(aot, "_loaded", None)
    assert aot.kind() == "aot"
    monkeypatch.setattr(aot, "_loaded", None)


def test_corrupt_module_warns_and_uses_jit(built, tmp_path, monkeypatch, capfd):
    _, path = built
    (tmp_path / path.name).write_bytes(b"not a shared library")
    monkeypatch.setenv("FEM_AOT_DIR", str(tmp_path))
    monkeypatch.setattr(aot, "_loaded", None)
    assert aot.kind() == "jit"
    err = capfd.readouterr().err
    assert "compiled kernels" in err and "not loaded" in err and "Traceback" not in err
    monkeypatch.setattr(aot, "_loaded", None)


def test_run_reports_its_kernels(built, tmp_path):
    """A run in a fresh process loads the compiled module and says so in summary.json."""
    d, _ = built
    study = tmp_path / "s.toml"
    study.write_text('[geometry]\nmodel = "axisymmetric"\ndiameter_mm = 15.0\nthickness_mm = 0.5\nmesh_size_mm = 0.25\n'
                     '[li]\nyoungs_modulus_MPa = 7820.0\npoisson_ratio = 0.381\ncreep_A = 1e-5\ncreep_n = 6.56\n'
                     '[platen]\nfriction = "frictionless"\n'
                     '[[load]]\npressure_MPa = 5.0\nramp_s = 0.0\nhold_s = 1.0\n[output]\nfields = false\n')
    env = dict(os.environ, FEM_AOT_DIR=str(d), FEM_KERNEL_THREADS="1")
    subprocess.run([sys.executable, "-m", "fem", "run", str(study), "--out", str(tmp_path / "out"), "--quiet"],
                   cwd=ROOT, env=env, check=True, capture_output=True)
    import json
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["kernels"] == "aot"


def test_a_run_with_compiled_kernels_does_not_import_numba(built, tmp_path):
    """The start-up saving is real: a serial run with the compiled module never imports numba
    (dolfinx's optional numba helpers were imported with numba hidden), and a JIT kernel in the same
    process still works afterwards (numba imports normally)."""
    d, _ = built
    code = ("import sys, dolfinx_solver\n"
            "from fem.study import parse_study\nfrom fem.stepping.run import run_case\n"
            "d = {'geometry': {'model': 'axisymmetric', 'diameter_mm': 15.0, 'thickness_mm': 0.5, 'mesh_size_mm': 0.25},"
            " 'li': {'youngs_modulus_MPa': 7820.0, 'poisson_ratio': 0.381, 'creep_A': 1e-5, 'creep_n': 6.56},"
            " 'platen': {'friction': 'frictionless'}, 'load': [{'pressure_MPa': 5.0, 'ramp_s': 0.0, 'hold_s': 1.0}],"
            " 'output': {'fields': False}}\n"
            "r = run_case(parse_study(d), sys.argv[1], progress=False)\n"
            "print('KERNELS', r['kernels'], 'numba' in sys.modules)\n"
            "import numpy as np\nfrom fem.physics.creep_point import solve_creep_increment\n"
            "print('JIT', float(solve_creep_increment(np.array([2.0]), 1000.0, 1e-3, 3.0)[0]) > 0.0, 'numba' in sys.modules)\n")
    env = dict(os.environ, FEM_AOT_DIR=str(d), FEM_KERNEL_THREADS="1")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "run")], cwd=ROOT, env=env, check=True,
                         capture_output=True, text=True).stdout
    assert "KERNELS aot False" in out, out
    assert "JIT True True" in out, out
