"""Reference runs whose histories are stored in tests/gold/*.csv (gold files).

Update the gold files ONLY when a change is meant to alter results (a physics fix, a new default),
never to make a failing test pass: run `make gold`, inspect `git diff tests/gold`, and say in the
commit message why the numbers moved and by how much.
"""
GOLD_CASES = {
    "coulomb_5MPa": {
        "platen": {"friction": "coulomb", "mu": 0.2},
        "load": [{"pressure_MPa": 5.19, "ramp_s": 0.5, "hold_s": 10.0}],
    },
    "sequential_frictionless": {
        "platen": {"friction": "frictionless"},
        "load": [{"pressure_MPa": 2.0, "ramp_s": 0.0, "hold_s": 0.05},
                 {"pressure_MPa": 4.0, "ramp_s": 0.01, "hold_s": 0.05}],
    },
    "sticking_gap": {
        "platen": {"friction": "sticking"},
        "load": [{"gap_mm": 0.499, "ramp_s": 0.0, "hold_s": 1.0}],
    },
}
COLUMNS = ["step", "time_s", "force_N", "gap_mm", "thickness_change_pct", "diameter_change_pct"]
