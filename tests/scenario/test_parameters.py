"""Parameter paths in scenario files: reading, changing with provenance, errors naming the path."""

import pytest

from iontosim.scenario.errors import ScenarioError
from iontosim.scenario.load import read_scenario_file, scenario_from_dict
from iontosim.scenario.parameters import get_parameter, magnitude, parse_path, scaled, with_parameter
from tests.conftest import CONFIGS


@pytest.fixture(scope="module")
def default_data():
    return read_scenario_file(CONFIGS / "lidocaine_epinephrine.yaml")


def test_paths_read_like_the_file():
    assert parse_path("skin[stratum_corneum].fixed_charge.isoelectric_point") == [
        "skin",
        "stratum_corneum",
        "fixed_charge",
        "isoelectric_point",
    ]
    assert parse_path("protocol[0].current") == ["protocol", 0, "current"]
    for bad in ("", "donor..pH", "skin[dermis", "a b[0"):
        with pytest.raises(ScenarioError, match="not a parameter path"):
            parse_path(bad)


def test_a_changed_value_is_validated_and_credited_to_no_source(default_data):
    path = "skin[stratum_corneum].fixed_charge.isoelectric_point"
    assert get_parameter(default_data, path) == 4.8
    changed = with_parameter(default_data, path, 4.2, why="varied by sweep")
    assert get_parameter(default_data, path) == 4.8  # the original is untouched
    scenario = scenario_from_dict(changed)
    assert scenario.skin[0].fixed_charge.isoelectric_point == 4.2
    note = scenario.provenance["skin[0].fixed_charge.isoelectric_point"]
    assert "varied by sweep from 4.8" in note and "MARRO2001" in note and note.startswith("estimate")


def test_quantities_scale_in_their_own_unit():
    assert scaled("100 mM", 1.1) == "110.00000000000001 mM"
    assert scaled("-2e-3 mA/cm^2", 2) == "-0.004 mA/cm^2"
    assert scaled(7.4, 0.5) == 3.7 and magnitude("1.77 mA") == 1.77
    with pytest.raises(ValueError, match="not a number"):
        scaled("anode", 2)


def test_a_wrong_path_names_itself_and_what_is_there(default_data):
    with pytest.raises(ScenarioError, match=r"skin has no entry named 'epidermis'; named: stratum_corneum"):
        get_parameter(default_data, "skin[epidermis].thickness")
    with pytest.raises(ScenarioError, match=r"donor has no field 'ph' \(written here: .*pH"):
        with_parameter(default_data, "donor.ph", 5.0)
    with pytest.raises(ScenarioError, match=r"\[9\] is not one of them"):
        get_parameter(default_data, "protocol[9].current")
    with pytest.raises(ScenarioError, match=r"skin\[stratum_corneum\].fixed_charge has no field 'pK'"):
        get_parameter(default_data, "skin[stratum_corneum].fixed_charge.pK")


def test_one_spelling_per_parameter(default_data):
    """Positions become names where a name cannot be taken for a position (sweeps and the
    sensitivity analysis recognise one parameter under either spelling)."""
    from iontosim.scenario.parameters import canonical_path

    assert canonical_path(default_data, "skin[0].thickness") == "skin[stratum_corneum].thickness"
    assert canonical_path(default_data, "protocol[-2].current") == "protocol[0].current"
    numbered = {"skin": [{"name": "2", "pH": 5.0}, {"name": "x", "pH": 6.0}]}
    assert canonical_path(numbered, "skin[0].pH") == "skin[0].pH"  # "[2]" would read as a position
