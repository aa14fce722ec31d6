"""Ahead-of-time compiled kernels: the numba kernels of the package (the pointwise creep law, its
state commit, the Anand rates and the serial element assembler) compiled once into a C extension
module, so that a run loads them in milliseconds instead of initialising numba's JIT compiler.

Why: a short axisymmetric run spends more time starting than computing. Loading numba's cached
machine code initialises LLVM and numba's typing registries in every process: 0.34 s measured on
2026-12-03, against 0.6 s for the whole Newton solve of the CalculiX comparison case of
`make bench` (issue 15, docs/benchmarks.md). A module compiled ahead of time (numba.pycc) is a plain
shared library: importing it costs ~1 ms.

How: each kernel entry point is declared once, where it is written, with `@aot.export(argument types)`
on top of its `@njit` decorator. The decorated name is a small proxy that calls the compiled
module's function when that module is present and built from the current sources, and the numba
JIT dispatcher otherwise (the same code: the compiled function is a wrapper that calls the JIT
function, compiled with its own options, e.g. error_model = "numpy"), and also when the arguments
do not match the declared types. Results are the same to the last bit (tests/unit/test_aot.py).

The module is built by `python -m fem.aot build` (the Makefile does it when the kernel sources
change; 3-8 s) into the cache folder $FEM_AOT_DIR, else <repo>/.cache/aot, under a name carrying
the hash of the kernel sources, numba's and Python's versions: a stale module is never loaded.
`FEM_AOT=0` forces the JIT kernels. summary.json records which kind ran (`kernels`).
"""
from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import os
import platform
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
# the modules whose kernels are exported (their import registers them) and whose source is hashed
KERNEL_MODULES = ("fem.physics.anand_point", "fem.physics.creep_point", "fem.models.assembly")

_EXPORTS: dict[str, "Kernel"] = {}
_LAZY: list["LazyJit"] = []
_loaded = None          # the compiled module, False when absent/disabled, None before the first look


# ---------------------------------------------------------------------- numba, imported only when needed
# Importing numba costs 0.14 s (llvmlite's shared library and numba's registries; measured
# 2026-12-03). A run with the compiled module never needs it, so the kernel modules decorate with
# `aot.njit` (a deferred numba.njit) and use `aot.prange`; the first call that needs the JIT imports
# numba and replaces every deferred function in its module by the real dispatcher (numba resolves a
# kernel's callees from its module's globals when it compiles, so they must all be real by then).

class _PrangePlaceholder:
    """Stands for numba.prange in a kernel module until numba is imported (never called as such)."""

    def __call__(self, *a):
        raise RuntimeError("aot.prange used outside a numba kernel")


prange = _PrangePlaceholder()


class LazyJit:
    """numba.njit(**options)(py_func), made on first use."""

    def __init__(self, py_func, options: dict):
        self.py_func, self.options = py_func, options
        self.__name__, self.__doc__, self.__wrapped__ = py_func.__name__, py_func.__doc__, py_func
        self._dispatcher = None

    @property
    def dispatcher(self):
        if self._dispatcher is None:
            materialise()
        return self._dispatcher

    def __call__(self, *args):
        return self.dispatcher(*args)

    def __getattr__(self, name):   # signatures, inspect_types, ...: the dispatcher's
        if name.startswith("__") or name in ("py_func", "options", "_dispatcher"):
            raise AttributeError(name)
        return getattr(self.dispatcher, name)


def njit(**options):
    """Decorator: numba.njit(**options), deferred until the function is first needed as JIT code."""
    def deco(py_func):
        lazy = LazyJit(py_func, options)
        _LAZY.append(lazy)
        return lazy
    return deco


def materialise() -> None:
    """Import numba and make every deferred function a numba dispatcher, in place in its module."""
    import numba
    for lazy in _LAZY:
        if lazy._dispatcher is None:
            g = lazy.py_func.__globals__
            lazy._dispatcher = numba.njit(**lazy.options)(lazy.py_func)
            if g.get(lazy.__name__) is lazy:
                g[lazy.__name__] = lazy._dispatcher
            if isinstance(g.get("prange"), _PrangePlaceholder):
                g["prange"] = numba.prange
    for k in _EXPORTS.values():
        if isinstance(k.jit, LazyJit):
            k.jit = k.jit.dispatcher


def import_hiding_numba(*modules: str) -> None:
    """Import `modules` with numba hidden. dolfinx imports numba when it is installed, for helpers
    this package does not use: at module level in ffcx.codegeneration.utils (numba signatures of
    user kernels) and in the class bodies of dolfinx.fem.petsc's numba_utils and cffi_utils (PETSc
    calls from numba kernels). All three catch the ImportError and go without. Importing them once
    this way saves numba's import (0.14 s) in every process that never needs the JIT; numba imports
    normally afterwards. Modules already imported are left as they are."""
    todo = [m for m in modules if m not in sys.modules]
    if not todo or "numba" in sys.modules:
        return
    sys.modules["numba"] = None   # makes `import numba` raise ImportError
    try:
        for m in todo:
            importlib.import_module(m)
    finally:
        del sys.modules["numba"]


class Arg:
    """One declared argument type: a C-contiguous array (dtype, ndim) or a scalar (f8, i8, b1)."""

    _SCALARS = {"f8": (float, int, np.floating, np.integer), "i8": (int, np.integer), "b1": (bool, np.bool_)}

    def __init__(self, code: str, ndim: int = 0):
        self.code, self.ndim = code, ndim
        self.dtype = {"f8": np.float64, "i8": np.int64, "i4": np.int32}[code] if ndim else None

    @property
    def numba(self) -> str:
        return self.code if not self.ndim else f"{self.code}[{', '.join([':'] * (self.ndim - 1) + ['::1'])}]"

    def ok(self, a) -> bool:
        if not self.ndim:
            return isinstance(a, self._SCALARS[self.code]) and not (self.code == "i8" and isinstance(a, bool))
        return (type(a) is np.ndarray and a.ndim == self.ndim and a.dtype == self.dtype
                and a.flags.c_contiguous and a.flags.aligned)


def array(code: str, ndim: int) -> Arg:
    return Arg(code, ndim)


F8, I8, B1 = Arg("f8"), Arg("i8"), Arg("b1")


class Kernel:
    """A kernel entry point: the compiled function when available and the arguments have the declared
    types, else the numba dispatcher (which takes any types). The check matters: a compiled function
    does not check its arguments (a wrong dtype is reinterpreted, a scalar for an array crashes)."""

    def __init__(self, name: str, args: tuple, jit):
        self.name, self.args, self.jit = name, args, jit
        self.signature = f"void({', '.join(a.numba for a in args)})"
        self._fn = None
        self.__doc__ = jit.__doc__
        self.__wrapped__ = jit

    def __call__(self, *args):
        fn = self._fn
        if fn is None:
            mod = compiled_module()
            fn = self._fn = getattr(mod, self.name, None) if mod else self.jit
            if fn is None:
                fn = self._fn = self.jit
        if fn is not self.jit and len(args) == len(self.args) and all(t.ok(a) for t, a in zip(self.args, args)):
            return fn(*args)
        return self.jit(*args)


def export(*args: Arg):
    """Decorator (outermost, above @njit): register the dispatcher as an AOT entry point taking `args`
    (Arg: C-contiguous arrays `array("f8", 3)`, scalars F8, I8, B1; the kernel returns nothing)."""
    def register(dispatcher):
        k = Kernel(dispatcher.py_func.__name__, tuple(args), dispatcher)   # dispatcher: an aot.njit function
        if dispatcher.py_func.__code__.co_argcount != len(args):
            raise TypeError(f"aot.export of {k.name}: {len(args)} argument types for "
                            f"{dispatcher.py_func.__code__.co_argcount} arguments")
        if k.name in _EXPORTS and _EXPORTS[k.name].jit.py_func.__module__ != dispatcher.py_func.__module__:
            raise RuntimeError(f"two AOT kernels named {k.name}")
        _EXPORTS[k.name] = k
        return k
    return register


def source_files() -> list[Path]:
    return [Path(__file__)] + [ROOT / (m.replace(".", "/") + ".py") for m in KERNEL_MODULES]


def source_key() -> str:
    """Hash of the kernel sources and of the compiler versions (names the compiled module)."""
    h = hashlib.sha256()
    for f in source_files():
        h.update(f.read_bytes())
    spec = importlib.util.find_spec("numba")   # numba's version file, without importing numba
    h.update(Path(spec.origin).with_name("_version.py").read_bytes())
    h.update(f"{sys.version} {platform.machine()}".encode())
    return h.hexdigest()[:16]


def aot_dir() -> Path:
    return Path(os.environ.get("FEM_AOT_DIR", ROOT / ".cache" / "aot"))


def module_name(key: str | None = None) -> str:
    return f"fem_kernels_{key or source_key()}"


def module_path(key: str | None = None) -> Path | None:
    """The compiled module of the current sources, or None when it has not been built."""
    name = module_name(key)
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        p = aot_dir() / (name + suffix)
        if p.is_file():
            return p
    return None


def compiled_module():
    """The compiled kernels (a module), or None (not built for these sources, or FEM_AOT=0)."""
    global _loaded
    if _loaded is None:
        _loaded = False
        if os.environ.get("FEM_AOT", "1").strip() not in ("0", "no", "false"):
            p = module_path()
            if p is not None:
                try:
                    spec = importlib.util.spec_from_file_location(p.name.split(".")[0], p)
                    mod = importlib.util.module_from_spec(spec)
                    spec.loader.exec_module(mod)
                    _loaded = mod
                except (ImportError, OSError) as e:   # a corrupt file: JIT, and say so once
                    print(f"warning: compiled kernels {p} not loaded ({e}); using the JIT kernels",
                          file=sys.stderr, flush=True)
    return _loaded or None


def kind() -> str:
    """"aot" or "jit": which kernels this process uses."""
    return "aot" if compiled_module() is not None else "jit"


def _register_all() -> dict:
    for m in KERNEL_MODULES:
        importlib.import_module(m)
    return _EXPORTS


def build(out_dir: Path | None = None, quiet: bool = False) -> Path:
    """Compile every exported kernel into <out_dir>/fem_kernels_<key><ext> (atomic: built in a temporary
    folder beside it, then renamed). Returns the module path; nothing is done when it exists."""
    import warnings

    out_dir = Path(out_dir or aot_dir())
    key = source_key()
    name = module_name(key)
    existing = [out_dir / (name + s) for s in importlib.machinery.EXTENSION_SUFFIXES if (out_dir / (name + s)).is_file()]
    if existing:
        return existing[0]
    out_dir.mkdir(parents=True, exist_ok=True)
    exports = _register_all()
    if not exports:
        raise RuntimeError("no kernels registered for ahead-of-time compilation")
    materialise()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # numba.pycc is deprecated (still shipped and working in numba 0.68)
        from numba.pycc import CC
        cc = CC(name, source_module=__name__)
        cc.target_cpu = "host"      # built where it runs (like the JIT), so use this CPU's instructions
        for k in exports.values():
            nargs = k.jit.py_func.__code__.co_argcount
            args = ", ".join(f"a{i}" for i in range(nargs))
            ns = {"_f": k.jit}
            # a wrapper that calls the JIT function: the kernel keeps its own compile options
            exec(f"def {k.name}({args}):\n    _f({args})\n", ns)
            cc.export(k.name, k.signature)(ns[k.name])
        with tempfile.TemporaryDirectory(dir=out_dir, prefix=".build-") as tmp:
            cc.output_dir = tmp
            cc.verbose = False
            cc.compile()
            built = next(Path(tmp).glob(name + "*"))
            target = out_dir / built.name
            os.replace(built, target)
    for old in out_dir.glob("fem_kernels_*"):   # older builds of other sources
        if old != target and old.is_file():
            try:
                old.unlink()
            except OSError:
                pass
    if not quiet:
        print(f"compiled kernels: {target}")
    return target


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["build"]:
        import time
        t = time.perf_counter()
        p = build(Path(argv[1]) if len(argv) > 1 else None, quiet=True)
        print(f"compiled kernels: {p} ({time.perf_counter() - t:.1f} s)")
        return 0
    if argv[:1] == ["status"]:
        p = module_path()
        print(f"compiled kernels: {p}" if p else f"compiled kernels: not built for these sources (key {source_key()})")
        return 0
    print("usage: python -m fem.aot build [DIR] | status", file=sys.stderr)
    return 2


if __name__ == "__main__":
    # run the imported module fem.aot, not this __main__ copy: the kernel modules register there
    from fem.aot import main as _main
    sys.exit(_main())
