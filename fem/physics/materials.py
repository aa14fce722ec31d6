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


@dataclass(frozen=True, slots=True)
class LiCreep:
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
    def shear_modulus_MPa(self) -> float:
        return self.youngs_modulus_MPa / (2.0 * (1.0 + self.poisson_ratio))

    @property
    def bulk_modulus_MPa(self) -> float:
        return self.youngs_modulus_MPa / (3.0 * (1.0 - 2.0 * self.poisson_ratio))

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
    "strength_MPa": "paper Fig. 2b: cloth tensile strength 215.08 MPa (G-LiCFC composite-anode paper); compared with the tow stresses",
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
    "law": "compressible neo-Hookean, tau = mu dev(b_bar) + J p I with the U(J) = K/2 (J - 1)^2 of the Li law (u-p mixed form)",
}


@dataclass(frozen=True, slots=True)
class GelNeoHookean:
    """Gel polymer electrolyte skin: nearly incompressible neo-Hookean solid (u-p mixed form)."""

    shear_modulus_MPa: float = 1.0
    bulk_modulus_MPa: float = 2000.0


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
