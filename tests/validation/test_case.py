"""The case files: every published case loads and its scenarios validate; broken ones are refused
with the field and the reason (iontosim/validation/case.py, suite.prepare_case)."""

from __future__ import annotations

import pytest

from iontosim.validation import CASES_DIR, CaseError, list_cases, load_case, prepare_case
from iontosim.validation.case import case_from_dict


def test_the_issue_cases_are_there():
    names = set(list_cases())
    for name in (
        "ionsys_fentanyl_dose",
        "lidosite_lidocaine",
        "electroosmotic_flow_vs_ph",
        "sodium_transport_number",
        "goldman_enhancement",
        "lidocaine_depth_microdialysis",
        "vasoconstrictor_riviere",
        "penetration_depth_1mm",
        "fentanyl_dose_proportional_to_charge",
        "ashburn_fentanyl_iontophoresis",
        "etrans_fentanyl_basal",
        "lidoderm_passive_lidocaine",
        "fentanyl_dosing_frequency",
        "ropinirole_rat_in_vivo",
    ):
        assert name in names


@pytest.mark.parametrize("name", list_cases())
def test_every_case_loads_and_its_scenarios_validate(name):
    prepared = prepare_case(name)
    case = prepared.case
    assert case.folder == CASES_DIR / name
    for check in case.checks:
        # every judged check says where its criterion comes from; a missed check may explain itself
        if check.compare in ("relative", "absolute"):
            assert len(check.tolerance.basis) > 10
    # a prediction tunes nothing, a calibration names what it fixed
    assert (case.role == "calibration") == bool(case.calibrates)


def _minimal() -> dict:
    return {
        "name": "tiny",
        "title": "t",
        "role": "prediction",
        "citation": "c",
        "source": "KIM1993",
        "conditions": "c",
        "scenarios": {"s": "x.yaml"},
        "checks": [
            {
                "id": "a",
                "what": "something simulated",
                "quantity": "transport_number",
                "scenario": "s",
                "options": {"species": "Na+"},
                "unit": "",
                "published": {"value": 0.5, "source": "KIM1993", "tag": "QUOTE"},
                "compare": "relative",
                "tolerance": {"relative": 0.1, "basis": "the published SD, stated"},
            }
        ],
    }


@pytest.mark.parametrize(
    "change, field, words",
    [
        (lambda d: d.update(role="fit"), "role", "calibration"),
        (lambda d: d.update(calibrates=["x"]), "calibrates", "no parameter may be tuned"),
        (lambda d: d["checks"][0].pop("tolerance"), "checks[0].tolerance", "needs a tolerance"),
        (lambda d: d["checks"][0]["tolerance"].pop("basis"), "checks[0].tolerance.basis", "missing"),
        (
            lambda d: d["checks"][0]["published"].update(source="KIM1939"),
            "checks[0].published.source",
            "unknown source key",
        ),
        (lambda d: d["checks"][0]["published"].update(value="forty ug"), "checks[0].published.value", "cannot read"),
        (lambda d: d["checks"][0].update(scenario="t"), "checks[0].scenario", "unknown scenario"),
        (lambda d: d["checks"][0].update(compare="close_enough"), "checks[0].compare", "Input should be"),
        (lambda d: d["checks"][0]["published"].update(uncertainty="0.1"), "checks[0].published.uncertainty_kind", "SD"),
        (lambda d: d["checks"].append(dict(d["checks"][0])), "checks[1].id", "used twice"),
        (
            lambda d: (
                d["checks"][0].update(compare="within_range"),
                d["checks"][0].pop("tolerance"),
                d["checks"][0]["published"].update(low=0.4, high=0.6),
            ),
            "checks[0].published.value",
            "remove the value",
        ),
        (
            lambda d: (
                d["scenarios"].update(
                    s={"file": "x.yaml", "sweep": {"set": ["donor.pH"], "values": [4, 5], "label": "pH"}}
                ),
                d["checks"][0].update(reduce={"kind": "worst"}, compare="within_range"),
                d["checks"][0].pop("tolerance"),
                d["checks"][0]["published"].pop("value"),
                d["checks"][0]["published"].update(low=0.4, high=0.6),
            ),
            "checks[0].published.value",
            "farthest from a published value",
        ),
        (
            lambda d: d["scenarios"].update(
                s={"file": "x.yaml", "sweep": {"set": ["donor.pH"], "values": [4, 5], "label": "pH"}}
            ),
            "checks[0].reduce",
            "swept",
        ),
        (
            lambda d: (
                d["scenarios"].update(t="y.yaml"),
                d["checks"][0].pop("scenario"),
                d["checks"][0].update(numerator="s"),
            ),
            "checks[0].denominator",
            "both numerator and denominator",
        ),
    ],
)
def test_a_broken_case_names_the_field(change, field, words):
    data = _minimal()
    change(data)
    with pytest.raises(CaseError) as err:
        case_from_dict(data)
    assert err.value.field == field
    assert words in err.value.reason


def test_checks_are_read_against_their_quantity(cases_copy):
    def wrong_unit(data):
        data["checks"][0]["unit"] = "mg"

    root = cases_copy("sodium_transport_number", wrong_unit)
    with pytest.raises(CaseError) as err:
        prepare_case("sodium_transport_number", root)
    assert err.value.field == "checks[0].unit"

    def unknown_option(data):
        data["checks"][0]["options"]["depth"] = "3 mm"

    root = cases_copy("sodium_transport_number", unknown_option)
    with pytest.raises(CaseError) as err:
        prepare_case("sodium_transport_number", root)
    assert err.value.field == "checks[0].options.depth" and "unknown option" in err.value.reason


def test_a_bad_sweep_value_names_the_value(cases_copy):
    def bad_ph(data):
        data["scenarios"]["saline_ph"]["sweep"]["values"][2] = 15.0

    root = cases_copy("electroosmotic_flow_vs_ph", bad_ph)
    with pytest.raises(CaseError) as err:
        prepare_case("electroosmotic_flow_vs_ph", root)
    assert err.value.field == "scenarios.saline_ph.sweep.values[2]"
    assert "pH" in err.value.reason


def test_unknown_case_lists_the_known_ones():
    with pytest.raises(CaseError) as err:
        prepare_case("ionsys_fentanyl_dos")
    assert "did you mean ionsys_fentanyl_dose" in err.value.reason


def test_load_case_reports_yaml_errors(tmp_path):
    (tmp_path / "case.yaml").write_text("name: [unclosed\n")
    with pytest.raises(CaseError) as err:
        load_case(tmp_path)
    assert err.value.field == "<file>" and "line" in err.value.reason
