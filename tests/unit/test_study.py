"""fem/study.py: the study schema takes its defaults from the dataclasses it fills, and the shipped
studies that must share the bare-Li calibration do."""
import dataclasses

from fem.study import SCHEMA, parse_study
from fem.verification.cases import BASE, ROOT


def test_schema_defaults_are_the_dataclass_defaults():
    """A study that leaves a key out gets the default of the dataclass field that the key fills
    (fem/physics/materials.py LiCreep, fem/physics/platen.py PlatenSpec, fem/study.py TimeSettings and
    Study, meshes/* geometries): one place for each default."""
    s = parse_study(BASE, name="defaults")
    for table, obj in (("li", s.li), ("platen", s.platen), ("time", s.time)):
        for f in dataclasses.fields(obj):
            key = SCHEMA[table].get(f.name)
            if key is not None and f.name not in BASE.get(table, {}):
                assert getattr(obj, f.name) == f.default == key.default, (table, f.name)
    for name in ("rim_refinement", "rim_zone_mm", "platen_refinement", "platen_zone_mm", "use_symmetry"):
        assert getattr(s.geometry, name) == SCHEMA["geometry"][name].default, name
    assert s.linear_solver == SCHEMA["numerics"]["linear_solver"].default
    assert s.write_fields is BASE["output"]["fields"] is False
    assert s.snapshot_growth == SCHEMA["output"]["snapshot_growth"].default


def test_blind_prediction_studies_use_the_calibrated_li_parameters():
    """The G-LiCFC studies (and the 3D bare-Li check) use EITHER the bare-Li calibration, exactly as
    `make calibrate` wrote it (creep law and platen friction; copies drifted once: the composite
    studies kept the fit of an earlier calibration), OR the literature Li law exactly (the LiCreep
    defaults, Masias 2019; the friction is then the study's own assumption). A `*_literature` study
    and the one-point identifications (`*_identify_*`) must use the literature law."""
    import tomllib
    cal = tomllib.loads((ROOT / "studies" / "fig4_bare_li_calibrated.toml").read_text())
    keys = [("li", "creep_A"), ("li", "creep_n"), ("li", "threshold_stress_MPa"), ("platen", "mu")]
    studies = sorted((ROOT / "studies").glob("composite_*.toml")) + [ROOT / "studies" / "fig4_bare_li_3d_calibrated.toml"]
    assert studies
    from fem.physics.materials import LiCreep
    literature = (LiCreep().creep_A, LiCreep().creep_n)
    n_lit = n_cal = 0
    for f in studies:
        d = tomllib.loads(f.read_text())
        if d.get("geometry", {}).get("model") == "rve":   # elastic RVE (composite_rve.toml): no creep, no platen
            continue
        law = (d["li"]["creep_A"], d["li"]["creep_n"])
        if f.stem.endswith("_literature") or "_identify_" in f.stem:
            assert law == literature, f.name
        if law == literature and d["li"].get("threshold_stress_MPa", 0.0) == 0.0:
            n_lit += 1
            continue
        n_cal += 1
        for table, key in keys:
            assert d[table].get(key, 0.0) == cal[table].get(key, 0.0), (f.name, table, key)
    assert n_lit and n_cal

def test_crossing_table_round_trips_and_is_refused_where_it_does_not_apply():
    """[crossing] (model = "composite" only): law = "bonded" adds a CrossingBond material that survives
    Study.to_dict and back unchanged; law = "li_film" is the study without the table (same
    fingerprint, so finished runs stay finished); misplaced or unused keys are refused in one line."""
    import pytest
    from fem.physics.materials import CrossingBond
    from fem.study import StudyError
    from fem.verification.cases import composite_study
    bonded = composite_study("b", crossing={"law": "bonded", "youngs_modulus_MPa": 5000.0})
    assert bonded.materials["crossing"] == CrossingBond(youngs_modulus_MPa=5000.0, poisson_ratio=0.40)
    table = bonded.to_dict()["crossing"]   # the table as written to the run's summary: readable again
    assert table == {"law": "bonded", "youngs_modulus_MPa": 5000.0, "poisson_ratio": 0.40}
    assert composite_study("b", crossing=table).fingerprint() == bonded.fingerprint()
    plain, film = composite_study("p"), composite_study("p", crossing={"law": "li_film"})
    assert "crossing" not in film.materials and film.fingerprint() == plain.fingerprint() != bonded.fingerprint()
    with pytest.raises(StudyError, match=r"^\[crossing\] youngs_modulus_MPa: only used with law = \"bonded\"$"):
        composite_study("f", crossing={"youngs_modulus_MPa": 5000.0})
    with pytest.raises(StudyError, match=r"^\[crossing\]: only allowed for \[geometry\] model = \"composite\""):
        parse_study({**BASE, "crossing": {"law": "bonded"}}, name="a")
