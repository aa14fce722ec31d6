"""Material parameters, each with its source. Units: MPa, s, K, J/mol.

The constitutive *law* that uses these numbers lives in `fem/physics/laws.py`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

R_GAS = 8.314462618  # J/(mol K)

# --- Default lithium parameters and where they come from --------------------------------------
LI_SOURCES = {
    "youngs_modulus_MPa": "7820 MPa: Masias et al., J. Mater. Sci. 54 (2019) 2585, quoted in the G-LiCFC paper "
                          "(as quoted in the G-LiCFC composite-anode paper)",
    "poisson_ratio": "0.381: Masias et al. 2019 (as quoted in the G-LiCFC composite-anode paper)",
    "creep_n": "6.56: Masias et al. 2019 power-law creep stress exponent (as quoted in the G-LiCFC composite-anode paper)",
    "creep_A": "7.7e-3 MPa^-6.56 s^-1 at 299 K: least-squares fit of Masias 2019 Table S1 creep data, "
               "which covers stresses <= 0.6 MPa only; extrapolating to 5-30 MPa is an assumption",
    "activation_energy_J_per_mol": "37 kJ/mol: used by Anand et al., JES 2019 for Li creep; UNVERIFIED against "
                                   "the primary source, and irrelevant when temperature_K == reference_temperature_K",
    "reference_temperature_K": "299 K: temperature of the Masias creep tests that A was fitted to",
    "temperature_K": "299 K assumed: the paper does not state the temperature of the deformation test "
                     "(its electrochemistry ran at 333 K)",
    "threshold_stress_MPa": "0 (pure Norton) by default; the paper quotes a yield strength 0.73-0.81 MPa",
}


class _IsotropicModuli:
    """Shear and bulk moduli (MPa) of a material given by youngs_modulus_MPa and poisson_ratio."""
    __slots__ = ()

    @property
    def shear_modulus_MPa(self) -> float:
        return self.youngs_modulus_MPa / (2.0 * (1.0 + self.poisson_ratio))

    @property
    def bulk_modulus_MPa(self) -> float:
        return self.youngs_modulus_MPa / (3.0 * (1.0 - 2.0 * self.poisson_ratio))


@dataclass(frozen=True, slots=True)
class LiCreep(_IsotropicModuli):
    """Finite-strain elastic / isochoric power-law creep solid.

    Equivalent creep strain rate:  pdot = A_eff * <q - sigma_y>^n,
    A_eff = A * exp(-Q/R * (1/T - 1/T_ref)),  q = von Mises Kirchhoff stress (MPa).
    """

    youngs_modulus_MPa: float = 7820.0
    poisson_ratio: float = 0.381
    creep_A: float = 7.7e-3                       # MPa^-n s^-1, at the reference temperature
    creep_n: float = 6.56
    threshold_stress_MPa: float = 0.0
    activation_energy_J_per_mol: float = 37000.0
    temperature_K: float = 299.0
    reference_temperature_K: float = 299.0

    @property
    def creep_A_eff(self) -> float:
        """Creep prefactor at the test temperature (Arrhenius shift), MPa^-n s^-1."""
        q = self.activation_energy_J_per_mol / R_GAS
        return self.creep_A * math.exp(-q * (1.0 / self.temperature_K - 1.0 / self.reference_temperature_K))


# --- Composite phases (G-LiCFC): carbon tows, gel polymer electrolyte, pores -------------------
# The tow numbers are micromechanics estimates for a tow of PAN carbon fibres (volume fraction
# V_f = 0.6, meshes/composite.py) whose inter-fibre space is filled with Li (E_m 7820 MPa,
# nu_m 0.381, G_m 2833 MPa): Voigt along the fibres, Reuss across them.
CARBON_SOURCES = {
    "fibre": "ASSUMPTION: standard-modulus PAN carbon fibre (T300 class): E_L 230 GPa, E_T 15 GPa, G_LT 15 GPa, "
             "nu_LT 0.20 (typical datasheet / textbook values); the paper gives only the cloth type WOS1009",
    "E_L_MPa": "rule of mixtures (Voigt) 0.6 x 230000 + 0.4 x 7820 = 141128 MPa",
    "E_T_MPa": "inverse rule of mixtures (Reuss) 1 / (0.6/15000 + 0.4/7820) = 10971 MPa; an UPPER bound over a "
               "600 s hold, because the Li between the fibres creeps",
    "G_LT_MPa": "Reuss 1 / (0.6/15000 + 0.4/2833) = 5519 MPa (same caveat as E_T)",
    "nu_LT": "rule of mixtures 0.6 x 0.20 + 0.4 x 0.381 = 0.272",
    "nu_TT": "ASSUMPTION: 0.40 (transverse plane of a fibre bundle)",
    "strength_MPa": "paper Fig. 2b: cloth tensile strength 215.08 MPa (G-LiCFC composite-anode paper); compared with the "
                    "tow stresses (an in-plane TENSILE strength of the cloth)",
    "transverse_compressive_strength_MPa": "200 MPa: transverse compressive strength Y_c of unidirectional carbon/epoxy "
                                           "(AS4/3501-6 and T300/BSL914C), Soden, Hinton & Kaddour, Compos. Sci. Technol. 58 "
                                           "(1998) 1011 (WWFE-I lamina data; 250 MPa in a vendor table). A BONDED-laminate "
                                           "value: a Li-filled tow is neither bonded nor dry, so the index it gives is "
                                           "indicative (docs/composite_inputs.md); no failure law acts on it",
    "law": "transversely isotropic St Venant-Kirchhoff, S = C : E along the local tow direction (small strains, large "
           "rotations); isotropic elasticity is available with isotropic = true as a documented fallback",
}


@dataclass(frozen=True, slots=True)
class TowElastic:
    """Homogenised carbon tow: transversely isotropic elastic about the fibre direction a."""

    E_L_MPa: float = 141128.0
    E_T_MPa: float = 10971.0
    G_LT_MPa: float = 5519.0
    nu_LT: float = 0.272
    nu_TT: float = 0.40
    strength_MPa: float = 215.08
    transverse_compressive_strength_MPa: float = 200.0
    isotropic: bool = False   # fallback: isotropic with E_T, nu_TT

    def stiffness(self):
        """6x6 Voigt stiffness (order 11 22 33 23 13 12, engineering shear) with fibre axis 1, MPa."""
        import numpy as np
        EL, ET, GLT, nLT, nTT = self.E_L_MPa, self.E_T_MPa, self.G_LT_MPa, self.nu_LT, self.nu_TT
        if self.isotropic:
            EL, GLT, nLT = ET, ET / (2.0 * (1.0 + nTT)), nTT
        S = np.zeros((6, 6))
        S[0, 0] = 1.0 / EL
        S[1, 1] = S[2, 2] = 1.0 / ET
        S[0, 1] = S[1, 0] = S[0, 2] = S[2, 0] = -nLT / EL
        S[1, 2] = S[2, 1] = -nTT / ET
        S[3, 3] = 2.0 * (1.0 + nTT) / ET
        S[4, 4] = S[5, 5] = 1.0 / GLT
        return np.linalg.inv(S)


GPE_SOURCES = {
    "shear_modulus_MPa": "ASSUMPTION: 1 MPa; PVDF-HFP / ionic-liquid gel electrolytes have storage moduli of 0.1-10 MPa; "
                         "the paper gives no modulus",
    "bulk_modulus_MPa": "ASSUMPTION: 2000 MPa, of the order of the bulk modulus of the ionic liquid that makes up "
                        "7/17 of the gel (a swollen gel is nearly incompressible)",
    "law": "compressible neo-Hookean, tau = mu dev(b_bar) + J p I with the U(J) = K/2 (J - 1)^2 of the Li law (u-p mixed form); "
           "with porosity > 0 the pressure equation adds the closure of the gel's pores (porous_gel_closure)",
    "porosity": "ASSUMPTION: 0 (dense). The GPE is a dense PVDF-HFP:LiTFSI:EMITFSI ionogel (paper); the paper's masses "
                "account for the disc volume with ~1 % voids (docs/composite_inputs.md), so porosity in the gel is an "
                "unknown to vary or identify (issue 'Composite II', item 3), not a measured input",
    "pore_collapse_pressure_MPa": "0 = the default p_c = 4 G (1 - phi) / 3: the value that makes the initial bulk modulus "
                                  "of the porous gel, 1 / (1/K + phi/p_c), the Hashin (1962) composite-spheres value "
                                  "4 G (1 - phi) / (3 phi) of an incompressible matrix with spherical pores (K -> inf); "
                                  "the exponential crush curve beyond it is an ASSUMED shape (as in crushable-foam laws)",
    "drainage_time_s": "ASSUMPTION: 0 (the pores close as soon as the pressure acts). A liquid-filled pore closes only as "
                       "its ionic liquid drains: poroelastic time h^2 mu_f / (k M) with the skin thickness h ~ 0.05 mm, "
                       "EMITFSI viscosity mu_f ~ 0.03-0.04 Pa s (typical literature value, from memory: check before "
                       "citing), drained modulus M ~ 1 MPa and a gel permeability k 1e-18-1e-16 m^2 (unknown; "
                       "nanoporous polymer gels) gives 1-100 s, the order of the 60 s hold: vary it",
}


def porous_gel_closure(pressure, porosity: float, collapse_pressure: float, exp, conditional):
    """Pore volume closed per unit initial gel volume at the (Kirchhoff) pressure p (MPa; p < 0 in
    compression):  c(p) = phi (1 - exp(p / p_c)) for p < 0,  c(p) = -phi p / p_c for p >= 0
    (C1 at p = 0; the pores open linearly in tension). c -> phi: the pores close completely under a
    pressure of a few p_c, and the gel then has its dense bulk modulus. `exp` and `conditional(p < 0,
    a, b)` are given by the caller (UFL or numpy), so one formula serves the law and its tests."""
    return conditional(pressure, porosity * (1.0 - exp(pressure / collapse_pressure)),
                       -porosity * pressure / collapse_pressure)


@dataclass(frozen=True, slots=True)
class GelNeoHookean:
    """Gel polymer electrolyte skin: nearly incompressible neo-Hookean solid (u-p mixed form),
    optionally porous (closing pores: porous_gel_closure)."""

    shear_modulus_MPa: float = 1.0
    bulk_modulus_MPa: float = 2000.0
    porosity: float = 0.0
    pore_collapse_pressure_MPa: float = 0.0   # 0: the Hashin-matched default (GPE_SOURCES)
    drainage_time_s: float = 0.0              # 0: the pores follow the pressure at once (GPE_SOURCES)

    @property
    def drains(self) -> bool:
        """The pore closure lags the pressure (porous, with a drainage time)."""
        return self.porosity > 0.0 and self.drainage_time_s > 0.0

    @property
    def collapse_pressure_MPa(self) -> float:
        """p_c (MPa): the given value, or 4 G (1 - phi) / 3 (GPE_SOURCES)."""
        if self.pore_collapse_pressure_MPa > 0.0:
            return self.pore_collapse_pressure_MPa
        return 4.0 * self.shear_modulus_MPa * (1.0 - self.porosity) / 3.0

    @property
    def initial_bulk_modulus_MPa(self) -> float:
        """Bulk modulus at zero pressure, 1 / (1/K + phi/p_c) (MPa)."""
        return 1.0 / (1.0 / self.bulk_modulus_MPa + self.porosity / self.collapse_pressure_MPa)


VOID_SOURCES = {
    "law": "pores are a soft compressible neo-Hookean phase (displacement form), so they can close without remeshing",
    "youngs_modulus_MPa": "NUMERICAL: 10 MPa. Softer pores (0.1 MPa) collapsed until their elements inverted at 4 MPa "
                          "in the 3 mm test disc; at 10 MPa (bulk 8.3 MPa) a pore still carries some pressure, so the "
                          "void closure reported is a LOWER bound of what a gas-filled pore would do",
    "poisson_ratio": "NUMERICAL: 0.3 (a pore compresses freely)",
}


@dataclass(frozen=True, slots=True)
class SoftVoid:
    """Closed pore modelled as a very soft compressible neo-Hookean solid."""

    youngs_modulus_MPa: float = 10.0
    poisson_ratio: float = 0.3


# --- Crossings of the resolved weave (meshes/composite.py crossing_cells) ----------------------
# The mesher keeps a Li film tow_gap_mm thick (10 um, numerical) between crossing tows, one element
# thick at any mesh size. With the calibrated Li it lets the two tow families slide along each other
# at 30 MPa (docs/results.md, session 14). In the cloth the fibres of crossing tows touch. A study's
# [crossing] law = "bonded" gives those Li cells this isotropic elastic solid instead: crossings that
# neither slide nor creep, the opposite limit to the Li film.
CROSSING_SOURCES = {
    "law": "li_film (default): the mesher's Li film creeps with [li] (numerical: its 10 um thickness is tow_gap_mm); "
           "bonded: ASSUMPTION, fibre on fibre without slip (no measurement of the crossings exists)",
    "youngs_modulus_MPa": "the tows' transverse modulus E_T (CARBON_SOURCES: Reuss 10971 MPa): the crossing "
                          "transmits load through the tows' transverse stiffness",
    "poisson_ratio": "the tows' transverse nu_TT 0.40 (CARBON_SOURCES, ASSUMPTION)",
}


@dataclass(frozen=True, slots=True)
class CrossingBond:
    """The Li cells between crossing tows as a bonded isotropic elastic solid ([crossing] law = "bonded")."""

    youngs_modulus_MPa: float = 10971.0
    poisson_ratio: float = 0.40

    def as_tow(self) -> "TowElastic":
        """The same solid as the isotropic fallback of the tow law (one St Venant-Kirchhoff law for both)."""
        E, nu = self.youngs_modulus_MPa, self.poisson_ratio
        return TowElastic(E_L_MPa=E, E_T_MPa=E, G_LT_MPa=E / (2.0 * (1.0 + nu)), nu_LT=nu, nu_TT=nu, isotropic=True)


# --- Homogenised cloth ply (issue 18 item 2: the homogenised disc) -----------------------------
# Not a measured material: the five constants are COMPUTED for each study from the periodic RVE of
# the cloth (fem/rve/ply.py: tows, the Li in the weave windows, pores, with the phases' own
# constants), then averaged over in-plane rotations (the plain weave is tetragonal; the axisymmetric
# disc needs transverse isotropy about the thickness axis z). The source of each number is that
# computation; ply_report in the run's summary gives the RVE stiffness, the isotropisation error and
# the cell. ELASTIC: the Li inside the cloth does not creep in this ply (the Li overlayer does, as
# the model's creeping phase); docs/physics.md "Homogenised disc".
PLY_SOURCES = {
    "C11_MPa": "periodic RVE of the cloth cell (fem/rve/ply.py), in-plane rotational average",
    "C12_MPa": "as C11_MPa",
    "C13_MPa": "as C11_MPa",
    "C33_MPa": "as C11_MPa (through the thickness)",
    "C44_MPa": "as C11_MPa (transverse shear xz = yz)",
}


@dataclass(frozen=True, slots=True)
class PlyElastic:
    """Homogenised cloth ply: transversely isotropic elastic about the thickness axis (the law's
    direction a). Voigt stiffness (MPa, order xx yy zz yz xz xy, engineering shear, z = axis):
    C11 = C22, C12, C13 = C23, C33, C44 = C55, C66 = (C11 - C12) / 2."""

    C11_MPa: float
    C12_MPa: float
    C13_MPa: float
    C33_MPa: float
    C44_MPa: float

    def stiffness(self):
        """6x6 Voigt stiffness with the symmetry axis FIRST (the convention of TowElastic.stiffness,
        order axis, t1, t2, t1t2, axis-t2, axis-t1), MPa."""
        import numpy as np
        C = np.zeros((6, 6))
        C[0, 0] = self.C33_MPa
        C[1, 1] = C[2, 2] = self.C11_MPa
        C[1, 2] = C[2, 1] = self.C12_MPa
        C[0, 1] = C[1, 0] = C[0, 2] = C[2, 0] = self.C13_MPa
        C[3, 3] = 0.5 * (self.C11_MPa - self.C12_MPa)
        C[4, 4] = C[5, 5] = self.C44_MPa
        return C


@dataclass(frozen=True, slots=True)
class PlyViscoplastic(LiCreep):
    """Homogenised ply with the creep of its Li (fem/rve/ply_fit.py; issue 18 item 1): an elastic
    skeleton, transversely isotropic about the thickness axis (C11 ... C44 as PlyElastic: the fitted
    tetragonal skeleton averaged over in-plane rotations), in parallel with an isotropic Li branch,
    whose constants are the LiCreep fields (with Hill weights on its creep: hill_inplane, hill_transverse): shear modulus and bulk modulus (from youngs_modulus_MPa,
    poisson_ratio), Norton creep_A (at temperature_K = reference_temperature_K: the fit is at the
    cell's temperature), creep_n. All FITTED to the periodic RVE creep tables of the cell
    (fem/rve/ply_tables.py), none measured; the summary's ply report gives the fit and its errors."""

    C11_MPa: float = 1.0
    C12_MPa: float = 0.0
    C13_MPa: float = 0.0
    C33_MPa: float = 1.0
    C44_MPa: float = 1.0
    porosity: float = 0.0             # closable pore volume per volume (the cell's pores)
    closure_B: float = 0.0            # pore closure rate dc/dt = B <-p>^closure_m (porosity - c), MPa^-m s^-1 (fitted)
    closure_m: float = 1.0
    # back-pressure modulus of the squeezed pores (MPa; FIT_VERSION 10): the closure's drive is
    # -p - closure_pc_MPa c/(porosity - c) (fem/physics/pore_closure.py). FITTED, as above; 0: none
    closure_pc_MPa: float = 0.0
    # Hill weights of the Li branch's creep (fem/rve/ply_fit.py hill_return), relative to the axial mode
    # (uniaxial stress through the thickness): q^2 = 3/2 (|s_axial|^2 + h_inplane |s_inplane|^2
    # + h_transverse |s_transverse shear|^2); 1, 1: von Mises (the isotropic branch). FITTED, as above
    # (a transversely isotropic branch: the in-plane normal and shear modes share h_inplane).
    hill_inplane: float = 1.0
    hill_transverse: float = 1.0
    # the branch's shear modulus per mode relative to the axial mode's (shear_modulus_MPa): the branch's
    # elasticity K m m + sum_k 2 mu_k P_k has the Hill modes as eigen-projectors. FITTED, as above.
    mu_ratio_inplane: float = 1.0
    mu_ratio_transverse: float = 1.0
    # a second Li branch in parallel (fem/rve/ply_fit.py fit(branches=2)): the same Hill weights, modal
    # ratios and exponent creep_n, its own shear modulus (branch2_shear_ratio x shear_modulus_MPa) and
    # Norton prefactor branch2_creep_A (MPa^-n s^-1, at the cell's temperature). FITTED, as above; 0: none.
    branch2_shear_ratio: float = 0.0
    branch2_creep_A: float = 0.0
    # ... with its own exponent and Hill weights when fitted so (fit branch2_free); 0: those of the first branch
    branch2_creep_n: float = 0.0
    branch2_hill_inplane: float = 0.0
    branch2_hill_transverse: float = 0.0

    @property
    def has_branch2(self) -> bool:
        return self.branch2_shear_ratio > 0.0 and self.branch2_creep_A > 0.0

    def branch2(self) -> "PlyViscoplastic":
        """The second branch as a material of its own (the creep kernel's view: its shear modulus,
        creep_A and Hill constants; no skeleton, no pores, no further branch)."""
        from dataclasses import replace
        return replace(self, youngs_modulus_MPa=self.youngs_modulus_MPa * self.branch2_shear_ratio,
                       creep_A=self.branch2_creep_A, porosity=0.0, closure_B=0.0, branch2_shear_ratio=0.0,
                       branch2_creep_A=0.0, creep_n=self.branch2_creep_n or self.creep_n,
                       hill_inplane=self.branch2_hill_inplane or self.hill_inplane,
                       hill_transverse=self.branch2_hill_transverse or self.hill_transverse,
                       branch2_creep_n=0.0, branch2_hill_inplane=0.0, branch2_hill_transverse=0.0)

    @property
    def is_hill(self) -> bool:
        """True: the creep kernel runs the Hill-Norton return (fem/physics/creep_point.py LAW_HILL)."""
        return any(v != 1.0 for v in (self.hill_inplane, self.hill_transverse, self.mu_ratio_inplane,
                                      self.mu_ratio_transverse))

    @property
    def hill_weights(self):
        import numpy as np
        return np.array([1.0, self.hill_inplane, self.hill_transverse])

    @property
    def hill_moduli(self):
        import numpy as np
        return np.array([1.0, self.mu_ratio_inplane, self.mu_ratio_transverse])

    @property
    def drains(self) -> bool:
        """True when the ply's pores close in time (the model keeps their closure as a state,
        as for a draining gel: fem/models/base.py)."""
        return self.porosity > 0.0 and self.closure_B > 0.0

    @property
    def drainage_time_s(self) -> float:
        return math.inf   # no step cap: the closure rate follows the pressure (implicit in the step)

    def skeleton(self) -> "PlyElastic":
        return PlyElastic(self.C11_MPa, self.C12_MPa, self.C13_MPa, self.C33_MPa, self.C44_MPa)

    @staticmethod
    def from_fit(fit: dict, temperature_K: float) -> "PlyViscoplastic":
        p, sk = fit["parameters"], fit["skeleton_isotropised_MPa"]
        mu, K = p["mu_b_MPa"], fit["K_b_MPa"]
        E, nu = 9.0 * K * mu / (3.0 * K + mu), (3.0 * K - 2.0 * mu) / (2.0 * (3.0 * K + mu))
        closure = {"porosity": fit.get("porosity", 0.0), "closure_B": 10.0 ** p["log10_B"], "closure_m": p.get("closure_m", p["n_b"]),
                   "closure_pc_MPa": 10.0 ** p["log10_closure_pc_MPa"] if "log10_closure_pc_MPa" in p else 0.0} \
            if "log10_B" in p else {}
        h = fit.get("hill_isotropised")
        hill = {"hill_inplane": h["inplane_normal"], "hill_transverse": h["transverse_shear"]} if h else {}
        r = fit.get("moduli_ratios_isotropised")
        if r:
            hill.update(mu_ratio_inplane=r["inplane_normal"], mu_ratio_transverse=r["transverse_shear"])
        if "mu_b2_MPa" in p:   # the second branch (fit(branches=2))
            hill.update(branch2_shear_ratio=p["mu_b2_MPa"] / mu, branch2_creep_A=10.0 ** p["log10_A_b2"])
            if "n_b2" in p:   # its own exponent and (in-plane averaged, as the first's) Hill weights
                hill.update(branch2_creep_n=p["n_b2"], branch2_hill_inplane=10.0 ** p["log10_h2_inplane"],
                            branch2_hill_transverse=10.0 ** p["log10_h2_transverse_shear"])
        return PlyViscoplastic(youngs_modulus_MPa=E, poisson_ratio=nu, creep_A=10.0 ** p["log10_A_b"],
                               creep_n=p["n_b"], temperature_K=temperature_K, reference_temperature_K=temperature_K,
                               **sk, **closure, **hill)


# --- Anand-type elastic-viscoplastic lithium (issue 16, item 2) --------------------------------
# Law (the power-law form of the Anand flow rule used by Narayan & Anand 2018; fem/physics/anand_point.py):
#     pdot  = A exp(-Q/(R T)) (q / s)^(1/m)                         equivalent tensile plastic strain rate
#     sdot  = H0 |1 - s/s*|^a sign(1 - s/s*) pdot,   s(0) = S0        flow resistance s (MPa)
#     s*    = S_tilde (pdot / (A exp(-Q/(R T))))^n                   rate-dependent saturation value
# q = von Mises (Kirchhoff) stress. flow_form = "sinh" uses Anand's original (1982) flow rule
# pdot = A exp(-Q/RT) [sinh(xi q/s)]^(1/m) instead; it is NOT the Li calibration (no Li xi is published
# for it here) and is kept only as an option for sensitivity studies.
# Steady state (s = s*):  q_ss = S_tilde (pdot/nu0)^(m + n),  nu0 = A exp(-Q/RT)  (power form).
#
# The numbers. CORRECTED 2026-12-03 (session 3): the default set below is NOT the parameter table of
# Narayan & Anand, "A large deformation elastic-viscoplastic model for lithium", Extreme Mech. Lett. 24
# (2018) 21, as an earlier note here said. That paper (accepted manuscript, doi 10.1016/j.eml.2018.08.006,
# read 2026-12-03) fits its flow rule pdot = eps0 (q/S)^(1/m), Sdot = H0 (1 - S/S*)^a pdot (constant S*, no
# temperature dependence) to the microindentation of Wang & Cheng (2017) at 298 K, 0.1-1 /s, and gives
# (its eq. 3.1 and Table 2) E = 5 GPa, nu = 0.3, eps0 = 0.05 1/s, m = 0.18, S0 = 2 MPa, H0 = 40 MPa,
# S* = 8 MPa, a = 1.8: NA2018 below, as [anand] values in studies/fig4_bare_li_bounded_na2018_*.toml.
# The default set (E 7.81 GPa, nu 0.38, A 4.25e4 1/s, Q 37 kJ/mol, m 0.15, S0 0.95, H0 10, S_tilde 2.0,
# n 0.05, a 2.0) is transcribed from public MOOSE input files (GitHub daveb-dev/electro_chemo_mech, Li
# inputs of ADIsoTropicHyperViscoCreep), which cite no source; another public code (4C) attributes its
# Anand Li law to Anand et al., "An elastic-viscoplastic model for lithium", J. Electrochem. Soc. 166 (2019),
# whose tension data are those of LePage et al., J. Electrochem. Soc. 166 (2019) A89. That attribution is
# plausible but NOT verified (the paper could not be opened): every default below says "MOOSE set".
LI_ANAND_SOURCES = {
    "youngs_modulus_MPa": "7810 MPa: MOOSE set (public input files, daveb-dev/electro_chemo_mech; origin not stated "
                          "there, probably Anand et al. JES 2019, not verified); Masias 2019 gives 7820 MPa",
    "poisson_ratio": "0.38: MOOSE set (see youngs_modulus_MPa); Masias 2019: 0.381",
    "flow_prefactor_per_s": "A = 4.25e4 1/s: MOOSE set (not verified against a paper; Narayan & Anand 2018 "
                            "Table 2 has eps0 = 0.05 1/s without Arrhenius factor)",
    "activation_energy_J_per_mol": "Q = 37 kJ/mol: MOOSE set (the value LiCreep also uses); not verified",
    "rate_sensitivity": "m = 0.15 (1/m = 6.67 at fixed s, close to the creep stress exponent 6.56 of Masias 2019): "
                        "MOOSE set; Narayan & Anand 2018 Table 2: 0.18",
    "initial_resistance_MPa": "S0 = 0.95 MPa: MOOSE set; Narayan & Anand 2018 Table 2: 2 MPa",
    "hardening_modulus_MPa": "H0 = 10 MPa: MOOSE set; Narayan & Anand 2018 Table 2: 40 MPa",
    "saturation_coefficient_MPa": "S_tilde = 2.0 MPa: MOOSE set; Narayan & Anand 2018 Table 2: S* = 8 MPa (constant)",
    "saturation_exponent": "n = 0.05: MOOSE set; Narayan & Anand 2018: 0 (constant S*)",
    "hardening_exponent": "a = 2.0: MOOSE set; Narayan & Anand 2018 Table 2: 1.8",
    "flow_form": "'power': the form of Narayan & Anand 2018 eq. 2.7 and of the MOOSE set; 'sinh' is an "
                 "ASSUMPTION-only option (Anand 1982 form) without a Li calibration",
    "sinh_multiplier": "xi = 1: ASSUMPTION, used only with flow_form = 'sinh'",
    "temperature_K": "298 K: ASSUMPTION (room temperature of the tests behind both sets); the G-LiCFC paper does "
                     "not state the temperature of its deformation test",
}

# The parameter set of Narayan & Anand, Extreme Mech. Lett. 24 (2018) 21, eq. 3.1 and Table 2 (read
# 2026-12-03), as LiAnand keyword arguments (isothermal: Q = 0, so A = eps0)
NA2018 = {"youngs_modulus_MPa": 5000.0, "poisson_ratio": 0.3, "flow_prefactor_per_s": 0.05,
          "activation_energy_J_per_mol": 0.0, "rate_sensitivity": 0.18, "initial_resistance_MPa": 2.0,
          "hardening_modulus_MPa": 40.0, "saturation_coefficient_MPa": 8.0, "saturation_exponent": 0.0,
          "hardening_exponent": 1.8}

_ANAND_FLOW_FORMS = ("power", "sinh")


@dataclass(frozen=True, slots=True)
class LiAnand(_IsotropicModuli):
    """Finite-strain elastic-viscoplastic Li with an Anand-type flow resistance s (MPa).

    Same kinematics and elasticity as LiCreep (Hencky deviatoric, isochoric J2 flow, exponential-map
    return); the flow rule and the evolution of s are in the comment above LI_ANAND_SOURCES, the
    point update in fem/physics/anand_point.py. Every default has its source in LI_ANAND_SOURCES.
    """

    youngs_modulus_MPa: float = 7810.0
    poisson_ratio: float = 0.38
    flow_prefactor_per_s: float = 4.25e4           # A
    activation_energy_J_per_mol: float = 37000.0   # Q
    rate_sensitivity: float = 0.15                 # m
    initial_resistance_MPa: float = 0.95           # S0
    hardening_modulus_MPa: float = 10.0            # H0
    saturation_coefficient_MPa: float = 2.0        # S_tilde
    saturation_exponent: float = 0.05              # n
    hardening_exponent: float = 2.0                # a
    flow_form: str = "power"
    sinh_multiplier: float = 1.0                   # xi (flow_form "sinh" only)
    temperature_K: float = 298.0

    def __post_init__(self):
        def bad(name, rule):
            raise ValueError(f"LiAnand.{name} = {getattr(self, name)!r}: must be {rule}")

        def number(name):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                bad(name, "a finite number")
            return float(v)

        if number("youngs_modulus_MPa") <= 0.0:
            bad("youngs_modulus_MPa", "> 0 (MPa)")
        if not -1.0 < number("poisson_ratio") < 0.5:
            bad("poisson_ratio", "in (-1, 0.5)")
        if number("flow_prefactor_per_s") <= 0.0:
            bad("flow_prefactor_per_s", "> 0 (1/s)")
        if number("activation_energy_J_per_mol") < 0.0:
            bad("activation_energy_J_per_mol", ">= 0 (J/mol)")
        if not 0.0 < number("rate_sensitivity") <= 1.0:
            bad("rate_sensitivity", "in (0, 1] (m; 1/m is the stress exponent at fixed s)")
        if number("initial_resistance_MPa") <= 0.0:
            bad("initial_resistance_MPa", "> 0 (MPa)")
        if number("hardening_modulus_MPa") < 0.0:
            bad("hardening_modulus_MPa", ">= 0 (MPa)")
        if number("saturation_coefficient_MPa") <= 0.0:
            bad("saturation_coefficient_MPa", "> 0 (MPa)")
        if not 1.0 <= number("hardening_exponent") <= 10.0:
            bad("hardening_exponent", "in [1, 10] (a; the point update needs a >= 1)")
        if not 0.0 <= number("saturation_exponent") < 1.0 / self.hardening_exponent:
            bad("saturation_exponent", f"in [0, 1/hardening_exponent) = [0, {1.0 / self.hardening_exponent:g}) "
                                       "(n; so that sdot -> 0 as pdot -> 0)")
        if self.flow_form not in _ANAND_FLOW_FORMS:
            bad("flow_form", "one of " + ", ".join(_ANAND_FLOW_FORMS))
        if number("sinh_multiplier") <= 0.0:
            bad("sinh_multiplier", "> 0 (xi)")
        if not 0.0 < number("temperature_K") <= 2000.0:
            bad("temperature_K", "in (0, 2000] (K)")

    is_anand = True   # (class attribute) the creep kernel's law switch, fem/physics/creep_point.py

    @property
    def kernel_array(self):
        """kernel_parameters() as the contiguous float64 array the compiled kernel takes."""
        return self.kernel_parameters()

    @property
    def initial_state_MPa(self) -> float:
        return self.initial_resistance_MPa

    @property
    def rate_prefactor_per_s(self) -> float:
        """nu0 = A exp(-Q/(R T)), 1/s: the rate at q = s (power form)."""
        return self.flow_prefactor_per_s * math.exp(-self.activation_energy_J_per_mol / (R_GAS * self.temperature_K))

    def kernel_parameters(self):
        """The parameter vector of fem/physics/anand_point.py (float64, order of its P_* indices)."""
        import numpy as np
        return np.array([self.rate_prefactor_per_s, self.rate_sensitivity, self.hardening_modulus_MPa,
                         self.saturation_coefficient_MPa, self.saturation_exponent, self.hardening_exponent,
                         self.sinh_multiplier, 0.0 if self.flow_form == "power" else 1.0])

    def steady_state_stress_MPa(self, rate_per_s: float) -> float:
        """von Mises stress at constant plastic strain rate once s = s* (power form: S_tilde (rate/nu0)^(m+n))."""
        r = rate_per_s / self.rate_prefactor_per_s
        s_sat = self.saturation_coefficient_MPa * r ** self.saturation_exponent
        if self.flow_form == "power":
            return s_sat * r ** self.rate_sensitivity
        return s_sat / self.sinh_multiplier * math.asinh(r ** self.rate_sensitivity)

    def steady_state_rate_per_s(self, stress_MPa: float) -> float:
        """Plastic strain rate at constant von Mises stress once s = s* (inverse of steady_state_stress_MPa)."""
        if self.flow_form == "power":
            return self.rate_prefactor_per_s * (stress_MPa / self.saturation_coefficient_MPa) ** (
                1.0 / (self.rate_sensitivity + self.saturation_exponent))
        lo, hi = -300.0, 300.0   # bisection in log(rate/nu0) (sinh form has no closed inverse)
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            if self.steady_state_stress_MPa(self.rate_prefactor_per_s * math.exp(mid)) < stress_MPa:
                lo = mid
            else:
                hi = mid
        return self.rate_prefactor_per_s * math.exp(0.5 * (lo + hi))
