"""fem/workflows/bounded_fit.py on a synthetic grid whose predictions are linear in (friction, log10 A):
the objective with its prior on A, the best point and profile, the Fisher matrix (exactly J^T J + prior
for a linear model) and leave-one-out. Units: %, pp."""
import math

import numpy as np

from fem.workflows import bounded_fit as bf

MEAS = {5.19: {"thickness_change_pct": 3.0, "thickness_uncertainty_pct": 1.0,
               "diameter_change_pct": 3.74, "diameter_uncertainty_pct": 1.0},
        17.79: {"thickness_change_pct": 46.2, "thickness_uncertainty_pct": 3.0,
                "diameter_change_pct": 37.03, "diameter_uncertainty_pct": 3.0}}
LA0 = math.log10(bf.A_LIT)
# d(prediction)/d(friction), d/d(log10 A) for (5.19 thickness, diameter, 17.79 thickness, diameter)
JF = np.array([-8.0, -4.0, -20.0, -25.0])
JA = np.array([3.0, 1.5, 6.0, 5.0])


def _rows(f0=0.5, a0=LA0 - 0.3):
    rows = []
    for f in (0.25, 0.5, 0.75, 1.0):
        for la in (LA0 - 1.0, LA0 - 0.5, LA0, LA0 + 0.5, LA0 + 1.0):
            base = np.array([3.0, 3.74, 46.2, 37.03]) + JF * (f - f0) + JA * (la - a0)
            pred = {5.19: (base[0], base[1]), 17.79: (base[2], base[3])}
            rows.append(bf.chi2_row({"friction": "tresca_m", "friction_value": f, "log10_A": la, "pred": pred}, MEAS, bf.A_LIT))
    return rows


def test_objective_best_point_and_fisher():
    rows = _rows()
    r = bf.summarise(rows, MEAS)
    best = r["best"]
    # data exact at (0.5, LA0 - 0.3), which is not on the grid: the best grid point is its neighbour
    # with the smallest chi2 including the prior ((log10 A - LA0)/1)^2
    by_hand = min(rows, key=lambda x: x["chi2"])
    assert (best["friction_value"], best["log10_A"]) == (by_hand["friction_value"], by_hand["log10_A"])
    assert math.isclose(by_hand["chi2_prior"], (by_hand["log10_A"] - LA0) ** 2)
    w = np.array([1.0, 1.0, 1 / 3.0, 1 / 3.0])
    J = np.stack([JF * w, JA * w], axis=1)
    expect = J.T @ J + np.diag([0.0, 1.0])
    assert np.allclose(r["fisher"]["matrix"], expect, rtol=1e-9)
    # the profile holds the smallest chi2 at every friction value
    assert len(r["profile"]) == 4 and r["profile"][1]["chi2"] == min(x["chi2"] for x in rows if x["friction_value"] == 0.5)


def test_leave_one_out_fits_one_pressure_only():
    """The fit on 5.19 MPa does not see the 17.79 MPa predictions (shifting them all by 10 pp leaves
    its point unchanged and moves its predicted miss by exactly 10 pp), and the reverse."""
    a = bf.summarise(_rows(), MEAS)["leave_one_out"]
    shifted = _rows()
    for r in shifted:
        t, d = r["pred"][17.79]
        r["pred"][17.79] = (t + 10.0, d + 10.0)
        bf.chi2_row(r, MEAS)
    b = bf.summarise(shifted, MEAS)["leave_one_out"]
    k = "fit_5.19_predict_17.79"
    assert (a[k]["friction_value"], a[k]["log10_A"]) == (b[k]["friction_value"], b[k]["log10_A"])
    assert math.isclose(b[k]["thickness_miss_pp"] - a[k]["thickness_miss_pp"], 10.0)
    k = "fit_17.79_predict_5.19"
    assert (a[k]["friction_value"], a[k]["log10_A"]) != (b[k]["friction_value"], b[k]["log10_A"])
