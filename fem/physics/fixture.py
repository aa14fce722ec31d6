"""The screw fixture of the G-LiCFC paper: two stainless-steel plates clamped by screws, tightened
with a torque wrench, in series with the disc. Units: mm, N, MPa, s; torque in N*m.

What the paper states (Section 4.6 and Fig. S1c of the G-LiCFC composite-anode paper):
  * the cell is sandwiched between two stainless-steel plates fastened with screws; the pressure is
    set by the tightness of the screws, turned with a digital torque wrench, and was calibrated
    against a pressure sensor: F [N] = 543.09 + 739.49 T [N*m], P [MPa] = 3.0857 + 4.2016 T
    (the two fits differ by the area 176.0 mm^2 = 1.76 cm^2, the paper's disc area);
  * the fit comes from data at T > 0.5 N*m; its intercept is an extrapolation, and it is meant for
    pressures above ~4 MPa. Lower pressures were set by direct loading with a sensor;
  * "at defined intervals" the torque was re-measured and re-set to restore the target pressure:
    the pressure relaxes (the interval is not stated).

The model (fem/physics/platen.py, fem/stepping/run.py): each [[load]] step tightens the screw over
ramp_s so that the platen force rises linearly to its target (F* = a + b T for torque_Nm, or
P pi R0^2 for pressure_MPa); then the screw position s is held for hold_s, and the fixture acts as a
spring in series with the disc,
    F = k (s - g),   g = h0 - h  (closure of the platen gap, full disc),
so the force relaxes as the disc creeps. A later step re-tightens from the relaxed force (re-torque).
With mid-plane symmetry only the upper half is modelled; its platen displacement delta is half the
gap closure, g = 2 delta, so F = k (s - 2 delta) = 2k (s/2 - delta): the half disc sees a spring of
2k at the screw position s/2 (`model_spring`). Without symmetry (two platens) g = delta and the spring
is k. The screw position reported in history.csv (screw_mm) is the full-disc s = g + F/k: the screw
travel since first contact of an ideally stiff stack, i.e. the gap closure plus the fixture stretch.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

# --- The fixture stiffness: an estimate, not a measurement ----------------------------------------
# k of the load path in series with the disc: screws in tension and the two plates in bending.
# Assumed geometry (the paper shows the fixture in Fig. S1a/b but gives no dimensions): two
# stainless-steel plates (E 193 GPa, nu 0.29) 10 mm thick, clamped by 4 M5 screws on a 45 mm square
# (bolt-circle radius a = 31.8 mm), the 15 mm disc in the middle.
#   plates: simply supported circular plate of radius a under a central load (Timoshenko & Woinowsky-
#     Krieger, Theory of Plates and Shells, 1959, eq. for a concentrated load; the load spread over the
#     disc makes it a little stiffer): w/W = a^2 (3 + nu) / (16 pi D (1 + nu)),
#     D = E t^3 / (12 (1 - nu^2)) = 1.76e7 N mm  ->  3.4e5 N/mm per plate, 1.7e5 N/mm for the two;
#   screws: 4 x E A_s / L = 4 x 193000 x 14.2 mm^2 / 25 mm = 4.4e5 N/mm; with head and thread
#     compliance about as large again (VDI 2230 resilience model of bolted joints): ~2.2e5 N/mm;
#   in series: 1 / (1/1.7e5 + 1/2.2e5) = 0.96e5 N/mm  ->  1.0e5 N/mm.
# Plausible range 3e4-3e5 N/mm: the plate term scales with t^3 / a^2, and a single central screw or
# extra layers in the stack (the pouch laminate, spacers) change it. The fit's slope hints at another
# screw arrangement: F = T / (K d) with the usual nut factor K = 0.2 gives 739 N per N*m for ONE screw of
# d = 6.8 mm (M6-M8), while four M5 screws each torqued to T would give ~4000 N per N*m. The disc is much stiffer
# elastically (E pi R^2 / h0 = 2.8e6 N/mm for a 15 mm x 0.5 mm Li disc), so the fixture sets how much
# force a given creep thinning costs: dF = k dh, i.e. the whole 10 MPa (1767 N) on a 15 mm disc is lost
# after 1767 N / k = 18 um of thinning at k = 1e5 N/mm.
DEFAULT_STIFFNESS_N_PER_MM = 1.0e5
PAPER_TORQUE_TO_FORCE_N = (543.09, 739.49)   # F [N] = a + b T [N*m]
PAPER_MIN_TORQUE_NM = 0.5                    # the fit's data range: T > 0.5 N*m

FIXTURE_SOURCES = {
    "stiffness_N_per_mm": "1.0e5 N/mm: ESTIMATE (not measured, not given by the paper): two 10 mm stainless "
                          "plates in bending (simply supported circular plate of radius 31.8 mm under a central "
                          "load, Timoshenko & Woinowsky-Krieger 1959: 3.4e5 N/mm each) in series with 4 M5 screws "
                          "in tension incl. head/thread compliance (VDI 2230: ~2.2e5 N/mm): ~1e5 N/mm; plausible "
                          "3e4-3e5 N/mm. Assumed geometry: the paper shows the fixture (Fig. S1a/b) without "
                          "dimensions; the fit's slope (739 N per N*m = 1/(K d) for one screw of d = 6.8 mm at "
                          "nut factor K = 0.2) suggests a single screw rather than four",
    "torque_to_force_N": "F [N] = 543.09 + 739.49 T [N*m]: fit of torque-wrench vs pressure-sensor points of the "
                         "screw fixture (G-LiCFC composite-anode paper, Section 4.6, Fig. S1c); also "
                         "P [MPa] = 3.0857 + 4.2016 T on its 1.76 cm^2 electrode",
    "min_torque_Nm": "0.5 N*m: the paper states the fit was made on data at T > 0.5 N*m (its intercept is an "
                     "extrapolation; suitable above ~4 MPa; lower pressures were set by direct loading)",
    "re-torque": "the paper re-measured and re-set the torque 'at defined intervals' to restore the target "
                 "pressure; the interval is not stated (an assumption in every study file)",
    "symmetry": "with mid-plane symmetry the modelled half disc sees the spring 2k at the screw position s/2 "
                "(its platen moves by half the gap closure)",
}


@dataclass(frozen=True, slots=True)
class FixtureSpec:
    """The screw fixture in series with the disc ([fixture] table).

    stiffness_N_per_mm: k of bolts + plates, full disc (F = k (s - gap closure)).
    torque_to_force_N:  (a, b) of F = a + b T, T in N*m.
    min_torque_Nm:      lower end of the torque range the fit was made on (a torque below it warns).
    """
    stiffness_N_per_mm: float = DEFAULT_STIFFNESS_N_PER_MM
    torque_to_force_N: tuple[float, float] = PAPER_TORQUE_TO_FORCE_N
    min_torque_Nm: float = PAPER_MIN_TORQUE_NM

    def force_from_torque_N(self, torque_Nm: float) -> float:
        a, b = self.torque_to_force_N
        return a + b * torque_Nm

    def gap_factor(self, use_symmetry: bool) -> float:
        """Gap closure per unit platen displacement delta of the model: 2 with mid-plane symmetry."""
        return 2.0 if use_symmetry else 1.0

    def model_spring_N_per_mm(self, use_symmetry: bool) -> float:
        """The spring the modelled body sees at its platen: 2k with mid-plane symmetry, k without."""
        return self.gap_factor(use_symmetry) * self.stiffness_N_per_mm

    def screw_mm(self, gap_closure_mm: float, force_N: float) -> float:
        """Full-disc screw position s = g + F/k (screw travel since first contact, mm)."""
        return gap_closure_mm + force_N / self.stiffness_N_per_mm

    def torque_warning(self, step_number: int, torque_Nm: float, radius_mm: float) -> str | None:
        """One line when the torque lies below the fit's data range (None when inside)."""
        if torque_Nm >= self.min_torque_Nm:
            return None
        F = self.force_from_torque_N(torque_Nm)
        return (f"[[load]] step {step_number} torque_Nm = {torque_Nm:g} is below the range of the torque_to_force_N "
                f"fit (torque_Nm >= {self.min_torque_Nm:g} N*m, [fixture] min_torque_Nm): the force {F:.4g} N "
                f"({F / (math.pi * radius_mm ** 2):.4g} MPa) is an extrapolation; the paper set such low pressures "
                f"by direct loading (use pressure_MPa)")


def hold_relaxation(steps: list, history: list[dict]) -> list[dict]:
    """The relaxation of each screw hold from a run's history rows (history.csv): the force and nominal
    pressure at its start (the end of the tightening) and end, the force lost (%), the thinning during
    the hold (pp) and the screw position. Used for summary.json and the report."""
    out, n = [], len(steps)
    for i, step in enumerate(steps):
        idx = [j for j, r in enumerate(history) if r["phase"] == f"hold {i + 1}/{n}"]
        if not idx or idx[0] == 0:
            continue
        a, b = history[idx[0] - 1], history[idx[-1]]
        out.append({"step": i + 1,
                    "set_point": (f"torque_Nm = {step.torque_Nm:g}" if step.torque_Nm is not None
                                  else f"pressure_MPa = {step.pressure_MPa:g}"),
                    "t_start_s": a["time_s"], "t_end_s": b["time_s"],
                    "force_start_N": a["force_N"], "force_end_N": b["force_N"],
                    "pressure_start_MPa": a["nominal_pressure_MPa"], "pressure_end_MPa": b["nominal_pressure_MPa"],
                    "force_relaxation_pct": 100.0 * (1.0 - b["force_N"] / a["force_N"]) if a["force_N"] else 0.0,
                    "thinning_during_hold_pp": b["thickness_change_pct"] - a["thickness_change_pct"],
                    **({"screw_mm": b["screw_mm"]} if "screw_mm" in b else {})})
    return out
