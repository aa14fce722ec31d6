"""Material parameters, each with its source. Units: MPa, s, K, J/mol.

The constitutive *law* that uses these numbers lives in `fem/constitutive.py`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

R_GAS = 8.314462618  # J/(mol K)

# --- Default lithium parameters and where they come from --------------------------------------
LI_SOURCES = {
    "youngs_modulus_MPa": "7820 MPa: Masias et al., J. Mater. Sci. 54 (2019) 2585, quoted in the G-LiCFC paper "
                          "(measurements.md §2)",
    "poisson_ratio": "0.381: Masias et al. 2019 (measurements.md §2)",
    "creep_n": "6.56: Masias et al. 2019 power-law creep stress exponent (measurements.md §2)",
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
