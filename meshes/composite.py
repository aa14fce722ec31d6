"""G-LiCFC composite disc (Li / carbon-fibre cloth / gel polymer electrolyte), built with Gmsh OCC.

Geometry (lengths in mm; z axial, x, y in-plane)
-------------------------------------------------
Stack, from bottom to top: GPE skin | Li region | GPE skin. The Li region (thickness T between
the skins) holds a plain-weave carbon-fibre cloth whose tows are completely embedded in Li
(the Li fills the space between and around the tows; what does not fit into the cloth pores
forms a dense Li overlayer above and below the cloth), plus closed pores ("voids").

* Tows: homogenised fibre bundles (fibre volume fraction `fiber_volume_fraction`), elliptical
  cross-section `tow_width_mm` x `tow_height_mm` in VERTICAL planes (x = const for a warp tow),
  swept along a sinusoidal crimp path with Gmsh `addThruSections` through ellipses spaced
  tow_pitch/`sections_per_pitch`. Warp tow j runs along x at y = j*p with centre line
  z = z_mid + a (-1)^j cos(pi x / p); weft tow i runs along y at x = i*p with
  z = z_mid - a (-1)^i cos(pi y / p). At crossing (i, j) the warp is on top when i + j is even.
  With vertical sections the tow volume is exactly (pi/4) w h times the tow length in plan,
  independent of the crimp.
* Crimp amplitude a (`crimp_amplitude_mm`, default None): the smallest amplitude that keeps
  crossing tows at least `tow_gap_mm` apart everywhere (computed on a 201 x 201 grid over the
  crossing footprint; for an ellipse with w > 0.64 p it exceeds (h + gap)/2). The tows never touch,
  so the OCC fragment is conformal without coincident or tangent faces. Cloth thickness = 2 a + h.
* Li region thickness T is set by mass balance: T * A = V_tow + V_li + V_void. The tow crests
  must stay at least `tow_gap_mm` below the GPE skin (else GeometryError on li_mass_mg).
* Voids: closed pores meshed as a soft phase (cell tag VOID, so the solver can give them a
  compliant material or drop them with a submesh to get holes; their surfaces carry facet tag
  VOID_SURFACE). One pore sits in each weave window fully inside the disc, centred at
  ((i + 1/2) p, (j + 1/2) p, z_mid), i.e. in the Li column between four tows: a sphere when it
  fits, else a spheroid of horizontal radius (p - w)/2 - gap (vertical half-axis <= T/2 - gap;
  GeometryError on void_fraction, with the largest feasible value, beyond). All pores have the same
  volume V_void / n_pores. `void_fraction` is the pore volume over the Li-region volume
  (tows + Li + voids), i.e. the internal porosity of the LiCFC.
* Symmetry: the quarter disc (default) is x >= 0, y >= 0; the plane x = 0 runs along the centre
  line of weft tow 0 and y = 0 along warp tow 0. These are exact mirror planes of the weave
  (the crimp is even in x and y), so u_x = 0 / u_y = 0 there is exact for the cloth.
  `use_symmetry` (default False) models only z >= z_mid (the cloth mid-plane at z = 0). This is
  an APPROXIMATION: a plain weave is not mirror-symmetric about its mid-plane (z -> -z maps
  warp-over to warp-under); only the volumes are symmetric.
* Without `use_symmetry` z = 0 is the bottom face (bottom platen), as in the other builders.
* The masses are per disc of `reference_diameter_mm` (15 mm, the paper's disc); the modelled
  disc `diameter_mm` may be smaller (coarse tests) and gets the same areal loadings.

Tags (Gmsh physical groups, DOLFINx cell_tags/facet_tags):
    cells   1 LI, 2 CARBON (= CARBON_WARP, tows along x), 3 GPE, 4 VOID, 5 CARBON_WEFT (tows along y)
    facets  1 BOTTOM (z = 0: bottom face or mid-plane), 2 TOP, 4 RIM, 5 SYM_X (x = 0), 6 SYM_Y (y = 0),
            7 VOID_SURFACE (pore walls, interior facets)
`tow_tangent(x, y, z, family, pitch_mm, crimp_amplitude_mm)` gives the local unit fibre direction
(including the crimp slope) for a transversely isotropic tow material; `tangent_function(report, family)`
wraps it for `dolfinx.fem.Function.interpolate`.

Volume accounting (all targets per modelled region, see `target_volumes`):
    V_fibre = m_cfc / rho_carbon, V_tow = V_fibre / vf           (CARBON cells, homogenised tows)
    V_li_total = m_li / rho_li, Li inside tows = tow_li_fill (1 - vf) V_tow, V_LI = rest (LI cells)
    V_void = f/(1 - f) (V_tow + V_LI)                                 (VOID cells)
    V_gpe = m_gpe / rho_gpe, half in each skin (GPE cells); an explicit gpe_thickness_mm overrides the mass
The free tow dimension (height, or width when tow_height_mm is given) is solved by a fixed-point
iteration on the exact volume of the tows inside the modelled region (`tow_volume`: vertical
sections make it a 2D integral, evaluated by quadrature), so tows cut by the rim or the planes
count correctly. Li, voids and GPE follow by construction. The achieved volumes are then read with
occ.getMass after the fragment (before meshing) and reported with their relative errors; the build
fails (RuntimeError) if any phase is off by more than 2 %. Observed: carbon 1e-5, Li 5e-5 for the
quarter disc; ~1e-3 for the full disc, where getMass integrates the Li volume (a cylinder whose rim
face is pierced by many tows) less accurately (its meshed volume agrees with the quarter disc).

Rim: a tow that the rim would cut at less than RIM_MIN_ANGLE_DEG (10 deg) from its side (every tow
straddling the point where the rim is parallel to it, e.g. warp tows with |y| + w/2 close to R
near x = 0) is left out, because that sliver makes Gmsh fail with "overlapping facets". With the
defaults (R = 7.5, p = 1) no tow is dropped; modelled diameters such as 4 mm do drop one, then the
other tows get thicker to hold the carbon.

Meshing: linear tetrahedra (Delaunay 2D and 3D), size `mesh_size_mm` everywhere, optionally finer
in the tows (`mesh_size_tow_mm`) and in the pores (`mesh_size_pore_mm`).
Tow sections are built from two half-ellipses joined at the tips, so each swept tow piece has an
upper and a lower face and the sharp tow edges (tips) are model curves. With one closed ellipse per
section (MESH_CACHE_VERSION 1) the lateral face was one periodic BSpline face whose tips (radius of
curvature ~6 um) the 2D Delaunay in the parametric plane could not follow at sizes above the tow height:
triangles straddled the tips ("elements remain invalid" warnings on most tow faces) and at the
section planes x or y = (i + 1/2) p, where the tow pieces join, some faces got a triangle with all
three nodes on the end ellipse, i.e. the same triangle as the planar section face: Gmsh 3D then failed
with "overlapping facets" (15 mm and 9 mm quarter discs at 0.3 mm, 15 mm also at 0.2 mm), and some tow
faces were over-refined (thousands of triangles). With the split sections these warnings are gone.
Fallback: if Gmsh still fails (seen: 15 mm disc at mesh_size 0.4, "a segment and a facet intersect":
the chordal error of facets ~0.4 mm long on the crimped tows exceeds the tow_gap_mm film between
crossing tows), `build_msh` rebuilds in a fresh Gmsh session with the tow size times
MESH_RETRY_TOW_FACTOR (0.8), up to MESH_RETRIES (2) times; report["mesh_attempts"] lists the tries. Tow tips (radius of
curvature (h/2)^2/(w/2), a few um) are not resolved, so the MESHED tow volume is smaller than the
geometric one: about -3 % (size 0.1), -2 % (tow size 0.07), -1 % (tow size 0.05), -10 % (0.2);
the meshed Li is larger by the same amount, the meshed pores are 2-10 % small. The report gives
`mesh_volumes_mm3` and `mesh_rel_error` so a solver can correct (e.g. scale the tow fibre volume
fraction). A handful of sliver tets remain (min SICN ~0.02); `optimize_netgen=True` removes most of
them at 2-2.5x the meshing time. Timings on a shared (loaded) 2-core machine: full quarter disc with
the defaults 318k tets in 34 s wall / 25 s CPU (fragment 15 s, mesh 17 s; measured with
MESH_CACHE_VERSION 1). With the split tow sections and void_fraction = 0.01: 15 mm quarter disc at
mesh_size 0.3 / 0.25 / 0.2 / 0.15: 34k / 59k / 75k / 127k tets, 19 / 20 / 24 / 24 s wall (fragment
12-14 s); 6 mm at 0.3: 5.5k tets in 3 s; 3 mm at 0.3: 1.5k tets in 2 s; 5 mm at 0.2: 8.5k tets in 3 s.
"""
from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

# tags (CARBON_WARP = 2: tows along x, CARBON_WEFT = 5: tows along y, VOID_SURFACE = 7: pore walls; all
# tags: meshes/common.py), the geometry error and the cache/loading helpers; re-exported here
from .common import (BOTTOM, CARBON, CARBON_WARP, CARBON_WEFT, CROSSING, GPE, LI, RIM, SYM_X, SYM_Y, TOP, VOID,  # noqa: F401
                     VOID_SURFACE, GeometryError, cache_dir_path, classify_boundary, on_root, read_msh)
from .common import cached_msh_with_report, write_msh
from .common import COMPOSITE_CELL_NAMES as CELL_NAMES, COMPOSITE_FACET_NAMES as FACET_NAMES
from .gmsh_session import gmsh_model

RIM_MIN_ANGLE_DEG = 10.0  # tows cut by the rim at a smaller angle are left out (see _tow_extent)
MESH_CACHE_VERSION = 2  # bump when the builder changes so old cached meshes are not reused
MESH_RETRIES = 2             # build_msh: extra meshing attempts after a Gmsh failure ...
MESH_RETRY_TOW_FACTOR = 0.8  # ... each with the tow element size times this factor

# GPE = PVDF-HFP : LiTFSI : EMITFSI = 5 : 5 : 7 by mass (paper, Section 4.1). Component densities are
# ASSUMPTIONS (typical handbook/vendor values, not in the paper): PVDF-HFP 1.77, LiTFSI 1.33, EMITFSI 1.52 g/cm3.
GPE_COMPONENTS = {"PVDF-HFP": (5.0, 1.77), "LiTFSI": (5.0, 1.33), "EMITFSI": (7.0, 1.52)}


def mixture_density(components: dict[str, tuple[float, float]]) -> float:
    """Density of an ideal (volume-additive) mixture from {name: (mass parts, density)}: 1/rho = sum w_i/rho_i."""
    total = sum(m for m, _ in components.values())
    return total / sum(m / rho for m, rho in components.values())


GPE_DENSITY = mixture_density(GPE_COMPONENTS)  # = 1.519 g/cm3

# One line per defaulted field: where the number comes from.
DEFAULT_SOURCES = {
    "diameter_mm": "paper: 15 mm discs (Section 4.1, Fig. 4); modelled region = full quarter disc",
    "reference_diameter_mm": "paper: masses are averages per 15 mm disc (area 1.767 cm2; paper rounds to 1.76)",
    "li_mass_mg": "paper: LiCFC 38.9 mg - CFC 21.6 mg = 17.3 mg Li per disc",
    "cfc_mass_mg": "paper: pristine CFC 21.6 mg per disc (12.2 mg/cm2)",
    "gpe_mass_mg": "paper: G-LiCFC 66.7 mg - LiCFC 38.9 mg = 27.8 mg GPE per disc (derived)",
    "carbon_density": "typical PAN carbon fibre density 1.76-1.8 g/cm3 (datasheet values); 1.78 taken",
    "li_density": "paper/handbook: 0.534 g/cm3",
    "gpe_density": "ASSUMPTION: ideal mixture of PVDF-HFP 1.77, LiTFSI 1.33, EMITFSI 1.52 g/cm3 at 5:5:7 by mass -> 1.519",
    "tow_pitch_mm": "ASSUMPTION: 1K tows (66 tex) at 12.2 mg/cm2 areal weight give pitch = 2*tex/areal = 1.08 mm; 1.0 taken",
    "tow_width_mm": "ASSUMPTION: open plain weave, width/pitch = 0.75 (windows hold the pores)",
    "tow_height_mm": "derived: solved so the tow volume = carbon volume / fiber_volume_fraction",
    "fiber_volume_fraction": "ASSUMPTION: typical fibre volume fraction inside a carbon tow, 0.6",
    "tow_li_fill": "ASSUMPTION: molten Li wets the coated fibres and fills the pores inside the tows (paper: Li between fibres)",
    "tow_gap_mm": "ASSUMPTION (numerical): 10 um minimum Li film between crossing tows and above tow crests",
    "crimp_amplitude_mm": "derived: smallest amplitude keeping tow_gap_mm between crossing tows",
    "gpe_thickness_mm": "derived: GPE volume / (2 * disc area), one skin on each face (paper: GPE wraps the cloth)",
    "void_fraction": "ASSUMPTION: paper reports internal voids (XRM, Fig. S3) without a number; 2 % of the Li region (tows + Li + pores)",
    "li_overlayer_max_mm": "ASSUMPTION: validation bound for the dense Li layer over the cloth, per side",
}


@dataclass(frozen=True)
class CompositeGeometry:
    diameter_mm: float = 15.0             # modelled disc diameter
    reference_diameter_mm: float = 15.0   # disc on which the masses were measured
    li_mass_mg: float = 17.3
    cfc_mass_mg: float = 21.6
    gpe_mass_mg: float = 27.8
    carbon_density: float = 1.78          # g/cm3 (= mg/mm3)
    li_density: float = 0.534
    gpe_density: float = GPE_DENSITY
    tow_pitch_mm: float = 1.0             # centre-to-centre distance of parallel tows (same for warp and weft)
    tow_width_mm: float | None = 0.75     # None: solved from cfc_mass_mg (then tow_height_mm must be given)
    tow_height_mm: float | None = None    # None: solved from cfc_mass_mg
    fiber_volume_fraction: float = 0.6    # carbon fibre volume / tow volume
    tow_li_fill: float = 1.0              # fraction of the intra-tow pore space filled with Li (counted in the Li mass)
    tow_gap_mm: float = 0.01              # minimum clearance tow-tow at crossings, tow crest-GPE, pore-tow, pore-GPE
    crimp_amplitude_mm: float | None = None  # None: the smallest amplitude that keeps tow_gap_mm at crossings
    gpe_thickness_mm: float | None = None    # per skin; None: from gpe_mass_mg; 0: no GPE
    void_fraction: float = 0.02           # pore volume / Li-region volume (tows + Li + pores), in [0, 1)
    li_overlayer_max_mm: float = 0.25     # upper bound of the dense Li layer above (and below) the cloth
    mesh_size_mm: float = 0.1
    mesh_size_tow_mm: float | None = None  # element size in and on the tows; None: mesh_size_mm
    mesh_size_pore_mm: float | None = None  # element size in and on the pores; None: max(circumference/24, mesh_size/3)
    mesh_size_min_mm: float | None = None  # None: mesh_size / 10
    optimize_netgen: bool = False         # Netgen optimisation pass: removes most sliver tets (2-2.5x meshing time)
    sections_per_pitch: int = 4           # ellipse sections per tow pitch in addThruSections (even)
    use_symmetry: bool = False            # model z >= cloth mid-plane only (approximate for a weave, see docstring)
    quarter: bool = True                  # quarter disc x >= 0, y >= 0

    def __post_init__(self):
        def positive(name, allow_zero=False, optional=False):
            v = getattr(self, name)
            if optional and v is None:
                return
            ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and (
                v >= 0 if allow_zero else v > 0)
            if not ok:
                rng = ">= 0" if allow_zero else "> 0"
                raise GeometryError(f"{name} = {v!r}: must be a finite number {rng}" + (" or None" if optional else ""))

        for n in ("diameter_mm", "reference_diameter_mm", "li_mass_mg", "cfc_mass_mg", "carbon_density",
                  "li_density", "gpe_density", "tow_pitch_mm", "tow_gap_mm", "li_overlayer_max_mm", "mesh_size_mm"):
            positive(n)
        positive("gpe_mass_mg", allow_zero=True)
        positive("gpe_thickness_mm", allow_zero=True, optional=True)
        for n in ("tow_width_mm", "tow_height_mm", "crimp_amplitude_mm", "mesh_size_tow_mm", "mesh_size_pore_mm",
                  "mesh_size_min_mm"):
            positive(n, optional=True)
        if (self.tow_width_mm is None) == (self.tow_height_mm is None):
            raise GeometryError(f"tow_height_mm = {self.tow_height_mm!r}: exactly one of tow_width_mm, tow_height_mm "
                                "must be None (the one solved from cfc_mass_mg)")
        if not (0.0 < self.fiber_volume_fraction <= 1.0):
            raise GeometryError(f"fiber_volume_fraction = {self.fiber_volume_fraction!r}: must be in (0, 1]")
        if not (0.0 <= self.tow_li_fill <= 1.0):
            raise GeometryError(f"tow_li_fill = {self.tow_li_fill!r}: must be in [0, 1]")
        if not (isinstance(self.void_fraction, (int, float)) and 0.0 <= self.void_fraction < 1.0):
            raise GeometryError(f"void_fraction = {self.void_fraction!r}: must be in [0, 1)")
        if self.mesh_size_min_mm is not None and self.mesh_size_min_mm > self.mesh_size_mm:
            raise GeometryError(f"mesh_size_min_mm = {self.mesh_size_min_mm}: must be in (0, mesh_size_mm = {self.mesh_size_mm}]")
        if not (isinstance(self.sections_per_pitch, int) and self.sections_per_pitch >= 4
                and self.sections_per_pitch % 2 == 0):
            raise GeometryError(f"sections_per_pitch = {self.sections_per_pitch!r}: must be an even integer >= 4")
        if self.tow_width_mm is not None and self.tow_width_mm >= self.tow_pitch_mm:
            raise GeometryError(f"tow_width_mm = {self.tow_width_mm}: must be in (0, tow_pitch_mm = {self.tow_pitch_mm}) "
                                "(tows wider than the pitch)")
        if self.diameter_mm > self.reference_diameter_mm * 1.0000001:
            raise GeometryError(f"diameter_mm = {self.diameter_mm}: must be in (0, reference_diameter_mm = "
                                f"{self.reference_diameter_mm}]")
        self.derived()  # feasibility of the masses and of the weave (raises GeometryError)

    # ---- plain properties -------------------------------------------------------------------
    @property
    def radius_mm(self) -> float:
        return 0.5 * self.diameter_mm

    @property
    def thickness_mm(self) -> float:
        """Composite thickness (Li region + both GPE skins), from the areal balances (mm)."""
        ar = self.areal()
        return ar["li_region"] + 2.0 * ar["gpe_skin"]

    @property
    def height_mm(self) -> float:
        """Modelled height: z from 0 to the top face (the cloth mid-plane is z = 0 with use_symmetry)."""
        ar = self.areal()
        return 0.5 * ar["li_region"] + ar["gpe_skin"] if self.use_symmetry else self.thickness_mm

    @property
    def area_mm2(self) -> float:
        """Plan area of the modelled region (quarter or full disc)."""
        a = math.pi * self.radius_mm ** 2
        return 0.25 * a if self.quarter else a

    @property
    def reference_area_mm2(self) -> float:
        return math.pi * (0.5 * self.reference_diameter_mm) ** 2

    def key(self) -> str:
        payload = json.dumps({"v": MESH_CACHE_VERSION, **asdict(self)}, sort_keys=True)
        return hashlib.sha1(payload.encode()).hexdigest()[:16]

    # ---- analytic (infinite cloth) design -----------------------------------------------------
    def areal(self) -> dict:
        """Areal volumes (mm3 per mm2 of disc = mm of dense thickness) from the masses."""
        A = self.reference_area_mm2
        fibre = self.cfc_mass_mg / self.carbon_density / A
        tow = fibre / self.fiber_volume_fraction
        li_total = self.li_mass_mg / self.li_density / A
        li_in_tows = self.tow_li_fill * (1.0 - self.fiber_volume_fraction) * tow
        li = li_total - li_in_tows
        void = self.void_fraction / (1.0 - self.void_fraction) * (tow + li)
        if self.gpe_thickness_mm is None:
            gpe_skin = self.gpe_mass_mg / self.gpe_density / A / 2.0
        else:
            gpe_skin = self.gpe_thickness_mm
        return {"fibre": fibre, "tow": tow, "li_total": li_total, "li_in_tows": li_in_tows, "li": li,
                "void": void, "gpe_skin": gpe_skin, "li_region": tow + li + void}

    def derived(self, tow_width_mm: float | None = None, tow_height_mm: float | None = None) -> dict:
        """Analytic design for an infinite cloth (areal balances); raises GeometryError when infeasible.

        The free tow dimension is solved from the areal tow volume 2 (pi/4) w h / p. Pass
        tow_width_mm/tow_height_mm to evaluate a given pair (used by the volume solve)."""
        p, g = self.tow_pitch_mm, self.tow_gap_mm
        ar = self.areal()
        k = 2.0 * (math.pi / 4.0) / p  # areal tow volume per (w h)
        if tow_width_mm is not None and tow_height_mm is not None:
            w, h = tow_width_mm, tow_height_mm
        elif self.tow_height_mm is None:
            w = self.tow_width_mm
            h = ar["tow"] / (k * w)
        else:
            h = self.tow_height_mm
            w = ar["tow"] / (k * h)
        if w >= p:
            raise GeometryError(f"cfc_mass_mg = {self.cfc_mass_mg}: solved tow width {w:.4g} mm must be < tow_pitch_mm = {p}; "
                                "lower the carbon mass or raise tow_height_mm / fiber_volume_fraction")
        if h >= w:
            raise GeometryError(f"cfc_mass_mg = {self.cfc_mass_mg}: tow height {h:.4g} mm must be < tow width {w:.4g} mm "
                                "(flat tows); lower the carbon mass or raise tow_width_mm / fiber_volume_fraction")
        if ar["li"] <= 0.0:
            raise GeometryError(f"li_mass_mg = {self.li_mass_mg}: must exceed the Li held inside the tows "
                                f"({ar['li_in_tows'] * self.reference_area_mm2 * self.li_density:.3g} mg); lower tow_li_fill")
        a_min = min_crimp_amplitude(w, h, p, g)
        if self.crimp_amplitude_mm is None:
            a = a_min
        elif self.crimp_amplitude_mm < a_min * (1 - 1e-9):
            raise GeometryError(f"crimp_amplitude_mm = {self.crimp_amplitude_mm}: must be >= {a_min:.4g} mm "
                                "(crossing tows would overlap)")
        else:
            a = self.crimp_amplitude_mm
        cloth = 2.0 * a + h
        T = ar["li_region"]
        over = 0.5 * (T - cloth)
        if over < g:
            # Li + pores do not fill the cloth up to tow_gap above the crests; f_min would
            need = cloth + 2 * g
            f_min = 1.0 - (ar["tow"] + ar["li"]) / need
            raise GeometryError(
                f"li_mass_mg = {self.li_mass_mg}: Li + pores fill {T:.4g} mm but the cloth needs >= {need:.4g} mm "
                f"(cloth {cloth:.4g} + 2 x tow_gap); raise li_mass_mg or void_fraction (>= {f_min:.3g}), or lower the crimp")
        if over > self.li_overlayer_max_mm:
            raise GeometryError(f"li_mass_mg = {self.li_mass_mg}: dense Li overlayer {over:.4g} mm per side exceeds "
                                f"li_overlayer_max_mm = {self.li_overlayer_max_mm}")
        pores = self._pores(w, T)
        return {"tow_width_mm": w, "tow_height_mm": h, "crimp_amplitude_mm": a, "crimp_amplitude_min_mm": a_min,
                "cloth_thickness_mm": cloth, "li_region_thickness_mm": T, "li_overlayer_mm": over,
                "gpe_thickness_mm": ar["gpe_skin"], "areal_mm": ar, **pores}

    def _pores(self, w: float, T: float, v_model: float | None = None) -> dict:
        """Pore count and semi-axes for the void target (centres in the weave windows).

        v_model: pore volume in the modelled region (default f T A, halved with symmetry)."""
        if self.void_fraction == 0.0:
            return {"n_pores": 0, "pore_radius_mm": 0.0, "pore_half_height_mm": 0.0, "pore_centres": []}
        p, g, R = self.tow_pitch_mm, self.tow_gap_mm, self.radius_mm
        r_max = 0.5 * (p - w) - g
        c_max = 0.5 * T - g
        if r_max <= 0.0:
            raise GeometryError(f"void_fraction = {self.void_fraction}: no room for pores between tows "
                                f"(tow_width_mm must be < tow_pitch_mm - 2 tow_gap_mm = {p - 2 * g:.4g}); use void_fraction = 0")
        centres = window_centres(p, R, r_max + g, self.quarter)
        if not centres:
            raise GeometryError(f"diameter_mm = {self.diameter_mm}: too small to hold a pore; must be >= "
                                f"{2 * (math.hypot(0.5 * p, 0.5 * p) + r_max + g):.3g} or void_fraction = 0")
        vol_model = v_model if v_model is not None else (
            self.void_fraction * T * self.area_mm2 * (0.5 if self.use_symmetry else 1.0))
        v_each = vol_model / len(centres) / (0.5 if self.use_symmetry else 1.0)  # full pore volume
        r_sphere = (3.0 * v_each / (4.0 * math.pi)) ** (1.0 / 3.0)
        if r_sphere <= min(r_max, c_max):
            r = c = r_sphere
        else:
            r = r_max
            c = v_each / (4.0 / 3.0 * math.pi * r * r)
            if c > c_max:
                f_max = len(centres) * 4.0 / 3.0 * math.pi * r_max ** 2 * c_max / (T * self.area_mm2)
                raise GeometryError(f"void_fraction = {self.void_fraction}: pores do not fit the weave windows; "
                                    f"must be in [0, {f_max:.3g}] for this weave")
        return {"n_pores": len(centres), "pore_radius_mm": r, "pore_half_height_mm": c, "pore_centres": centres}


def min_crimp_amplitude(w: float, h: float, p: float, gap: float, n: int = 201) -> float:
    """Smallest crimp amplitude a with vertical clearance >= gap between crossing tows.

    Over the crossing footprint |dx|, |dy| < w/2 the clearance is
    a (cos(pi dx/p) + cos(pi dy/p)) - h/2 (e(dx) + e(dy)), e(u) = sqrt(1 - (2u/w)^2)."""
    u = np.linspace(0.0, 0.5 * w, n)
    X, Y = np.meshgrid(u, u)
    e = lambda t: np.sqrt(np.clip(1.0 - (2.0 * t / w) ** 2, 0.0, None))  # noqa: E731
    den = np.cos(np.pi * X / p) + np.cos(np.pi * Y / p)
    return float(np.max((gap + 0.5 * h * (e(X) + e(Y))) / den)) * (1.0 + 1e-6)


def window_centres(p: float, R: float, reach: float, quarter: bool) -> list[tuple[float, float]]:
    """Weave-window centres ((i + 1/2) p, (j + 1/2) p) whose disc of radius `reach` lies inside r <= R."""
    n = int(math.ceil(R / p)) + 1
    idx = range(0, n) if quarter else range(-n, n)
    out = []
    for i in idx:
        for j in idx:
            x, y = (i + 0.5) * p, (j + 0.5) * p
            if math.hypot(x, y) + reach <= R:
                out.append((x, y))
    return out


def target_volumes(geo: CompositeGeometry) -> dict:
    """Target volume (mm3) of each phase in the modelled region, from the masses and densities.

    Keys: carbon (homogenised tows), li (outside tows), void, gpe, total, plus fibre and li_in_tows."""
    ar = geo.areal()
    A = geo.area_mm2 * (0.5 if geo.use_symmetry else 1.0)
    gpe_skins = 1 if geo.use_symmetry else 2
    out = {"carbon": ar["tow"] * A, "li": ar["li"] * A, "void": ar["void"] * A,
           "gpe": ar["gpe_skin"] * geo.area_mm2 * gpe_skins}
    out["total"] = sum(out.values())
    out["fibre"] = ar["fibre"] * A
    out["li_in_tows"] = ar["li_in_tows"] * A
    return out


def tow_tangent(x, y, z, family: int, pitch_mm: float, crimp_amplitude_mm: float) -> np.ndarray:
    """Unit fibre direction (3, n) of a warp (CARBON_WARP, along x) or weft (CARBON_WEFT, along y) tow at
    points (x, y, z), including the crimp slope. The tow index is taken as the nearest centre line."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    p, a = pitch_mm, crimp_amplitude_mm
    t = np.zeros((3,) + np.broadcast(x, y).shape)
    if family == CARBON_WARP:
        s = np.where(np.rint(y / p).astype(int) % 2 == 0, 1.0, -1.0)
        t[0] = 1.0
        t[2] = -a * s * (np.pi / p) * np.sin(np.pi * x / p)
    elif family == CARBON_WEFT:
        s = np.where(np.rint(x / p).astype(int) % 2 == 0, 1.0, -1.0)
        t[1] = 1.0
        t[2] = a * s * (np.pi / p) * np.sin(np.pi * y / p)
    else:
        raise ValueError(f"family = {family!r}: must be CARBON_WARP ({CARBON_WARP}) or CARBON_WEFT ({CARBON_WEFT})")
    return t / np.linalg.norm(t, axis=0)


def tangent_function(report: dict, family: int):
    """Callable x -> (3, n) tangent for `Function.interpolate(f, cells0=cell_tags.find(family))`."""
    p = report["solved"]["tow_pitch_mm"]
    a = report["solved"]["crimp_amplitude_mm"]
    return lambda x: tow_tangent(x[0], x[1], x[2], family, p, a)


# ---- OCC construction -------------------------------------------------------------------------
def _tow_extent(c: float, w: float, R: float, p: float, quarter: bool) -> tuple[float, float] | None:
    """Range along a tow whose centre line is at transverse offset c, or None when the tow is dropped.

    The rim cuts a tow's side at the angle acos(y_out / R), y_out the outermost transverse offset of
    the tow inside the disc; below RIM_MIN_ANGLE_DEG the cut face is a sliver that Gmsh cannot mesh
    (overlapping facets), so such tows (all tows straddling the tangent point of the rim) are left out."""
    near = max(0.0, abs(c) - 0.5 * w)
    y_out = min(abs(c) + 0.5 * w, R)
    if near >= R or y_out > R * math.cos(math.radians(RIM_MIN_ANGLE_DEG)):
        return None
    L = math.sqrt(R * R - near * near) + 0.25 * p
    return (-0.5 * p, L) if quarter else (-L, L)


def _tow_section(occ, family: int, c: float, t: float, zc: float, w: float, h: float) -> int:
    """Closed wire of the vertical elliptical section at position t along a tow (offset c), made of
    the upper and the lower half-ellipse (split at the tips y = c +- w/2)."""
    if family == CARBON_WARP:
        centre, axes = (t, c, zc), dict(zAxis=[1, 0, 0], xAxis=[0, 1, 0])
    else:
        centre, axes = (c, t, zc), dict(zAxis=[0, 1, 0], xAxis=[1, 0, 0])
    # two half-ellipse arcs joined at the tips (not one closed ellipse): the sweep then has two faces
    # (upper, lower) per tow piece and the sharp tow edges are model curves, see the module docstring
    arcs = [occ.addEllipse(*centre, 0.5 * w, 0.5 * h, angle1=a0, angle2=a0 + math.pi, **axes) for a0 in (0.0, math.pi)]
    return occ.addWire(arcs)


def _add_tows(occ, geo: CompositeGeometry, w: float, h: float, a: float, z_mid: float):
    """Warp and weft tows (uncut), one ThruSections solid per pitch, joined at the window centre lines
    (x = (i + 1/2) p) so each solid has a local bounding box, which keeps the OCC fragment cheap.
    Returns (warp volume tags, weft volume tags)."""
    p, R, n = geo.tow_pitch_mm, geo.radius_mm, geo.sections_per_pitch
    dx = p / n
    out = {CARBON_WARP: [], CARBON_WEFT: []}
    for family, k, c in _tow_centres(geo, w):
        x0, x1 = _tow_extent(c, w, R, p, geo.quarter)
        out[family].extend(loft_tow(occ, family, k, c, math.floor(x0 / dx), math.ceil(x1 / dx), p, n, w, h, a, z_mid))
    return out[CARBON_WARP], out[CARBON_WEFT]


def loft_tow(occ, family: int, k: int, c: float, s0: int, s1: int, p: float, n: int, w: float, h: float,
             a: float, z_mid: float) -> list[int]:
    """Volume tags of tow k of `family` at transverse offset c, lofted through its sections m dx
    (s0 <= m <= s1, dx = p/n), one ThruSections solid per pitch, joined at the window centre lines.
    Crimp: warp z = z_mid + a (-1)^k cos(pi x / p), weft z = z_mid - a (-1)^k cos(pi y / p).
    Shared by the disc (`_add_tows`) and the RVE cell (meshes/rve.py)."""
    dx = p / n
    amp = a * (1.0 if k % 2 == 0 else -1.0) * (1.0 if family == CARBON_WARP else -1.0)
    wires = [_tow_section(occ, family, c, m * dx, z_mid + amp * math.cos(math.pi * m * dx / p), w, h)
             for m in range(s0, s1 + 1)]
    cuts = [m for m in range(s0 + 1, s1) if (m - n // 2) % n == 0]
    bounds = [s0] + cuts + [s1]
    vols = []
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        vols.extend(t for d, t in occ.addThruSections(wires[lo - s0: hi - s0 + 1], makeSolid=True, makeRuled=False)
                    if d == 3)
    return vols


def _tow_centres(geo: CompositeGeometry, w: float) -> list[tuple[int, int, float]]:
    """(family, index k, transverse offset c = k p) of every tow kept in the model."""
    p, R = geo.tow_pitch_mm, geo.radius_mm
    n = int(math.ceil((R + 0.5 * w) / p)) + 1
    idx = range(0, n) if geo.quarter else range(-n, n + 1)
    return [(fam, k, k * p) for fam in (CARBON_WARP, CARBON_WEFT) for k in idx
            if _tow_extent(k * p, w, R, p, geo.quarter) is not None]


_GL_T, _GL_W = np.polynomial.legendre.leggauss(48)


def tow_volume(geo: CompositeGeometry, w: float, h: float, a: float, n_x: int = 4001) -> float:
    """Volume of the tows inside the modelled region (disc, quarter, z >= mid-plane with symmetry).

    With vertical elliptical sections the thickness at transverse offset y = c + (w/2) sin(theta) is
    h cos(theta); the integral over theta (Gauss-Legendre between the region limits) and x
    (trapezoid) is exact up to quadrature error (< 1e-5 relative)."""
    p, R = geo.tow_pitch_mm, geo.radius_mm
    total = 0.0
    x = np.linspace(0.0 if geo.quarter else -R, R, n_x)
    ymax = np.sqrt(np.clip(R * R - x * x, 0.0, None))
    ymin = np.zeros_like(x) if geo.quarter else -ymax
    for fam, k, c in _tow_centres(geo, w):
        sign = 1.0 if k % 2 == 0 else -1.0
        zc = a * sign * np.cos(np.pi * x / p) * (1.0 if fam == CARBON_WARP else -1.0)
        th_a = np.arcsin(np.clip(2.0 * (ymin - c) / w, -1.0, 1.0))
        th_b = np.arcsin(np.clip(2.0 * (ymax - c) / w, -1.0, 1.0))
        half = 0.5 * (th_b - th_a)
        th = 0.5 * (th_a + th_b)[:, None] + half[:, None] * _GL_T[None, :]
        e = np.cos(th)
        if geo.use_symmetry:
            top = zc[:, None] + 0.5 * h * e
            bot = zc[:, None] - 0.5 * h * e
            thick = np.clip(top, 0.0, None) - np.clip(bot, 0.0, None)
        else:
            thick = h * e
        line = (0.5 * w * e * thick * _GL_W[None, :]).sum(axis=1) * half  # integral over y at each x
        total += float(np.trapezoid(line, x))
    return total


def solve_tow_dimension(geo: CompositeGeometry) -> tuple[float, float, list[dict]]:
    """Solve the free tow dimension (height, or width if tow_height_mm is given) so the tow volume in
    the modelled region equals target_volumes(geo)["carbon"]; returns (w, h, history)."""
    target = target_volumes(geo)["carbon"]
    d0 = geo.derived()
    w, h = d0["tow_width_mm"], d0["tow_height_mm"]
    solve_height = geo.tow_height_mm is None
    history = []
    for _ in range(60):
        a = geo.derived(w, h)["crimp_amplitude_mm"]
        v = tow_volume(geo, w, h, a)
        err = v / target - 1.0
        history.append({"tow_width_mm": w, "tow_height_mm": h, "crimp_amplitude_mm": a, "volume_mm3": v,
                        "rel_error": err})
        if abs(err) < 1e-7:
            return w, h, history
        if solve_height:
            h *= target / v
        else:
            w *= target / v
    raise RuntimeError(f"tow volume solve did not converge: {history[-3:]}")


def exact_layout(geo: CompositeGeometry) -> tuple[float, float, list[dict], dict, dict]:
    """The weave of the MODELLED disc as build_geometry lays it out, before any Gmsh call: the solved tow
    dimensions (w, h, their history), geo.derived(w, h) and the pores. Raises GeometryError where the
    reference-area check of __post_init__ passed but the modelled disc's tows need more room (e.g. a
    6 mm disc with tow_gap_mm 0.0125). Costs 0.03-0.2 s, so the study check runs it too."""
    w, h, history = solve_tow_dimension(geo)
    d = geo.derived(w, h)  # re-validates feasibility with the solved dimensions
    pores = geo._pores(w, d["li_region_thickness_mm"], target_volumes(geo)["void"])
    return w, h, history, d, pores


def _mass(occ, tags) -> float:
    return float(sum(occ.getMass(3, t) for t in tags))


def build_geometry(geo: CompositeGeometry) -> dict:
    """Build the fragmented OCC model in the current Gmsh session (model already added).

    Returns the report dict (volumes, solved dimensions) plus the private key "_groups" with the
    volume tags per cell marker."""
    import gmsh

    occ = gmsh.model.occ
    t0 = time.perf_counter()
    targets = target_volumes(geo)
    sym = geo.use_symmetry
    w, h, history, d, pores = exact_layout(geo)
    a = d["crimp_amplitude_mm"]
    T = d["li_region_thickness_mm"]  # = (V_tow + V_li + V_void) / A
    t_g = d["gpe_thickness_mm"]
    if sym:
        z_mid, z_bot, z_li_bot, z_li_top = 0.0, 0.0, 0.0, 0.5 * T
    else:
        z_mid, z_bot, z_li_bot, z_li_top = t_g + 0.5 * T, 0.0, t_g, t_g + T
    z_top = z_li_top + t_g
    angle = 0.5 * math.pi if geo.quarter else 2.0 * math.pi
    R = geo.radius_mm
    t_solve = time.perf_counter()
    # tows are built uncut (past x = 0, y = 0, the rim and, with symmetry, below the mid-plane); the
    # fragment with the Li cylinder cuts them and the pieces outside are deleted. Pre-cutting them
    # instead would create coincident faces, which make the fragment about twice as slow.
    warp, weft = _add_tows(occ, geo, w, h, a, z_mid)
    li = occ.addCylinder(0.0, 0.0, z_li_bot, 0.0, 0.0, z_li_top - z_li_bot, R, angle=angle)
    gpe = []
    if t_g > 0.0:
        gpe.append(occ.addCylinder(0.0, 0.0, z_li_top, 0.0, 0.0, t_g, R, angle=angle))
        if not sym:
            gpe.append(occ.addCylinder(0.0, 0.0, 0.0, 0.0, 0.0, t_g, R, angle=angle))
    pore_tags = []
    for (x, y) in pores["pore_centres"]:
        s = occ.addSphere(x, y, z_mid, pores["pore_radius_mm"])
        c = pores["pore_half_height_mm"] / pores["pore_radius_mm"]
        if abs(c - 1.0) > 1e-12:
            occ.dilate([(3, s)], x, y, z_mid, 1.0, 1.0, c)
        pore_tags.append(s)
    t_built = time.perf_counter()
    objects = [(3, li)] + [(3, t) for t in gpe]
    tools = [(3, t) for t in warp + weft + pore_tags]
    _, omap = occ.fragment(objects, tools)
    children = {}
    for dt, pieces in zip(objects + tools, omap):
        children[dt[1]] = {t for dd, t in pieces if dd == 3}
    inside = set(children[li]).union(*(children[t] for t in gpe))
    outside = {t for _, t in occ.getEntities(3)} - inside
    if outside:
        occ.remove([(3, t) for t in sorted(outside)], recursive=True)
    occ.synchronize()
    t_frag = time.perf_counter()
    groups = {LI: set(children[li]), GPE: set().union(*(children[t] for t in gpe)),
              CARBON_WARP: set().union(*(children[t] for t in warp)) & inside,
              CARBON_WEFT: set().union(*(children[t] for t in weft)) & inside,
              VOID: set().union(*(children[t] for t in pore_tags)) & inside}
    groups[LI] -= groups[CARBON_WARP] | groups[CARBON_WEFT] | groups[VOID]
    all_vols = {t for _, t in gmsh.model.getEntities(3)}
    assigned = set().union(*groups.values())
    if all_vols != assigned or sum(len(v) for v in groups.values()) != len(assigned):
        raise RuntimeError(f"fragment classification failed: unassigned {sorted(all_vols - assigned)}")
    vol = {k: _mass(occ, v) for k, v in groups.items()}
    achieved = {"carbon": vol[CARBON_WARP] + vol[CARBON_WEFT], "carbon_warp": vol[CARBON_WARP],
                "carbon_weft": vol[CARBON_WEFT], "li": vol[LI], "gpe": vol[GPE], "void": vol[VOID]}
    achieved["total"] = sum(achieved[k] for k in ("carbon", "li", "gpe", "void"))
    rel = {k: (achieved[k] / targets[k] - 1.0 if targets[k] > 0 else (0.0 if achieved[k] == 0 else math.inf))
           for k in ("carbon", "li", "gpe", "void", "total")}
    tot_t, tot_a = targets["total"], achieved["total"]
    fractions = {k: {"target": targets[k] / tot_t, "achieved": achieved[k] / tot_a}
                 for k in ("carbon", "li", "gpe", "void")}
    exact = (0.25 if geo.quarter else 1.0) * math.pi * R * R * (z_top - z_bot)
    solved = {"tow_pitch_mm": geo.tow_pitch_mm, "tow_width_mm": w, "tow_height_mm": h, "crimp_amplitude_mm": a,
              "crimp_amplitude_min_mm": d["crimp_amplitude_min_mm"], "cloth_thickness_mm": 2 * a + h,
              "li_region_thickness_mm": T, "li_overlayer_mm": d["li_overlayer_mm"], "gpe_thickness_mm": t_g,
              "z_bottom_mm": z_bot, "z_top_mm": z_top, "z_cloth_mid_mm": z_mid,
              "composite_thickness_mm": T + 2 * t_g,
              "n_pores": pores["n_pores"], "pore_radius_mm": pores["pore_radius_mm"],
              "pore_half_height_mm": pores["pore_half_height_mm"],
              "n_warp_tows": len({k for f, k, _ in _tow_centres(geo, w) if f == CARBON_WARP}),
              "n_weft_tows": len({k for f, k, _ in _tow_centres(geo, w) if f == CARBON_WEFT}),
              "tow_solve": history}
    report = {"geometry": asdict(geo), "key": geo.key(), "sources": DEFAULT_SOURCES,
              "gpe_density_components": GPE_COMPONENTS, "solved": solved,
              "target_volumes_mm3": targets, "achieved_volumes_mm3": achieved, "rel_error": rel,
              "max_rel_error": max(abs(v) for v in rel.values()), "volume_fractions": fractions,
              "box_volume_check": achieved["total"] / exact - 1.0,
              "n_volumes": len(all_vols), "solve_s": t_solve - t0, "occ_build_s": t_built - t_solve,
              "occ_fragment_s": t_frag - t_built,
              "_groups": {k: sorted(v) for k, v in groups.items()}}
    if report["max_rel_error"] > 0.02 or abs(report["box_volume_check"]) > 1e-2:
        raise RuntimeError(f"composite volumes off target: rel_error = {rel}, box check = {report['box_volume_check']}")
    return report


def geometry_report(geo: CompositeGeometry) -> dict:
    """Build the OCC geometry only (no mesh) in a private Gmsh model and return the volume report."""
    with gmsh_model("composite_geometry"):
        report = build_geometry(geo)
    report.pop("_groups")
    return report


class _GmshMeshError(RuntimeError):
    """gmsh.model.mesh.generate failed (the message is Gmsh's)."""


def size_fields(gmsh, hmax: float, regions) -> None:
    """Background mesh size: `size` inside (and on the boundary of) each region's volumes, hmax
    elsewhere; regions = [(size, volume tags), ...], a region is skipped when size >= hmax or it
    has no volumes (also used by meshes/rve.py)."""
    fields = []
    for size, vols in regions:
        if size < hmax and vols:
            f = gmsh.model.mesh.field.add("Constant")
            gmsh.model.mesh.field.setNumbers(f, "VolumesList", vols)
            gmsh.model.mesh.field.setNumber(f, "VIn", size)
            gmsh.model.mesh.field.setNumber(f, "VOut", hmax)
            gmsh.model.mesh.field.setNumber(f, "IncludeBoundary", 1)
            fields.append(f)
    if fields:
        fmin = gmsh.model.mesh.field.add("Min")
        gmsh.model.mesh.field.setNumbers(fmin, "FieldsList", fields)
        gmsh.model.mesh.field.setAsBackgroundMesh(fmin)


def build_msh(geo: CompositeGeometry, path: Path | None) -> dict:
    """Build, tag and mesh the composite; write it to `path` (.msh) unless None. Returns the report.

    When Gmsh fails to mesh (e.g. "overlapping facets" or "a segment and a facet intersect"), the
    build is repeated in a fresh Gmsh session with the tow element size times MESH_RETRY_TOW_FACTOR,
    at most MESH_RETRIES times (report["mesh_attempts"] lists the tries; report["mesh_sizes_mm"]["tow"]
    is the size used). A fresh session is needed because Gmsh stays locked ("I'm busy") after a failed
    generate, so there is no retry when the caller initialised Gmsh (the error is raised at once)."""
    import gmsh

    h_tow = min(geo.mesh_size_tow_mm or geo.mesh_size_mm, geo.mesh_size_mm)
    attempts = []
    for attempt in range(MESH_RETRIES + 1):
        h_t = h_tow * MESH_RETRY_TOW_FACTOR ** attempt
        fresh_session = not gmsh.isInitialized()
        t0 = time.perf_counter()
        try:
            report = _build_msh_once(geo, path, h_t)
        except _GmshMeshError as e:
            attempts.append({"mesh_size_tow_mm": h_t, "error": str(e), "s": time.perf_counter() - t0})
            if attempt == MESH_RETRIES or not fresh_session:
                raise RuntimeError(f"composite mesh failed: {attempts}") from e
            continue
        attempts.append({"mesh_size_tow_mm": h_t, "error": None, "s": time.perf_counter() - t0})
        report["mesh_attempts"] = attempts
        return report


def _build_msh_once(geo: CompositeGeometry, path: Path | None, h_tow: float) -> dict:
    """One try of build_msh with the tow element size h_tow (<= mesh_size_mm); raises _GmshMeshError
    when Gmsh fails to mesh."""
    import gmsh

    with gmsh_model("composite"):
        report = build_geometry(geo)
        groups = report.pop("_groups")
        for tag_id, name in CELL_NAMES.items():
            if groups[tag_id]:
                gmsh.model.addPhysicalGroup(3, groups[tag_id], tag_id, name=name)
        vols = gmsh.model.getEntities(3)
        s = report["solved"]
        faces = classify_boundary(gmsh, vols, s["z_bottom_mm"], s["z_top_mm"])
        if groups[VOID]:
            faces[VOID_SURFACE] = sorted({t for _, t in gmsh.model.getBoundary([(3, v) for v in groups[VOID]],
                                                                                 combined=False, oriented=False)}
                                         - set().union(*faces.values()))
        for tag_id, name in FACET_NAMES.items():
            if faces.get(tag_id):
                gmsh.model.addPhysicalGroup(2, faces[tag_id], tag_id, name=name)
        hmax = geo.mesh_size_mm
        r_pore = min(s["pore_radius_mm"], s["pore_half_height_mm"])
        h_pore = geo.mesh_size_pore_mm or max(2.0 * math.pi * r_pore / 24.0, hmax / 3.0)
        h_pore = min(h_pore, hmax) if groups[VOID] else hmax
        gmsh.option.setNumber("Mesh.MeshSizeMax", hmax)
        gmsh.option.setNumber("Mesh.MeshSizeMin", geo.mesh_size_min_mm or 0.1 * hmax)
        gmsh.option.setNumber("Mesh.MeshSizeFromCurvature", 0)
        size_fields(gmsh, hmax, [(h_tow, groups[CARBON_WARP] + groups[CARBON_WEFT]), (h_pore, groups[VOID])])
        report["mesh_sizes_mm"] = {"max": hmax, "tow": h_tow, "pore": h_pore}
        gmsh.option.setNumber("Mesh.MeshSizeFromPoints", 0)
        gmsh.option.setNumber("Mesh.Algorithm", 5)  # Delaunay: much faster than Frontal on the BSpline tow faces
        gmsh.option.setNumber("Mesh.Algorithm3D", 1)
        gmsh.option.setNumber("Mesh.OptimizeNetgen", int(geo.optimize_netgen))
        t0 = time.perf_counter()
        try:
            gmsh.model.mesh.generate(3)
        except Exception as e:  # Gmsh raises a bare Exception carrying its error message
            raise _GmshMeshError(str(e)) from e
        report["gmsh_mesh_s"] = time.perf_counter() - t0
        types, tags, _ = gmsh.model.mesh.getElements(3)
        if not any(et == 4 and len(t) for et, t in zip(types, tags)):
            # e.g. Gmsh locked ("I'm busy") by an earlier failed generate in a caller-owned session
            raise _GmshMeshError("Gmsh produced no tetrahedra")
        tet_tags = np.concatenate([t for et, t in zip(types, tags) if et == 4])
        report["n_tets"] = int(len(tet_tags))
        q = gmsh.model.mesh.getElementQualities(tet_tags, "minSICN")
        report["quality_sicn"] = {"min": float(q.min()), "p01": float(np.quantile(q, 0.01)),
                                  "mean": float(q.mean()), "n_below_0.1": int((q < 0.1).sum())}
        counts, mvol = {}, {}
        for tag_id, name in CELL_NAMES.items():
            n, vsum = 0, 0.0
            for v in groups[tag_id]:
                et, tt, _ = gmsh.model.mesh.getElements(3, v)
                for e, t in zip(et, tt):
                    if e == 4:
                        n += len(t)
                        vsum += float(np.sum(gmsh.model.mesh.getElementQualities(t, "volume")))
            counts[name], mvol[name] = n, vsum
        report["n_tets_per_phase"] = counts
        mesh_vol = {"carbon": mvol["carbon_warp"] + mvol["carbon_weft"], "li": mvol["li"], "gpe": mvol["gpe"],
                    "void": mvol["void"]}
        report["mesh_volumes_mm3"] = mesh_vol
        tgt = report["target_volumes_mm3"]
        report["mesh_rel_error"] = {k: (v / tgt[k] - 1.0 if tgt[k] > 0 else 0.0) for k, v in mesh_vol.items()}
        if path is not None:
            write_msh(gmsh, Path(path))   # unique temporary file, checksum, atomic rename
    return report


def cached_msh(geo: CompositeGeometry, cache_dir: Path | None = None) -> tuple[Path, dict]:
    """Return (path of the cached .msh, report), building both if needed (report = .json beside the .msh)."""
    path = cache_dir_path(cache_dir) / f"composite_{geo.key()}.msh"
    return cached_msh_with_report(path, geo.key(), lambda p: build_msh(geo, p))


def load_mesh(geo: CompositeGeometry, comm=None, cache_dir: Path | None = None):
    """Return (mesh, cell_tags, facet_tags, report), building on rank 0 into the cache if needed."""
    import dolfinx_solver  # noqa: F401  (must precede dolfinx)
    from mpi4py import MPI

    comm = comm or MPI.COMM_WORLD
    path, report = on_root(comm, lambda: cached_msh(geo, cache_dir))
    data = read_msh(path, comm, gdim=3)
    return data.mesh, data.cell_tags, data.facet_tags, report


def crossing_cells(mesh, cell_tags, pitch_mm: float, width_mm: float) -> np.ndarray:
    """Local indices (owned and ghost) of the Li cells between crossing tows: the Li cells whose centre
    lies, in plan view, inside a crossing (within width/2 of a warp tow's axis y = k p AND of a weft
    tow's axis x = k p) and that share a vertex with a warp tow cell AND with a weft tow cell. There
    the mesher keeps a Li film `tow_gap_mm` thick (10 um by default), one element thick at any mesh
    size: these are that film's cells. Parallel-safe: the vertex marks of each family are summed over
    the processes that share a vertex (a P1 vector, scatter reverse + forward)."""
    from dolfinx import fem, la

    V = fem.functionspace(mesh, ("Lagrange", 1))
    dofs = V.dofmap.list
    touched = []
    for tag in (CARBON_WARP, CARBON_WEFT):
        f = fem.Function(V)
        f.x.array[np.unique(dofs[cell_tags.find(tag)].ravel())] = 1.0
        f.x.scatter_reverse(la.InsertMode.add)
        f.x.scatter_forward()
        touched.append(f.x.array > 0.0)
    li = cell_tags.find(LI)
    xc = V.tabulate_dof_coordinates()[dofs[li]].mean(axis=1)   # cell centres (P1 dofs = vertices)
    off = np.abs(xc[:, :2] - pitch_mm * np.round(xc[:, :2] / pitch_mm))
    inside = (off < 0.5 * width_mm).all(axis=1)
    both = touched[0][dofs[li]].any(axis=1) & touched[1][dofs[li]].any(axis=1)
    return np.sort(li[inside & both]).astype(np.int32)


def crossing_direction(x) -> np.ndarray:
    """The 'fibre direction' handed to the tow law of the bonded crossing solid: x (the solid is
    isotropic, CrossingBond.as_tow, so any unit vector gives the same stress)."""
    return np.vstack([np.ones(x.shape[1]), np.zeros((2, x.shape[1]))])


def retag_crossings(mesh, cell_tags, pitch_mm: float, width_mm: float):
    """A copy of `cell_tags` with the Li cells between crossing tows (crossing_cells) tagged CROSSING,
    and the number of those cells in the whole mesh (owned cells, summed over the processes)."""
    from dolfinx.mesh import meshtags

    cross = crossing_cells(mesh, cell_tags, pitch_mm, width_mm)
    val = cell_tags.values.copy()
    val[np.isin(cell_tags.indices, cross)] = CROSSING   # MeshTags indices are sorted: keep them as they are
    n_owned = int(np.count_nonzero(cross < mesh.topology.index_map(mesh.topology.dim).size_local))
    return meshtags(mesh, mesh.topology.dim, cell_tags.indices, val.astype(np.int32)), mesh.comm.allreduce(n_owned)
