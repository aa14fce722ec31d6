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
from meshes.composite import CompositeGeometry, exact_layout
from meshes.disc_3d import Disc3DGeometry
from meshes.disc_axisym import AxisymDiscGeometry
from meshes.homogenised import HomogenisedDiscGeometry

from fem.physics.fixture import FixtureSpec
from fem.physics.materials import CrossingBond, GelNeoHookean, LiAnand, LiCreep, SoftVoid, TowElastic
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
    item: type | None = None   # kind = list: the type of each item (str: one of choices; float: in [lo, hi])

    def allowed(self, name: str) -> str:
        if self.kind is list:   # a list of names or numbers ([rve] layer_materials, layer_thickness_mm)
            if self.item is str:
                return f"a list of names, each one of {', '.join(map(str, self.choices))}"
            return "a list of numbers, each " + Key(None, float, self.lo, self.hi, self.lo_open,
                                                    self.hi_open).allowed("x").removeprefix("a number, ")
        if self.kind is tuple:   # a pair [intercept, slope] ([fixture] torque_to_force_N)
            return (f"a list of two numbers [a, b] (F = a + b*T), -{self.hi:g} <= a <= {self.hi:g} and "
                    f"0 < b <= {self.hi:g}")
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


LI_LAWS = ("norton", "anand")   # [li] law: fem/physics/materials.py LiCreep, LiAnand


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
    max_memory_GiB: float | None = None       # None: MemAvailable at validation (check_memory)
    min_J: float = 0.02                       # stop when det F at a quadrature point falls below this (near inversion)
    materials: dict = field(default_factory=dict)   # composite: "carbon", "gpe", "void" materials
    write_fields: bool = True
    snapshot_growth: float = 2.0
    checkpoint_every_steps: int = 20      # checkpoint after this many accepted steps ...
    checkpoint_every_s: float = 60.0      # ... or this many wall seconds, whichever first
    description: str = ""
    fixture: FixtureSpec | None = None    # [fixture]: screw fixture in series with the disc (None: platens only)
    warnings: list = field(default_factory=list)   # one-line warnings of a valid study (not part of the result)

    def to_dict(self) -> dict:
        return {
            "name": self.name, "description": self.description,
            "geometry": {"model": self.model, **asdict(self.geometry)},
            **_li_tables(self.li),
            **{k: ({"law": "bonded", **asdict(v)} if k == "crossing" else asdict(v)) for k, v in self.materials.items()},
            "platen": asdict(self.platen),
            "load": [{k: v for k, v in asdict(s).items() if v is not None} for s in self.load],
            **({"fixture": {**asdict(self.fixture), "torque_to_force_N": list(self.fixture.torque_to_force_N)}}
               if self.fixture is not None else {}),
            "time": asdict(self.time),
            "numerics": {"quadrature_degree": self.quadrature_degree, "pressure_space": self.pressure_space,
                         "linear_solver": self.linear_solver, "reuse_factorisation": self.reuse_factorisation,
                         "max_memory_GiB": self.max_memory_GiB, "min_J": self.min_J},
            "output": {"fields": self.write_fields, "snapshot_growth": self.snapshot_growth,
                       "checkpoint_every_steps": self.checkpoint_every_steps,
                       "checkpoint_every_s": self.checkpoint_every_s},
        }

    @property
    def model(self) -> str:
        if isinstance(self.geometry, HomogenisedDiscGeometry):
            return "composite_homogenised"
        if isinstance(self.geometry, CompositeGeometry):
            return "composite"
        return "3d" if isinstance(self.geometry, Disc3DGeometry) else "axisymmetric"

    def fingerprint(self) -> str:
        """Hash of everything that changes the computed result (used to validate a resume)."""
        d = self.to_dict()
        d.pop("description"); d.pop("name")
        d["numerics"].pop("linear_solver")   # a finished case stays finished when only the solver changes
        d["numerics"].pop("reuse_factorisation")   # ... or only the factorisation policy
        d["numerics"].pop("max_memory_GiB")        # ... or only the memory limit
        d["numerics"].pop("min_J")                 # ... or only the mesh-quality limit
        d["output"].pop("checkpoint_every_steps"); d["output"].pop("checkpoint_every_s")   # ... or checkpointing
        d.get("carbon", {}).pop("transverse_compressive_strength_MPa", None)   # ... or a failure index's strength
        if not self.platen.capped:   # no Tresca cap: its keys change nothing (fingerprints as before the cap)
            d["platen"].pop("tresca_m", None); d["platen"].pop("shear_flow_stress_MPa", None)
        gpe = d.get("gpe", {})
        if not gpe.get("porosity"):   # a dense gel: the pore keys change nothing (fingerprints as before them)
            gpe.pop("porosity", None); gpe.pop("pore_collapse_pressure_MPa", None); gpe.pop("drainage_time_s", None)
        if not gpe.get("drainage_time_s"):   # pores without drainage time: as before the key
            gpe.pop("drainage_time_s", None)
        if self.model == "composite_homogenised":
            from fem.physics.laws import PLY_FORM_VERSION
            d["ply_form"] = PLY_FORM_VERSION   # the finite-strain form of the ply's skeleton (fem/physics/laws.py PlyLaw)
            if self.geometry.ply_law == "rve_creep":   # the fitted law: the table's content and the fit's version
                from fem.rve.ply_fit import FIT_VERSION
                from fem.rve.ply_tables import disc_table_path
                tp = disc_table_path(self.geometry, {"li": self.li, **self.materials})
                d["ply_fit"] = {"fit_version": FIT_VERSION,
                                "table_sha1": hashlib.sha1(tp.read_bytes()).hexdigest() if tp.exists() else None}
            else:   # the elastic ply's cell (fem/rve/ply.py)
                from fem.rve.ply import PLY_CACHE_VERSION
                d["ply_cell"] = PLY_CACHE_VERSION
        return hashlib.sha1(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


POS = dict(lo=0.0, lo_open=True)      # > 0
NONNEG = dict(lo=0.0)                  # >= 0

SCHEMA: dict[str, dict[str, Key]] = {
    "study": {
        "name": Key("", str, doc="free text"),
        "description": Key("", str, doc="free text"),
    },
    "geometry": {
        "model": Key(REQUIRED, str, choices=("axisymmetric", "3d", "composite", "composite_homogenised", "rve")),
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
        "ply_law": Key("elastic", str, choices=("elastic", "rve_creep"),
                       doc="composite_homogenised only: elastic (the cloth's elastic RVE, the Li overlayer creeps) or "
                           "rve_creep (the Li region's law fitted to its RVE creep tables, make ply-tables)"),
        "rows_factor": Key(1, int, lo=1, hi=16, doc="composite_homogenised only: element rows per layer x this "
                                                     "(4 / 2 / 3 rows in ply / overlayer / gel at 1)"),
        "ply_rve_pores": Key("neo-hookean", str, choices=("neo-hookean", "linear"),
                             doc="composite_homogenised, rve_creep only: the pores of the creep tables' RVE cell: "
                                 "neo-hookean (a pore cannot lose more than its volume) or linear (the small-strain "
                                 "soft solid of the tables before 2026-12-04 session 12, which lost 3.6x its volume "
                                 "at 30 MPa: kept for comparison; every committed table has neo-hookean pores since session 13)"),
        "ply_rve_mesh_size_mm": Key(_default(HomogenisedDiscGeometry, "ply_rve_mesh_size_mm"), float, hi=10.0, **POS,
                                    doc="composite_homogenised only: element size of the RVE cell that gives the ply (the elastic cloth cell, or the Li-region cell of the rve_creep tables)"),
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
        "transverse_compressive_strength_MPa": Key(_default(TowElastic, "transverse_compressive_strength_MPa"), float,
                                                   hi=1e6, **POS),
        "isotropic": Key(_default(TowElastic, "isotropic"), bool),
    },
    "gpe": {  # gel polymer electrolyte (GelNeoHookean, GPE_SOURCES)
        "shear_modulus_MPa": Key(_default(GelNeoHookean, "shear_modulus_MPa"), float, hi=1e6, **POS),
        "bulk_modulus_MPa": Key(_default(GelNeoHookean, "bulk_modulus_MPa"), float, hi=1e7, **POS),
        "porosity": Key(_default(GelNeoHookean, "porosity"), float, lo=0.0, hi=0.9,
                        doc="volume fraction of closing pores in the gel (0: dense)"),
        "pore_collapse_pressure_MPa": Key(_default(GelNeoHookean, "pore_collapse_pressure_MPa"), float, hi=1e4,
                                          **NONNEG, doc="MPa; 0: 4 G (1 - porosity) / 3 (Hashin-matched)"),
        "drainage_time_s": Key(_default(GelNeoHookean, "drainage_time_s"), float, hi=1e7, **NONNEG,
                               doc="s; 0: the pores close as the pressure acts; > 0: they close as the liquid "
                                   "drains, with this time constant (steps then at most a quarter of it)"),
    },
    "crossing": {  # model = "composite" only: the Li between crossing tows (meshes/composite.py crossing_cells;
                   # fem/physics/materials.py CrossingBond, CROSSING_SOURCES)
        "law": Key("li_film", str, choices=("li_film", "bonded"),
                   doc="li_film: the mesher's Li film creeps with [li] (as without the table); bonded: an "
                       "isotropic elastic solid, crossings that neither slide nor creep"),
        "youngs_modulus_MPa": Key(_default(CrossingBond, "youngs_modulus_MPa"), float, hi=1e7, **POS,
                                  doc="law = bonded: MPa (default the tows' E_T)"),
        "poisson_ratio": Key(_default(CrossingBond, "poisson_ratio"), float, lo=-1.0, hi=0.5, lo_open=True,
                             hi_open=True, doc="law = bonded (default the tows' nu_TT)"),
    },
    "void": {  # pores (SoftVoid, VOID_SOURCES)
        "youngs_modulus_MPa": Key(_default(SoftVoid, "youngs_modulus_MPa"), float, hi=1e4, **POS),
        "poisson_ratio": Key(_default(SoftVoid, "poisson_ratio"), float, lo=-1.0, hi=0.5, lo_open=True, hi_open=True),
    },
    "rve": {  # model = "rve": periodic RVE of the ply (fem/rve, meshes/rve.py); docs/physics.md "Periodic RVE"
        "microstructure": Key("weave", str, choices=("weave", "laminate"),
                              doc="weave: one plain-weave cell (2 x 2 tow pitches) of the [composite] ply; "
                                  "laminate: layers normal to z"),
        "layer_materials": Key((), list, item=str, choices=("li", "gpe", "carbon", "void"),
                               doc="laminate only, bottom to top: material table of each layer (carbon: "
                                   "fibres along x)"),
        "layer_thickness_mm": Key((), list, item=float, hi=100.0, **POS, doc="laminate only: one per layer"),
        "element_degree": Key(2, int, lo=1, hi=2, doc="Lagrange degree of the displacement (P2 default)"),
        "bounds": Key(True, bool, doc="also solve with KUBC (u = E x on the whole boundary) and SUBC "
                                      "(uniform traction) on the same mesh"),
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
        "law": Key("norton", str, choices=LI_LAWS,
                   doc="norton: Norton creep with threshold (creep_A, creep_n, ...); anand: the Anand-type law "
                       "of [anand] (then creep_A, creep_n, threshold_stress_MPa, activation_energy_J_per_mol and "
                       "reference_temperature_K are not used)"),
    },
    # the Anand-type Li law ([li] law = "anand"; defaults: Narayan & Anand 2018, fem/physics/materials.py
    # LI_ANAND_SOURCES); elasticity and temperature_K come from [li]
    "anand": {
        "flow_prefactor_per_s": Key(_default(LiAnand, "flow_prefactor_per_s"), float, hi=1e30, **POS, doc="A, 1/s"),
        "activation_energy_J_per_mol": Key(_default(LiAnand, "activation_energy_J_per_mol"), float, hi=1e7, **NONNEG),
        "rate_sensitivity": Key(_default(LiAnand, "rate_sensitivity"), float, lo=0.0, hi=1.0, lo_open=True, doc="m"),
        "initial_resistance_MPa": Key(_default(LiAnand, "initial_resistance_MPa"), float, hi=1e4, **POS, doc="S0"),
        "hardening_modulus_MPa": Key(_default(LiAnand, "hardening_modulus_MPa"), float, hi=1e6, **NONNEG, doc="H0"),
        "saturation_coefficient_MPa": Key(_default(LiAnand, "saturation_coefficient_MPa"), float, hi=1e4, **POS,
                                          doc="S_tilde"),
        "saturation_exponent": Key(_default(LiAnand, "saturation_exponent"), float, lo=0.0, hi=1.0, hi_open=True,
                                   doc="n; also < 1/hardening_exponent"),
        "hardening_exponent": Key(_default(LiAnand, "hardening_exponent"), float, lo=1.0, hi=10.0, doc="a"),
        "flow_form": Key(_default(LiAnand, "flow_form"), str, choices=("power", "sinh")),
        "sinh_multiplier": Key(_default(LiAnand, "sinh_multiplier"), float, hi=1e3, **POS, doc="xi (sinh form)"),
    },
    "platen": {
        "friction": Key(REQUIRED, str, choices=FRICTION_MODES),
        "mu": Key(_default(PlatenSpec, "mu"), float, hi=10.0, **NONNEG),
        "slip_regularization_mm_per_s": Key(_default(PlatenSpec, "slip_regularization_mm_per_s"), float, hi=1e3, **POS),
        "slip_floor_mm": Key(_default(PlatenSpec, "slip_floor_mm"), float, hi=1.0, **POS),
        "tresca_m": Key(_default(PlatenSpec, "tresca_m"), float, hi=1.0, **NONNEG,
                        doc="coulomb only: friction factor m of the Tresca cap tau <= m k (0: no cap; "
                            "fem/physics/friction.py)"),
        "shear_flow_stress_MPa": Key(_default(PlatenSpec, "shear_flow_stress_MPa"), float, hi=1e3, **POS,
                                     doc="k of the Tresca cap (default 0.44 MPa: Li yield 0.73-0.81 MPa / sqrt 3, "
                                         "Masias et al. 2019)"),
    },
    "load": {  # each [[load]] step
        "pressure_MPa": Key(None, float, hi=1e4, **NONNEG),
        "gap_mm": Key(None, float, hi=100.0, **POS),
        "torque_Nm": Key(None, float, hi=1e3, **POS, doc="with [fixture] only: the force is a + b*T "
                         "(torque_to_force_N); warns below min_torque_Nm"),
        "ramp_s": Key(REQUIRED, float, hi=1e9, **NONNEG),
        "hold_s": Key(REQUIRED, float, hi=1e9, **NONNEG),
    },
    "fixture": {  # optional: the screw fixture in series with the disc (fem/physics/fixture.py, FIXTURE_SOURCES)
        "stiffness_N_per_mm": Key(_default(FixtureSpec, "stiffness_N_per_mm"), float, hi=1e9, **POS,
                                  doc="bolts + plates, full disc: F = k (s - gap closure); the modelled half "
                                      "disc sees 2k with mid-plane symmetry. Default: an estimate"),
        "torque_to_force_N": Key(_default(FixtureSpec, "torque_to_force_N"), tuple, hi=1e6,
                                 doc="[a, b]: F [N] = a + b T [N*m]; default the paper's fit"),
        "min_torque_Nm": Key(_default(FixtureSpec, "min_torque_Nm"), float, hi=1e3, **NONNEG,
                             doc="lower end of the fit's torque range: a smaller torque_Nm warns (paper: 0.5)"),
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
                                       "from 10k unknowns (fem/models/linear_solvers.py REUSE_MIN_DOFS) and for the "
                                       "composite, off for the axisymmetric model; "
                                       "same result to the Newton tolerance, not part of the fingerprint"),
        "max_memory_GiB": Key(_default(Study, "max_memory_GiB"), float, hi=1e6, **POS,
                              doc="GiB a run may use: a study whose mesh and FE model would need more (estimated "
                                  "from the geometry keys before meshing, meshes/estimate.py, within 2x of the "
                                  "measured peak memory) is refused at validation; default: the memory available "
                                  "now (MemAvailable of /proc/meminfo). Set it above that to run a mesh the "
                                  "estimate refuses, or lower to keep runs small. Not part of the fingerprint"),
        "min_J": Key(_default(Study, "min_J"), float, lo=0.0, hi=1.0, lo_open=True, hi_open=True,
                     doc="mesh-quality limit: the run stops with a one-line error when det F (the local volume "
                         "ratio, 1 for the isochoric creep) at a quadrature point falls below it, i.e. when "
                         "elements under the platen are too distorted to trust; history.csv and summary.json "
                         "report the smallest value reached (min_J). Not part of the fingerprint"),
    },
    "output": {
        "fields": Key(_default(Study, "write_fields"), bool),
        "snapshot_growth": Key(_default(Study, "snapshot_growth"), float, lo=1.0, hi=1e6, lo_open=True,
                               doc="write fields when elapsed phase time grew by this factor"),
        "checkpoint_every_steps": Key(_default(Study, "checkpoint_every_steps"), int, lo=1, hi=10**9,
                                      doc="write the resume checkpoint after this many accepted steps (or "
                                          "checkpoint_every_s, whichever first); not part of the fingerprint"),
        "checkpoint_every_s": Key(_default(Study, "checkpoint_every_s"), float, hi=1e7, **POS,
                                  doc="wall seconds between resume checkpoints (or checkpoint_every_steps, "
                                      "whichever first); not part of the fingerprint"),
    },
}
REQUIRED_TABLES = ("geometry", "li", "platen", "load")


def is_pair_key(table: str, name: str) -> bool:
    """True for a key whose value is a list of two numbers ([fixture] torque_to_force_N) or another
    list-valued key ([rve] layer_materials, layer_thickness_mm): its list is a value, not a sweep
    (fem/workflows/sweep.py)."""
    key = SCHEMA.get(table, {}).get(name)
    return key is not None and key.kind in (tuple, list)


def _check_pair(where: str, name: str, key: Key, value) -> tuple[float, float]:
    ok = (isinstance(value, list) and len(value) == 2
          and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value))
    if ok:
        a, b = float(value[0]), float(value[1])
        ok = abs(a) <= key.hi and 0.0 < b <= key.hi
    if not ok:
        raise StudyError(f"{where} = {value!r}: must be {key.allowed(name)}")
    return a, b


def _check_value(table: str, name: str, key: Key, value):
    where = f"[{table}] {name}"
    if key.kind is tuple:
        return _check_pair(where, name, key, value)
    if key.kind is list:
        if not isinstance(value, list) or not value or any(isinstance(v, (list, dict)) for v in value):
            raise StudyError(f"{where} = {value!r}: must be {key.allowed(name)} (at least one)")
        item = Key(None, key.item, key.lo, key.hi, key.lo_open, key.hi_open, key.choices)
        return tuple(_check_value(table, name, item, v) for v in value)
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


# keys that set the mesh size, per table (named in the memory refusal when the study sets them)
_SIZE_KEYS = {"geometry": ("layers", "rim_refinement", "platen_refinement"),
              "composite": ("mesh_size_tow_mm", "mesh_size_pore_mm")}


def check_memory(geometry, data: dict, pressure_space: str, linear_solver: str,
                 max_memory_GiB: float | None = None, available_bytes: float | None = None):
    """Refuse (StudyError) a geometry whose mesh and FE model would need more memory than
    `max_memory_GiB`, or by default than is available now (meshes/estimate.py: closed form, before
    meshing). Returns the MeshEstimate. `available_bytes` replaces the MemAvailable reading (tests)."""
    from meshes.estimate import GiB, available_memory_bytes, estimate

    est = estimate(geometry, pressure_space=pressure_space, linear_solver=linear_solver)
    if max_memory_GiB is not None:
        limit, what = max_memory_GiB * GiB, f"[numerics] max_memory_GiB = {max_memory_GiB:g}"
    else:
        limit = available_bytes if available_bytes is not None else available_memory_bytes()
        what = "memory available now"
    if limit is None or est.bytes <= limit:
        return est
    g = data.get("geometry", {})
    others = [f"{k} = {data.get(t, {})[k]!r}" for t, keys in _SIZE_KEYS.items() for k in keys
              if isinstance(data.get(t), dict) and k in data[t]]
    also = f" (with {', '.join(others)})" if others else ""
    fix = "raise mesh_size_mm" + (f" (or change {', '.join(o.split(' =')[0] for o in others)})" if others else "")
    unk = f"{est.dofs:.1e} unknowns, {est.solver.upper() if est.solver == 'mumps' else est.solver}"
    raise StudyError(f"[geometry] mesh_size_mm = {g.get('mesh_size_mm')!r}{also}: the mesh would need "
                     f"~{est.elements:.1e} elements ({unk}) and ~{est.GiB:.3g} GiB, more than the "
                     f"{limit / GiB:.3g} GiB {what}; {fix} or set [numerics] max_memory_GiB")


RVE_TABLES = ("study", "geometry", "rve", "composite", "li", "carbon", "gpe", "void", "numerics")


def _parse_rve_study(data: dict, name: str):
    """A study with [geometry] model = "rve" (fem/rve/config.py RveStudy): the cell and its materials.
    [li] is optional here and only its elastic constants enter (the creep keys default)."""
    from fem.rve.config import RveStudy
    from meshes.estimate import GiB, available_memory_bytes
    from meshes.rve import LaminateCell, WeaveCell, estimate_cell

    for t in data:
        if t not in RVE_TABLES:
            raise StudyError(f"[{t}]: not used by [geometry] model = \"rve\" (allowed tables: {', '.join(RVE_TABLES)})")
    meta = _read_table("study", data.get("study", {}))
    for k in data["geometry"]:
        if k not in ("model", "mesh_size_mm"):
            raise StudyError(f"[geometry] {k}: not allowed for model = \"rve\" (allowed: mesh_size_mm; the cell "
                             f"follows from [rve] and [composite])")
    if "mesh_size_mm" not in data["geometry"]:
        raise StudyError("[geometry] mesh_size_mm: missing required key (a number, 0 < mesh_size_mm <= 100)")
    h = _check_value("geometry", "mesh_size_mm", SCHEMA["geometry"]["mesh_size_mm"], data["geometry"]["mesh_size_mm"])
    r = _read_table("rve", data.get("rve", {}))
    li_raw = data.get("li", {})
    if isinstance(li_raw, dict):
        li_raw = {**{k: _default(LiCreep, k) for k, key in SCHEMA["li"].items() if key.default is REQUIRED}, **li_raw}
    li = _read_table("li", li_raw)
    if li.pop("law") != "norton":   # the RVE uses the small-strain elastic constants of [li] only
        raise StudyError("[li] law = \"anand\": not used by model = \"rve\" (the cell is elastic; allowed: norton)")
    materials = {"li": LiCreep(**li),
                 "gpe": GelNeoHookean(**_read_table("gpe", data.get("gpe", {}))),
                 "carbon": TowElastic(**_read_table("carbon", data.get("carbon", {}))),
                 "void": SoftVoid(**_read_table("void", data.get("void", {})))}
    num_raw = data.get("numerics", {})
    if isinstance(num_raw, dict):
        for k in num_raw:
            if k != "max_memory_GiB":
                raise StudyError(f"[numerics] {k}: not used by model = \"rve\" (allowed: max_memory_GiB)")
    max_mem = _read_table("numerics", num_raw)["max_memory_GiB"]
    if r["microstructure"] == "laminate":
        if "composite" in data:
            raise StudyError("[composite]: only allowed with [rve] microstructure = \"weave\"")
        for k in ("layer_materials", "layer_thickness_mm"):
            if not r[k]:
                raise StudyError(f"[rve] {k}: missing required key for microstructure = \"laminate\" "
                                 f"({SCHEMA['rve'][k].allowed(k)})")
        try:
            cell = LaminateCell(r["layer_materials"], r["layer_thickness_mm"], mesh_size_mm=h)
        except GeometryError as e:
            raise StudyError(f"[rve] {e}") from None
    else:
        for k in ("layer_materials", "layer_thickness_mm"):
            if k in data.get("rve", {}):
                raise StudyError(f"[rve] {k}: only allowed with microstructure = \"laminate\"")
        c = _read_table("composite", data.get("composite", {}))
        try:
            cell = WeaveCell(CompositeGeometry(diameter_mm=c["reference_diameter_mm"], mesh_size_mm=h, **c))
        except GeometryError as e:
            raise StudyError(f"[composite] {e}") from None
    est = estimate_cell(cell, r["element_degree"])
    limit = max_mem * GiB if max_mem is not None else available_memory_bytes()
    if limit is not None and not est["bytes"] <= limit:
        what = f"[numerics] max_memory_GiB = {max_mem:g}" if max_mem is not None else "memory available now"
        raise StudyError(f"[geometry] mesh_size_mm = {h!r}: the RVE mesh would need ~{est['elements']:.1e} elements "
                         f"({est['dofs']:.1e} unknowns) and ~{est['bytes'] / GiB:.3g} GiB, more than the "
                         f"{limit / GiB:.3g} GiB {what}; raise mesh_size_mm or set [numerics] max_memory_GiB")
    return RveStudy(name=meta["name"] or name, description=meta["description"], cell=cell, materials=materials,
                    element_degree=r["element_degree"], bounds=r["bounds"], max_memory_GiB=max_mem)


def _composite_materials(data: dict) -> dict:
    """The G-LiCFC phases other than Li ([carbon], [gpe], [void]) of a composite study."""
    return {"carbon": TowElastic(**_read_table("carbon", data.get("carbon", {}))),
            "gpe": GelNeoHookean(**_read_table("gpe", data.get("gpe", {}))),
            "void": SoftVoid(**_read_table("void", data.get("void", {})))}


def parse_study(data: dict, name: str = "study") -> Study:
    for t in data:
        if t == "identify":
            raise StudyError("[identify]: this is a one-point identification study: run it with "
                             "`make identify STUDY=...` (fem/workflows/identify.py), not as a plain study")
        if t not in SCHEMA:
            raise StudyError(f"[{t}]: unknown table; allowed tables are {', '.join(SCHEMA)}")
    if isinstance(data.get("geometry"), dict) and data["geometry"].get("model") == "rve":
        return _parse_rve_study(data, name)
    if "rve" in data:   # its values are checked first, so a bad one is named
        _read_table("rve", data["rve"])
        raise StudyError("[rve]: only allowed for [geometry] model = \"rve\"")
    for t in REQUIRED_TABLES:
        if t not in data:
            raise StudyError(f"[{t}]: missing required table" + (" (use [[load]] steps)" if t == "load" else ""))
    meta = _read_table("study", data.get("study", {}))
    g = _read_table("geometry", data["geometry"])
    model = g.pop("model")
    for k in ("ply_rve_mesh_size_mm", "ply_law", "rows_factor", "ply_rve_pores"):
        if k in data["geometry"] and model != "composite_homogenised":
            raise StudyError(f"[geometry] {k}: only allowed for model = \"composite_homogenised\"")
    ply_rve_h, ply_law, rows_factor = g.pop("ply_rve_mesh_size_mm"), g.pop("ply_law"), g.pop("rows_factor")
    ply_rve_pores = g.pop("ply_rve_pores")
    materials = {}
    if "crossing" in data and model != "composite":
        raise StudyError("[crossing]: only allowed for [geometry] model = \"composite\" (the resolved weave's crossings)")
    for t in ("composite", "carbon", "gpe", "void"):
        if t in data and model not in ("composite", "composite_homogenised"):
            raise StudyError(f"[{t}]: only allowed for [geometry] model = \"composite\" or \"composite_homogenised\"")
    if model == "composite_homogenised":
        allowed = ("diameter_mm", "mesh_size_mm", "rim_refinement", "rim_zone_mm", "ply_rve_mesh_size_mm", "ply_law",
                   "rows_factor", "ply_rve_pores")
        for k in data["geometry"]:
            if k not in allowed + ("model",):
                raise StudyError(f"[geometry] {k}: not allowed for model = \"composite_homogenised\" (allowed: "
                                 f"{', '.join(allowed)}; the layers follow from the masses in [composite])")
        c = _read_table("composite", data.get("composite", {}))
        given = data["geometry"]
        rim_zone = given.get("rim_zone_mm", _default(HomogenisedDiscGeometry, "rim_zone_mm"))
        if rim_zone >= 0.5 * g["diameter_mm"]:
            raise StudyError(f"[geometry] rim_zone_mm = {rim_zone:g} is out of range: must be < the "
                             f"radius {0.5 * g['diameter_mm']:g} mm")
        try:
            comp = CompositeGeometry(diameter_mm=g["diameter_mm"], mesh_size_mm=g["mesh_size_mm"], **c)
            geometry = HomogenisedDiscGeometry(
                comp, mesh_size_mm=g["mesh_size_mm"],
                rim_refinement=given.get("rim_refinement", _default(HomogenisedDiscGeometry, "rim_refinement")),
                rim_zone_mm=rim_zone, ply_rve_mesh_size_mm=ply_rve_h, ply_law=ply_law, rows_factor=rows_factor,
                ply_rve_pores=ply_rve_pores)
        except GeometryError as e:
            raise StudyError(f"[composite] {e}") from None
        materials = _composite_materials(data)
    elif model == "composite":
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
            exact_layout(geometry)   # the mesher's layout of the modelled disc (0.03-0.2 s): refuse here, not there
        except GeometryError as e:
            raise StudyError(f"[composite] {e}") from None
        materials = _composite_materials(data)
        cr = _read_table("crossing", data.get("crossing", {}))
        if cr.pop("law") == "bonded":   # li_film (the default) adds nothing: results and fingerprints as before
            materials["crossing"] = CrossingBond(**cr)
        elif set(data.get("crossing", {})) - {"law"}:
            raise StudyError(f"[crossing] {sorted(set(data['crossing']) - {'law'})[0]}: only used with law = \"bonded\"")
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
    li = _read_li(data)
    if model == "composite_homogenised" and geometry.ply_law == "rve_creep":
        from fem.rve.ply_tables import disc_table_path
        tp = disc_table_path(geometry, {"li": li, **materials})
        if not tp.exists():
            raise StudyError(f"[geometry] ply_law = \"rve_creep\": no creep table for this ply ({tp}); build it with "
                             f"`make ply-tables STUDY=<this study>` (15-60 min on one core), or use ply_law = \"elastic\"")
    pl = _read_table("platen", data["platen"])
    if pl["friction"] == "coulomb" and "mu" not in data["platen"]:
        raise StudyError("[platen] mu: missing required key for friction = \"coulomb\" (a number, 0 <= mu <= 10)")
    platen = PlatenSpec(**pl)
    loads = data["load"]
    if not isinstance(loads, list) or not loads:
        raise StudyError("[[load]]: need at least one load step ([[load]] with pressure_MPa or gap_mm, ramp_s, hold_s)")
    fixture = FixtureSpec(**_read_table("fixture", data["fixture"])) if "fixture" in data else None
    warnings = []
    steps = []
    for i, raw in enumerate(loads):
        st = _read_table("load", raw)
        given = [k for k in ("pressure_MPa", "gap_mm", "torque_Nm") if st[k] is not None]
        if fixture is None:
            if st["torque_Nm"] is not None:
                raise StudyError(f"[[load]] step {i + 1} torque_Nm: needs a [fixture] table (the torque sets the "
                                 f"force through its torque_to_force_N fit); without one use pressure_MPa")
            if len(given) != 1:
                raise StudyError(f"[[load]] step {i + 1}: give exactly one of pressure_MPa (force control) "
                                 f"or gap_mm (gap control)")
        else:
            if st["gap_mm"] is not None:
                raise StudyError(f"[[load]] step {i + 1} gap_mm: not allowed with a [fixture] (the screw is "
                                 f"tightened to a force): give torque_Nm or pressure_MPa")
            if len(given) != 1:
                raise StudyError(f"[[load]] step {i + 1}: give exactly one of torque_Nm (force from the [fixture] "
                                 f"fit) or pressure_MPa (force P*pi*R0^2)")
            if st["torque_Nm"] is not None:
                F = fixture.force_from_torque_N(st["torque_Nm"])
                if not F > 0.0:
                    a, b = fixture.torque_to_force_N
                    raise StudyError(f"[[load]] step {i + 1} torque_Nm = {st['torque_Nm']:g} is out of range: the "
                                     f"[fixture] torque_to_force_N fit gives F = {F:g} N; must give F > 0 "
                                     f"(torque_Nm > {-a / b:g})")
                w = fixture.torque_warning(i + 1, st["torque_Nm"], geometry.diameter_mm / 2.0)
                if w:
                    warnings.append(w)
        if st["gap_mm"] is not None and st["gap_mm"] > geometry.thickness_mm:
            raise StudyError(f"[[load]] step {i + 1} gap_mm = {st['gap_mm']:g} is out of range: must be "
                             f"0 < gap_mm <= thickness_mm = {geometry.thickness_mm:g}")
        steps.append(LoadStep(**st))
    tm = TimeSettings(**_read_table("time", data.get("time", {})))
    if model == "composite_homogenised" and geometry.ply_law == "rve_creep" and tm.integrator != "backward_euler":
        # the Hill-Norton return of the fitted ply (fem/physics/creep_point.py LAW_HILL) is backward Euler only
        raise StudyError(f"[time] integrator = \"{tm.integrator}\": ply_law = \"rve_creep\" (the Hill-Norton ply) "
                         f"needs integrator = \"backward_euler\"")
    num = _read_table("numerics", data.get("numerics", {}))
    if model == "composite_homogenised" and num["linear_solver"] == "gamg":
        raise StudyError(f"[numerics] linear_solver = 'gamg' is not allowed with [geometry] model = "
                         f"'composite_homogenised': must be auto or mumps (an axisymmetric path: serial and direct)")
    if model != "axisymmetric" and num["pressure_space"] == "P1+P0":
        raise StudyError(f"[numerics] pressure_space = 'P1+P0' is not allowed with [geometry] model = "
                         f"'{model}': must be P1 (the enriched space is implemented on the axisymmetric path only)")
    if model == "axisymmetric" and num["linear_solver"] == "gamg":
        raise StudyError(f"[numerics] linear_solver = '{num['linear_solver']}' is not allowed with [geometry] "
                         f"model = 'axisymmetric': must be auto or mumps (the axisymmetric path is serial and direct)")
    check_memory(geometry, data, pressure_space=num["pressure_space"] or ("P1+P0" if model == "axisymmetric" else "P1"),
                 linear_solver=num["linear_solver"], max_memory_GiB=num["max_memory_GiB"])
    out = _read_table("output", data.get("output", {}))
    return Study(name=meta["name"] or name, description=meta["description"], geometry=geometry, li=li,
                 platen=platen, load=steps, time=tm, materials=materials,
                 quadrature_degree=num["quadrature_degree"] or (4 if model in ("axisymmetric", "composite_homogenised") else 2),
                 pressure_space=num["pressure_space"] or ("P1+P0" if model == "axisymmetric" else "P1"),
                 linear_solver=num["linear_solver"], reuse_factorisation=num["reuse_factorisation"],
                 max_memory_GiB=num["max_memory_GiB"], min_J=num["min_J"],
                 write_fields=out["fields"], snapshot_growth=out["snapshot_growth"],
                 checkpoint_every_steps=out["checkpoint_every_steps"], checkpoint_every_s=out["checkpoint_every_s"],
                 fixture=fixture, warnings=warnings)


def _li_tables(li) -> dict:
    """The study tables of the Li material: {"li": ...} for Norton (as before the Anand law), or
    {"li": elasticity, temperature and law, "anand": the flow law} (the keys of the study file)."""
    d = asdict(li)
    if not isinstance(li, LiAnand):
        return {"li": d}
    base = ("youngs_modulus_MPa", "poisson_ratio", "temperature_K")
    return {"li": {**{k: d.pop(k) for k in base}, "law": "anand"}, "anand": d}


NORTON_ONLY_KEYS = ("creep_A", "creep_n", "threshold_stress_MPa", "activation_energy_J_per_mol",
                    "reference_temperature_K")


def _read_li(data: dict):
    """The Li material: LiCreep (Norton, [li] law = "norton", the default) or LiAnand ([li] law =
    "anand" with the optional [anand] table; elasticity and temperature from [li])."""
    raw = data["li"]
    law = "norton"
    if isinstance(raw, dict) and "law" in raw:   # checked first: the other keys depend on it
        law = _check_value("li", "law", SCHEMA["li"]["law"], raw["law"])
    if law != "anand":
        if "anand" in data:
            _read_table("anand", data["anand"])   # its values are checked first, so a bad one is named
            raise StudyError("[anand]: only used with [li] law = \"anand\"")
        li = _read_table("li", raw)
        li.pop("law")
        return LiCreep(**li)
    for k in NORTON_ONLY_KEYS:
        if k in raw:
            raise StudyError(f"[li] {k}: not used with law = \"anand\" (the flow law is in [anand])")
    li = _read_table("li", {**{k: _default(LiCreep, k) for k in ("creep_A", "creep_n")}, **raw})
    an = _read_table("anand", data.get("anand", {}))
    try:
        return LiAnand(youngs_modulus_MPa=li["youngs_modulus_MPa"], poisson_ratio=li["poisson_ratio"],
                       temperature_K=li["temperature_K"], **an)
    except ValueError as e:   # cross-key rules (e.g. saturation_exponent < 1/hardening_exponent)
        raise StudyError(f"[anand] {str(e).removeprefix('LiAnand.')}") from None


def _one_line(text: str) -> str:
    """`text` on one line (TOML error messages may carry newlines)."""
    return " ".join(str(text).split())


def read_study_toml(path: str | Path) -> dict:
    """The parsed TOML tables of a study file. Every way the file can be unreadable (missing, a
    directory, no permission, not UTF-8, malformed TOML, any other OS error) raises StudyError with
    one line naming the file and the problem; used by load_study and fem.workflows.sweep.load_sweep."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise StudyError(f"{path}: study file not found") from None
    except IsADirectoryError:
        raise StudyError(f"{path}: is a directory, not a study file") from None
    except PermissionError:
        raise StudyError(f"{path}: cannot read study file (permission denied)") from None
    except OSError as e:
        raise StudyError(f"{path}: cannot read study file ({_one_line(e.strerror or e)})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        raise StudyError(f"{path}: not a UTF-8 text file (byte 0x{raw[e.start]:02x} at line {line}, "
                         f"offset {e.start}); save the study file as UTF-8") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise StudyError(f"{path}: malformed TOML: {_one_line(e)}") from None
    except RecursionError:   # pathologically nested arrays or inline tables
        raise StudyError(f"{path}: malformed TOML: nested too deeply") from None


def load_study(path: str | Path) -> Study:
    path = Path(path)
    data = read_study_toml(path)
    try:
        return parse_study(data, name=path.stem)
    except StudyError as e:
        raise StudyError(f"{path}: {e}") from None
