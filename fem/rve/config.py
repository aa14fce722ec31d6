"""An RVE study (`[geometry] model = "rve"`, table `[rve]`; parsed by fem/study.py): the cell, the
materials of its phases and the solver settings. Units: mm, MPa."""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field

import numpy as np

from meshes.common import CARBON_WARP, CARBON_WEFT, GPE, LI, VOID
from meshes.rve import LaminateCell, WeaveCell

MICROSTRUCTURES = ("weave", "laminate")
MATERIAL_TABLES = ("li", "gpe", "carbon", "void")


@dataclass
class RveStudy:
    name: str
    cell: LaminateCell | WeaveCell
    materials: dict = field(default_factory=dict)   # "li", "gpe", "carbon", "void" -> material dataclass
    element_degree: int = 2
    bounds: bool = True           # also KUBC and SUBC on the same mesh
    max_memory_GiB: float | None = None
    description: str = ""
    warnings: list = field(default_factory=list)   # validation warnings (none for an RVE)

    @property
    def model(self) -> str:
        return "rve"

    @property
    def microstructure(self) -> str:
        return "laminate" if isinstance(self.cell, LaminateCell) else "weave"

    @property
    def mesh_size_mm(self) -> float:
        return self.cell.mesh_size_mm if isinstance(self.cell, LaminateCell) else self.cell.composite.mesh_size_mm

    def to_dict(self) -> dict:
        rve = {"microstructure": self.microstructure, "element_degree": self.element_degree, "bounds": self.bounds}
        d = {"name": self.name, "description": self.description,
             "geometry": {"model": "rve", "mesh_size_mm": self.mesh_size_mm}, "rve": rve,
             **{k: asdict(v) for k, v in self.materials.items()},
             "numerics": {"max_memory_GiB": self.max_memory_GiB}}
        if isinstance(self.cell, LaminateCell):
            rve["layer_materials"] = list(self.cell.layer_materials)
            rve["layer_thickness_mm"] = list(self.cell.layer_thickness_mm)
        else:
            d["composite"] = asdict(self.cell.composite)
        return d

    def fingerprint(self) -> str:
        d = self.to_dict()
        d.pop("name"); d.pop("description"); d.pop("numerics")
        return hashlib.sha1(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]

    def tag_materials(self) -> dict:
        """{cell tag: material} of the mesh of meshes/rve.py."""
        m = self.materials
        return {LI: m["li"], GPE: m["gpe"], VOID: m["void"], CARBON_WARP: m["carbon"], CARBON_WEFT: m["carbon"]}

    def fibre_direction(self) -> dict:
        """{tow cell tag: callable x -> (3, n)}: the crimped tows of the weave; fibres along x in a
        laminate's carbon layer (a unidirectional ply of tow material)."""
        if isinstance(self.cell, WeaveCell):
            return self.cell.fibre_direction()
        along_x = lambda x: np.vstack([np.ones(x.shape[1]), np.zeros(x.shape[1]), np.zeros(x.shape[1])])  # noqa: E731
        return {CARBON_WARP: along_x}
