"""Study files (TOML): schema, defaults, validation. Every key carries its unit in its name.

Bad input raises StudyError with a one-line message naming the key and its allowed range; the
command line turns it into exit code 2 without a traceback.
"""
from __future__ import annotations

import hashlib
import json
import math
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path

from meshes.common import GeometryError
from meshes.composite import CompositeGeometry
from meshes.disc_3d import Disc3DGeometry
from meshes.disc_axisym import AxisymDiscGeometry

from fem.physics.materials import GelNeoHookean, LiCreep, SoftVoid, TowElastic
from fem.physics.friction import FRICTION_MODES
from fem.physics.platen import LoadStep, PlatenSpec

REQUIRED = object()
INF = math.inf


class StudyError(ValueError):
    """A one-line, user-facing error about a study file."""


@dataclass(frozen=True)
class Key:
    default: object
    kind: type = float
    lo: float = -INF
    hi: float = INF
    lo_open: bool = False   # True: value must be > lo (else >= lo)
    hi_open: bool = False
    choices: tuple = ()
    doc: str = ""

    def allowed(self, name: str) -> str:
        if self.choices:
            return f"one of {', '.join(map(str, self.choices))}"
        if self.kind is bool:
            return "true or false"
        parts = []
        if self.lo > -INF:
            parts.append(f"{self.lo:g} {'<' if self.lo_open else '<='} {name}")
        if self.hi < INF:
            parts.append(f"{name} {'<' if self.hi_open else '<='} {self.hi:g}")
        rng = " and ".join(parts) if parts else "any number"
        return f"a {'whole number' if self.kind is int else 'number'}, {rng}"


def _default(cls, name: str):
    """The default of a dataclass field, so that a study table and the class it fills cannot drift apart."""
    return cls.__dataclass_fields__[name].default


@dataclass
class TimeSettings:
    integrator: str = "trapezoidal"
    time_tolerance: float = 1e-2
    max_creep_increment: float = 0.05
    max_local_creep_increment: float = 0.1
    dt_max_s: float = 100.0
    dt_min_s: float = 1e-12
    min_ramp_steps: int = 10
    max_newton_iterations: int = 12


@dataclass
class Study:
    name: str
    geometry: AxisymDiscGeometry | Disc3DGeometry
    li: LiCreep
    platen: PlatenSpec
    load: list[LoadStep]
    time: TimeSettings = field(default_factory=TimeSettings)
    quadrature_degree: int = 4
    pressure_space: str = "P1+P0"
    linear_solver: str = "auto"
    reuse_factorisation: bool | None = None   # None: the measured rule of fem/models/linear_solvers.py
    materials: dict = field(default_factory=dict)   # composite: "carbon", "gpe", "void" materials
    write_fields: bool = True
    snapshot_growth: float = 2.0
    description: str = ""

    def to_dict(self) -> dict:
        return {
            "name": self.name, "description": self.description,
            "geometry": {"model": self.model, **asdict(self.geometry)},
            "li": asdict(self.li), **{k: asdict(v) for k, v in self.materials.items()},
            "platen": asdict(self.platen),
            "load": [{k: v for k, v in asdict(s).items() if v is not None} for s in self.load],
            "time": asdict(self.time),
            "numerics": {"quadrature_degree": self.quadrature_degree, "pressure_space": self.pressure_space,
                         "linear_solver": self.linear_solver, "reuse_factorisation": self.reuse_factorisation},
            "output": {"fields": self.write_fields, "snapshot_growth": self.snapshot_growth},
        }

    @property
    def model(self) -> str:
        if isinstance(self.geometry, CompositeGeometry):
            return "composite"
        return "3d" if isinstance(self.geometry, Disc3DGeometry) else "axisymmetric"

    def fingerprint(self) -> str:
        """Hash of everything that changes the computed result (used to validate a resume)."""
        d = self.to_dict()
        d.pop("description"); d.pop("name")
        d["numerics"].pop("linear_solver")   # a finished case stays finished when only the solver changes
        d["numerics"].pop("reuse_factorisation")   # ... or only the factorisation policy
        return hashlib.sha1(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


POS = dict(lo=0.0, lo_open=True)      # > 0
NONNEG = dict(lo=0.0)                  # >= 0

SCHEMA: dict[str, dict[str, Key]] = {
    "study": {
        "name": Key("", str, doc="free text"),
        "description": Key("", str, doc="free text"),
    },
    "geometry": {
        "model": Key(REQUIRED, str, choices=("axisymmetric", "3d", "composite")),
        "diameter_mm": Key(REQUIRED, float, hi=1000.0, **POS),
        "thickness_mm": Key(None, float, hi=100.0, **POS, doc="required for axisymmetric and 3d; "
                            "composite: derived from the masses"),
        "mesh_size_mm": Key(REQUIRED, float, hi=100.0, **POS),
        "rim_refinement": Key(_default(AxisymDiscGeometry, "rim_refinement"), float, lo=1.0, hi=100.0),
        "rim_zone_mm": Key(_default(AxisymDiscGeometry, "rim_zone_mm"), float, hi=1000.0, **POS),
        "platen_refinement": Key(_default(AxisymDiscGeometry, "platen_refinement"), float, lo=1.0, hi=100.0),
        "platen_zone_mm": Key(_default(AxisymDiscGeometry, "platen_zone_mm"), float, hi=100.0, **POS),
        "use_symmetry": Key(_default(AxisymDiscGeometry, "use_symmetry"), bool),
        "layers": Key(_default(Disc3DGeometry, "layers"), int, lo=1, hi=1000, doc="3d only: element layers across the modelled height"),
        "quarter": Key(_default(Disc3DGeometry, "quarter"), bool, doc="3d only: model the quarter disc x, y >= 0"),
    },
    "composite": {  # model = "composite": meshes/composite.py CompositeGeometry (sources: DEFAULT_SOURCES)
        "reference_diameter_mm": Key(_default(CompositeGeometry, "reference_diameter_mm"), float, hi=1000.0, **POS, doc="disc on which the masses were measured"),
        "li_mass_mg": Key(_default(CompositeGeometry, "li_mass_mg"), float, hi=1e6, **POS),
        "cfc_mass_mg": Key(_default(CompositeGeometry, "cfc_mass_mg"), float, hi=1e6, **POS),
        "gpe_mass_mg": Key(_default(CompositeGeometry, "gpe_mass_mg"), float, hi=1e6, **NONNEG),
        "carbon_density": Key(_default(CompositeGeometry, "carbon_density"), float, hi=100.0, **POS, doc="g/cm3"),
        "li_density": Key(_default(CompositeGeometry, "li_density"), float, hi=100.0, **POS, doc="g/cm3"),
        "gpe_density": Key(_default(CompositeGeometry, "gpe_density"), float, hi=100.0, **POS, doc="g/cm3"),
        "tow_pitch_mm": Key(_default(CompositeGeometry, "tow_pitch_mm"), float, hi=100.0, **POS),
        "tow_width_mm": Key(_default(CompositeGeometry, "tow_width_mm"), float, hi=100.0, **POS, doc="solved from the carbon mass when tow_height_mm is given"),
        "tow_height_mm": Key(_default(CompositeGeometry, "tow_height_mm"), float, hi=100.0, **POS, doc="default: solved from the carbon mass"),
        "fiber_volume_fraction": Key(_default(CompositeGeometry, "fiber_volume_fraction"), float, hi=1.0, **POS),
        "tow_li_fill": Key(_default(CompositeGeometry, "tow_li_fill"), float, hi=1.0, **NONNEG),
        "tow_gap_mm": Key(_default(CompositeGeometry, "tow_gap_mm"), float, hi=10.0, **POS),
        "crimp_amplitude_mm": Key(_default(CompositeGeometry, "crimp_amplitude_mm"), float, hi=10.0, **POS),
        "gpe_thickness_mm": Key(_default(CompositeGeometry, "gpe_thickness_mm"), float, hi=10.0, **NONNEG, doc="per skin; default from gpe_mass_mg"),
        "void_fraction": Key(_default(CompositeGeometry, "void_fraction"), float, hi=1.0, hi_open=True, **NONNEG),
        "li_overlayer_max_mm": Key(_default(CompositeGeometry, "li_overlayer_max_mm"), float, hi=100.0, **POS),
        "mesh_size_tow_mm": Key(_default(CompositeGeometry, "mesh_size_tow_mm"), float, hi=100.0, **POS),
        "mesh_size_pore_mm": Key(_default(CompositeGeometry, "mesh_size_pore_mm"), float, hi=100.0, **POS),
        "optimize_netgen": Key(_default(CompositeGeometry, "optimize_netgen"), bool),
    },
    "carbon": {  # homogenised carbon tow (fem/physics/materials.py TowElastic, CARBON_SOURCES)
        "E_L_MPa": Key(_default(TowElastic, "E_L_MPa"), float, hi=1e7, **POS),
        "E_T_MPa": Key(_default(TowElastic, "E_T_MPa"), float, hi=1e7, **POS),
        "G_LT_MPa": Key(_default(TowElastic, "G_LT_MPa"), float, hi=1e7, **POS),
        "nu_LT": Key(_default(TowElastic, "nu_LT"), float, lo=-1.0, hi=0.5, lo_open=True, hi_open=True),
        "nu_TT": Key(_default(TowElastic, "nu_TT"), float, lo=-1.0, hi=0.5, lo_open=True, hi_open=True),
        "strength_MPa": Key(_default(TowElastic, "strength_MPa"), float, hi=1e6, **POS),
        "isotropic": Key(_default(TowElastic, "isotropic"), bool),
    },
    "gpe": {  # gel polymer electrolyte (GelNeoHookean, GPE_SOURCES)
        "shear_modulus_MPa": Key(_default(GelNeoHookean, "shear_modulus_MPa"), float, hi=1e6, **POS),
        "bulk_modulus_MPa": Key(_default(GelNeoHookean, "bulk_modulus_MPa"), float, hi=1e7, **POS),
    },
    "void": {  # pores (SoftVoid, VOID_SOURCES)
        "youngs_modulus_MPa": Key(_default(SoftVoid, "youngs_modulus_MPa"), float, hi=1e4, **POS),
        "poisson_ratio": Key(_default(SoftVoid, "poisson_ratio"), float, lo=-1.0, hi=0.5, lo_open=True, hi_open=True),
    },
    "li": {
        "youngs_modulus_MPa": Key(REQUIRED, float, hi=1e7, **POS),
        "poisson_ratio": Key(REQUIRED, float, lo=-1.0, hi=0.5, lo_open=True, hi_open=True),
        "creep_A": Key(REQUIRED, float, hi=1e12, **NONNEG, doc="MPa^-n s^-1"),
        "creep_n": Key(REQUIRED, float, lo=1.0, hi=20.0),
        "threshold_stress_MPa": Key(_default(LiCreep, "threshold_stress_MPa"), float, hi=1e4, **NONNEG),
        "activation_energy_J_per_mol": Key(_default(LiCreep, "activation_energy_J_per_mol"), float, hi=1e7, **NONNEG),
        "temperature_K": Key(_default(LiCreep, "temperature_K"), float, hi=2000.0, **POS),
        "reference_temperature_K": Key(_default(LiCreep, "reference_temperature_K"), float, hi=2000.0, **POS),
    },
    "platen": {
        "friction": Key(REQUIRED, str, choices=FRICTION_MODES),
        "mu": Key(_default(PlatenSpec, "mu"), float, hi=10.0, **NONNEG),
        "slip_regularization_mm_per_s": Key(_default(PlatenSpec, "slip_regularization_mm_per_s"), float, hi=1e3, **POS),
        "slip_floor_mm": Key(_default(PlatenSpec, "slip_floor_mm"), float, hi=1.0, **POS),
    },
    "load": {  # each [[load]] step
        "pressure_MPa": Key(None, float, hi=1e4, **NONNEG),
        "gap_mm": Key(None, float, hi=100.0, **POS),
        "ramp_s": Key(REQUIRED, float, hi=1e9, **NONNEG),
        "hold_s": Key(REQUIRED, float, hi=1e9, **NONNEG),
    },
    "time": {
        "integrator": Key(_default(TimeSettings, "integrator"), str, choices=("trapezoidal", "backward_euler"),
                          doc="creep integration: trapezoidal (2nd order) or backward_euler (1st order)"),
        "time_tolerance": Key(_default(TimeSettings, "time_tolerance"), float, hi=1.0, **NONNEG,
                              doc="local error per unit creep strain; 0 = step by the creep caps only"),
        "max_creep_increment": Key(_default(TimeSettings, "max_creep_increment"), float, hi=1.0, **POS, doc="volume RMS of dp per step (robustness cap)"),
        "max_local_creep_increment": Key(_default(TimeSettings, "max_local_creep_increment"), float, hi=10.0, **POS, doc="pointwise max of dp per step"),
        "dt_max_s": Key(_default(TimeSettings, "dt_max_s"), float, hi=1e9, **POS),
        "dt_min_s": Key(_default(TimeSettings, "dt_min_s"), float, hi=1e3, **POS),
        "min_ramp_steps": Key(_default(TimeSettings, "min_ramp_steps"), int, lo=1, hi=100000),
        "max_newton_iterations": Key(_default(TimeSettings, "max_newton_iterations"), int, lo=1, hi=100),
    },
    "numerics": {
        "quadrature_degree": Key(None, int, lo=2, hi=8, doc="default 4 (axisymmetric), 2 (3d: 4 points per tet)"),
        "pressure_space": Key(None, str, choices=("P1+P0", "P1"),
                              doc="default P1+P0 (axisymmetric: enriched Taylor-Hood), P1 (3d, composite)"),
        "linear_solver": Key(_default(Study, "linear_solver"), str, choices=("auto", "mumps", "gamg"),
                             doc="3d/composite: auto (default: gamg for a bare-Li disc from 100k unknowns, else "
                                 "mumps; fem/models/linear_solvers.py AUTO_ITERATIVE_MIN_DOFS), mumps (direct) or gamg (FGMRES, "
                                 "Schur field split, p-multigrid + GAMG on u); axisymmetric: auto or mumps (serial "
                                 "direct). Not part of the fingerprint (same result to the solver tolerance)"),
        "reuse_factorisation": Key(_default(Study, "reuse_factorisation"), bool,
                                   doc="true: Newton iterations may reuse the last factorisation (chord iterations, "
                                       "also across steps; fem/models/newton.py); default: on for a bare-Li 3D disc "
                                       "from 10k unknowns (fem/models/linear_solvers.py REUSE_MIN_DOFS), off otherwise; "
                                       "same result to the Newton tolerance, not part of the fingerprint"),
    },
    "output": {
        "fields": Key(_default(Study, "write_fields"), bool),
        "snapshot_growth": Key(_default(Study, "snapshot_growth"), float, lo=1.0, hi=1e6, lo_open=True,
                               doc="write fields when elapsed phase time grew by this factor"),
    },
}
REQUIRED_TABLES = ("geometry", "li", "platen", "load")


def _check_value(table: str, name: str, key: Key, value):
    where = f"[{table}] {name}"
    if isinstance(value, list):
        raise StudyError(f"{where} = {value!r}: a list makes this a sweep; run it with "
                         f"`python -m fem sweep` (make sweep STUDY=...)")
    if key.kind is bool:
        if not isinstance(value, bool):
            raise StudyError(f"{where} = {value!r}: must be true or false")
        return value
    if key.kind is str:
        if not isinstance(value, str):
            raise StudyError(f"{where} = {value!r}: must be a string, {key.allowed(name)}")
        if key.choices and value not in key.choices:
            raise StudyError(f"{where} = {value!r} is not allowed: must be {key.allowed(name)}")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise StudyError(f"{where} = {value!r}: must be {key.allowed(name)}")
    if key.kind is int and not float(value).is_integer():
        raise StudyError(f"{where} = {value!r}: must be {key.allowed(name)}")
    v = float(value)
    bad = (not math.isfinite(v) or (v <= key.lo if key.lo_open else v < key.lo)
           or (v >= key.hi if key.hi_open else v > key.hi))
    if bad:
        raise StudyError(f"{where} = {value!r} is out of range: must be {key.allowed(name)}")
    return int(v) if key.kind is int else v


def _read_table(table: str, data: dict) -> dict:
    if not isinstance(data, dict):
        raise StudyError(f"[{table}] must be a table")
    schema = SCHEMA[table]
    for name in data:
        if name not in schema:
            raise StudyError(f"[{table}] {name}: unknown key; allowed keys are {', '.join(schema)}")
    out = {}
    for name, key in schema.items():
        if name in data:
            out[name] = _check_value(table, name, key, data[name])
        elif key.default is REQUIRED:
            raise StudyError(f"[{table}] {name}: missing required key ({key.allowed(name)})")
        else:
            out[name] = key.default
    return out


def parse_study(data: dict, name: str = "study") -> Study:
    for t in data:
        if t not in SCHEMA:
            raise StudyError(f"[{t}]: unknown table; allowed tables are {', '.join(SCHEMA)}")
    for t in REQUIRED_TABLES:
        if t not in data:
            raise StudyError(f"[{t}]: missing required table" + (" (use [[load]] steps)" if t == "load" else ""))
    meta = _read_table("study", data.get("study", {}))
    g = _read_table("geometry", data["geometry"])
    model = g.pop("model")
    materials = {}
    for t in ("composite", "carbon", "gpe", "void"):
        if t in data and model != "composite":
            raise StudyError(f"[{t}]: only allowed for [geometry] model = \"composite\"")
    if model == "composite":
        allowed = ("diameter_mm", "mesh_size_mm", "use_symmetry", "quarter")
        for k in data["geometry"]:
            if k not in allowed + ("model",):
                raise StudyError(f"[geometry] {k}: not allowed for model = \"composite\" (allowed: "
                                 f"{', '.join(allowed)}; the thickness follows from the masses in [composite])")
        c = _read_table("composite", data.get("composite", {}))
        try:
            geometry = CompositeGeometry(diameter_mm=g["diameter_mm"], mesh_size_mm=g["mesh_size_mm"],
                                         use_symmetry=bool(data["geometry"].get("use_symmetry", False)),
                                         quarter=g["quarter"], **c)
        except GeometryError as e:
            raise StudyError(f"[composite] {e}") from None
        materials = {"carbon": TowElastic(**_read_table("carbon", data.get("carbon", {}))),
                     "gpe": GelNeoHookean(**_read_table("gpe", data.get("gpe", {}))),
                     "void": SoftVoid(**_read_table("void", data.get("void", {})))}
    elif g["thickness_mm"] is None:
        raise StudyError("[geometry] thickness_mm: missing required key (a number, 0 < thickness_mm <= 100)")
    elif model == "3d":
        if not g["use_symmetry"]:
            raise StudyError("[geometry] use_symmetry = false is not allowed for model = \"3d\": must be true "
                             "(the 3D model uses the mid-plane symmetry)")
        geometry = Disc3DGeometry(**g)
    else:
        for k in ("layers", "quarter"):
            if k in data["geometry"]:
                raise StudyError(f"[geometry] {k}: only allowed for model = \"3d\"")
            g.pop(k)
        geometry = AxisymDiscGeometry(**g)
    if model == "axisymmetric" and geometry.mesh_size_mm > geometry.height_mm:
        raise StudyError(f"[geometry] mesh_size_mm = {geometry.mesh_size_mm:g} is out of range: must be "
                         f"<= the modelled height {geometry.height_mm:g} mm (at least one element across)")
    li = LiCreep(**_read_table("li", data["li"]))
    pl = _read_table("platen", data["platen"])
    if pl["friction"] == "coulomb" and "mu" not in data["platen"]:
        raise StudyError("[platen] mu: missing required key for friction = \"coulomb\" (a number, 0 <= mu <= 10)")
    platen = PlatenSpec(**pl)
    loads = data["load"]
    if not isinstance(loads, list) or not loads:
        raise StudyError("[[load]]: need at least one load step ([[load]] with pressure_MPa or gap_mm, ramp_s, hold_s)")
    steps = []
    for i, raw in enumerate(loads):
        st = _read_table("load", raw)
        if (st["pressure_MPa"] is None) == (st["gap_mm"] is None):
            raise StudyError(f"[[load]] step {i + 1}: give exactly one of pressure_MPa (force control) "
                             f"or gap_mm (gap control)")
        if st["gap_mm"] is not None and st["gap_mm"] > geometry.thickness_mm:
            raise StudyError(f"[[load]] step {i + 1} gap_mm = {st['gap_mm']:g} is out of range: must be "
                             f"0 < gap_mm <= thickness_mm = {geometry.thickness_mm:g}")
        steps.append(LoadStep(**st))
    tm = TimeSettings(**_read_table("time", data.get("time", {})))
    num = _read_table("numerics", data.get("numerics", {}))
    if model != "axisymmetric" and num["pressure_space"] == "P1+P0":
        raise StudyError(f"[numerics] pressure_space = 'P1+P0' is not allowed with [geometry] model = "
                         f"'{model}': must be P1 (the enriched space is implemented on the axisymmetric path only)")
    if model == "axisymmetric" and num["linear_solver"] == "gamg":
        raise StudyError(f"[numerics] linear_solver = '{num['linear_solver']}' is not allowed with [geometry] "
                         f"model = 'axisymmetric': must be auto or mumps (the axisymmetric path is serial and direct)")
    out = _read_table("output", data.get("output", {}))
    return Study(name=meta["name"] or name, description=meta["description"], geometry=geometry, li=li,
                 platen=platen, load=steps, time=tm, materials=materials,
                 quadrature_degree=num["quadrature_degree"] or (4 if model == "axisymmetric" else 2),
                 pressure_space=num["pressure_space"] or ("P1+P0" if model == "axisymmetric" else "P1"),
                 linear_solver=num["linear_solver"], reuse_factorisation=num["reuse_factorisation"],
                 write_fields=out["fields"], snapshot_growth=out["snapshot_growth"])


def load_study(path: str | Path) -> Study:
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise StudyError(f"{path}: study file not found") from None
    except OSError as e:
        raise StudyError(f"{path}: cannot read study file ({e.strerror})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise StudyError(f"{path}: malformed TOML: {e}") from None
    try:
        return parse_study(data, name=path.stem)
    except StudyError as e:
        raise StudyError(f"{path}: {e}") from None
