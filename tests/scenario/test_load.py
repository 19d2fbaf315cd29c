"""Loading, resolving and rejecting scenarios."""

import copy
import re
from pathlib import Path

import pytest
import yaml

from iontosim.scenario import ScenarioError, load_scenario, parse_quantity, scenario_from_dict

CONFIGS = Path(__file__).resolve().parents[2] / "iontosim" / "scenarios"
NAMES = [
    "lidocaine_epinephrine",
    "lidocaine_only",
    "passive_lidocaine",
    "fentanyl_ionsys",
    "dexamethasone_cathodal",
    "acetic_acid_cathodal",
    "wearable_patch",
    "metal_electrode_saline",
]
PATCH_NAMES = ["lidocaine_epinephrine_2d", "tap_water_hyperhidrosis"]  # 2D, each extending a 1D scenario
NUMBER = re.compile(r"^[-+]?(\d|\.\d)")

# Provenance rule for configs: every number or quantity is a {value: ..., source: KEY} or
# {value: ..., estimate: why} mapping, except settings that are choices rather than data:
# anything under `outputs` or `numerics`, the mesh settings `cells` and `grading`, a `rest:`
# duration, a `repeat:` count, and `reference_pH` (the pH at which a charge or flow is quoted).
EXEMPT_KEYS = {
    "outputs",
    "numerics",
    "cells",
    "grading",
    "rest",
    "repeat",
    "reference_pH",
    "acid_charge",  # charge numbers: definitions of a form, not measured values
    "charge",
    "surface_cells",
    "surface_grading",
    "resolution",
    "growth",
}  # numerics of the geometry section


def raw(name):
    return yaml.safe_load((CONFIGS / f"{name}.yaml").read_text())


def lido():
    return raw("lidocaine_epinephrine")


def _is_number(x):
    return (isinstance(x, (int, float)) and not isinstance(x, bool)) or (isinstance(x, str) and bool(NUMBER.match(x)))


def unsourced_numbers(node, path=""):
    """Paths of numbers/quantities not inside a {value, source|estimate} mapping (EXEMPT_KEYS skipped)."""
    if isinstance(node, dict):
        if "value" in node:
            return [] if ("source" in node or "estimate" in node) else [path]
        return [p for k, v in node.items() if k not in EXEMPT_KEYS for p in unsourced_numbers(v, f"{path}.{k}")]
    if isinstance(node, list):
        return [p for i, v in enumerate(node) for p in unsourced_numbers(v, f"{path}[{i}]")]
    return [path] if _is_number(node) else []


# ------------------------------------------------------------------ the four configs


@pytest.mark.parametrize("name", NAMES + PATCH_NAMES)
def test_config_loads_and_round_trips(name):
    s = load_scenario(CONFIGS / f"{name}.yaml")
    assert s.name == name
    resolved = s.resolved_dict()
    text = yaml.safe_dump(resolved, sort_keys=False)
    assert scenario_from_dict(yaml.safe_load(text)) == s


@pytest.mark.parametrize("name", NAMES + PATCH_NAMES)
def test_every_number_has_source_or_estimate(name):
    assert unsourced_numbers(raw(name)) == []


def test_provenance_rule_catches_plain_numbers():
    data = lido()
    data["skin"][0]["thickness"] = "12 um"
    data["donor"]["pH"] = 4.5
    assert unsourced_numbers(data) == [".donor.pH", ".skin[0].thickness"]


def test_lidocaine_epinephrine_resolves():
    s = load_scenario(CONFIGS / "lidocaine_epinephrine.yaml")
    c = s.donor.concentrations()
    assert c["lidocaine"] == pytest.approx(100e-6 / 0.27080 / (5e-4 * 2e-3), rel=1e-6)
    assert c["lidocaine"] == pytest.approx(369.276, rel=1e-5)
    assert c["epinephrine"] == pytest.approx(1.05e-6 / 0.18321 / (5e-4 * 2e-3), rel=1e-6)
    assert [step.kind for step in s.protocol] == ["current", "rest"]
    assert s.protocol[0].current == pytest.approx(1.77e-3)
    assert s.protocol[0].current_density == pytest.approx(1.77e-3 / 5e-4, rel=1e-12)
    assert s.protocol[1].current_density == 0.0 and s.protocol[1].duration == 3000.0
    assert s.protocol_end() == 3600.0
    assert s.outputs.penetration_threshold == pytest.approx(1e-3 / 0.23434, rel=1e-9)
    assert s.outputs.profile_times == [60.0, 300.0, 600.0, 1200.0, 2400.0, 3600.0]
    assert s.temperature == 310.15
    layers = raw("lidocaine_epinephrine")["skin"]
    assert [layer.name for layer in s.skin] == [layer["name"] for layer in layers]
    assert [layer.thickness for layer in s.skin] == [
        parse_quantity(layer["thickness"]["value"], "length", "") for layer in layers
    ]
    sc = s.skin[0]
    assert sc.thickness == 18e-6 and sc.porosity == 1e-3 and sc.diffusivity_factor == 1e-5
    assert sc.fixed_charge.charge_at_reference_pH == -100.0 and sc.fixed_charge.isoelectric_point == 4.8
    assert sc.partition_of("Na+") == 1.0 and sc.clearance_rate == 0.0
    papillary = next(layer for layer in s.skin if layer.name == "papillary_dermis")
    assert papillary.partition_of("lidocaine") == 0.8 and papillary.clearance_rate == 5e-4
    assert s.electroosmosis.volume_per_charge == 2.1e-9 and s.electroosmosis.reference_salt == 154.0
    assert s.clearance.vasoconstrictor == "epinephrine" and s.clearance.EC50 == pytest.approx(0.11)
    assert s.systemic["lidocaine"].volume_of_distribution == pytest.approx(0.077)
    assert s.systemic["epinephrine"].elimination_half_life == 180.0
    assert s.interstitial_fluid.concentrations == {"Na+": 140.0}
    assert [sp.name for sp in s.species_objects()] == s.species
    assert s.numerics.default_cells == 24 and s.numerics.linear_solver == "auto"


def test_provenance_is_kept():
    s = load_scenario(CONFIGS / "lidocaine_epinephrine.yaml")
    p = s.provenance
    assert p["donor.area"] == "source: LIDOSITE_LABEL"
    assert p["skin[0].thickness"].startswith("source: SANDBY2003 | note: ")
    assert p["skin[0].fixed_charge.isoelectric_point"] == "source: MARRO2001"
    assert p["skin[1].pH"] == "estimate: physiological"
    assert p["interstitial_fluid.Na+"].startswith("estimate:")
    assert p["protocol[0].current"] == "source: LIDOSITE_LABEL"
    resolved = s.resolved_dict()
    assert resolved["skin"][0]["thickness"]["value"] == "1.8e-05 m"
    assert resolved["skin"][0]["thickness"]["source"] == "SANDBY2003"
    assert resolved["donor"]["area"] == {"value": "0.0005 m^2", "source": "LIDOSITE_LABEL"}
    assert resolved["numerics"]["dt_initial"] == "0.001 s"  # default filled in
    assert resolved["protocol"][1] == {
        "kind": "rest",
        "duration": "3000.0 s",
        "current": None,
        "current_density": "0.0 A/m^2",
        "pulse": None,
        "reverse_every": None,
    }


def test_fentanyl_repeat_expanded():
    s = load_scenario(CONFIGS / "fentanyl_ionsys.yaml")
    assert s.species == ["fentanyl", "Na+", "Cl-"] and s.clearance.vasoconstrictor is None
    assert [step.kind for step in s.protocol] == ["current", "rest"] * 3
    assert s.protocol[4].current_density == pytest.approx(170e-6 / 2e-4)
    assert s.protocol_end() == 3 * 3600.0
    assert s.donor.concentrations()["fentanyl"] == pytest.approx(10.8e-6 / 0.37293 / (2e-4 * 1e-3), rel=1e-9)
    assert s.systemic["fentanyl"].elimination_half_life == 11 * 3600.0
    assert s.provenance["protocol[4].current"].startswith("source: IONSYS_170UA")
    assert s.provenance["donor.area"].startswith("estimate: IONSYS anode area NOT FOUND")


@pytest.mark.parametrize("name", NAMES[1:])
def test_variants_share_skin_with_the_reference(name):
    s, ref = load_scenario(CONFIGS / f"{name}.yaml"), load_scenario(CONFIGS / "lidocaine_epinephrine.yaml")
    assert s.skin == ref.skin
    # the same fluid; a scenario may add species of its own (H+ for acetic acid)
    common = {
        k: v for k, v in s.interstitial_fluid.concentrations.items() if k in ref.interstitial_fluid.concentrations
    }
    assert common == ref.interstitial_fluid.concentrations
    assert s.interstitial_fluid.balance_with == ref.interstitial_fluid.balance_with
    assert s.electroosmosis == ref.electroosmosis
    assert s.temperature == ref.temperature


def test_lidocaine_only_has_no_epinephrine():
    s = load_scenario(CONFIGS / "lidocaine_only.yaml")
    assert "epinephrine" not in s.species and "epinephrine" not in s.donor.contents
    assert s.clearance.vasoconstrictor is None and "epinephrine" not in s.systemic
    ref = load_scenario(CONFIGS / "lidocaine_epinephrine.yaml")
    assert s.donor.concentrations()["lidocaine"] == ref.donor.concentrations()["lidocaine"]
    assert s.protocol == ref.protocol and s.outputs == ref.outputs


def test_passive_is_zero_current():
    s = load_scenario(CONFIGS / "passive_lidocaine.yaml")
    assert [(step.kind, step.current_density) for step in s.protocol] == [("current", 0.0), ("rest", 0.0)]
    assert s.protocol_end() == 3600.0


# ------------------------------------------------------------------ language features


def test_current_density_form_and_nested_repeat():
    data = lido()
    data["protocol"] = [
        {
            "repeat": 2,
            "steps": [
                {"current_density": "0.1 mA/cm^2", "duration": "1 min"},
                {"repeat": 2, "steps": [{"rest": "30 s"}]},
            ],
        }
    ]
    data["outputs"]["profile_times"] = ["4 min"]
    data["outputs"]["penetration_threshold"] = "5 uM"
    s = scenario_from_dict(data)
    assert [step.kind for step in s.protocol] == ["current", "rest", "rest"] * 2
    assert s.protocol[0].current is None and s.protocol[0].current_density == pytest.approx(1.0)
    assert s.protocol_end() == 240.0
    assert s.outputs.penetration_threshold == pytest.approx(5e-3)


def test_donor_concentration_form_and_explicit_fluid():
    data = lido()
    data["donor"]["contents"]["lidocaine"] = {"concentration": "300 mM"}
    data["interstitial_fluid"] = {"concentrations": {"Na+": "140 mM", "Cl-": "140 mM"}}
    s = scenario_from_dict(data)
    assert s.donor.concentrations()["lidocaine"] == 300.0
    assert s.interstitial_fluid.concentrations == {"Na+": 140.0, "Cl-": 140.0}
    assert s.interstitial_fluid.balance_with is None


def test_yaml_anchors_and_aliases(tmp_path):
    text = (CONFIGS / "lidocaine_epinephrine.yaml").read_text()
    text = text.replace(
        "    fixed_charge:\n      isoelectric_point", "    fixed_charge: &charge\n      isoelectric_point", 1
    )
    text = text.replace(
        '    pH: {value: 7.4, estimate: "physiological"}\n',
        '    pH: {value: 7.4, estimate: "physiological"}\n    fixed_charge: *charge\n',
        1,
    )
    path = tmp_path / "alias.yaml"
    path.write_text(text)
    s = load_scenario(path)
    assert s.skin[1].fixed_charge == s.skin[0].fixed_charge
    assert s.provenance["skin[1].fixed_charge.isoelectric_point"] == "source: MARRO2001"


def test_input_is_not_modified():
    data = lido()
    before = copy.deepcopy(data)
    scenario_from_dict(data)
    assert data == before


# ------------------------------------------------------------------ errors


def _set(path, value):
    def mutate(d):
        *parents, last = path
        for p in parents:
            d = d[p]
        d[last] = value

    return mutate


def _pop(path):
    def mutate(d):
        *parents, last = path
        for p in parents:
            d = d[p]
        del d[last]

    return mutate


def _rename_content(d):
    d["donor"]["contents"]["lidocane"] = d["donor"]["contents"].pop("lidocaine")


ERRORS = [
    ("unknown species", _set(["species", 1], "epinephrin"), "species[1]", "unknown species 'epinephrin'"),
    ("content not a species", _rename_content, "donor.contents.lidocane", "'lidocane' is not in species"),
    ("negative thickness", _set(["skin", 2, "thickness"], "-57 um"), "skin[2].thickness", "must be positive"),
    ("zero thickness", _set(["donor", "thickness"], "0 mm"), "donor.thickness", "must be positive"),
    ("pH 15", _set(["skin", 2, "pH"], 15), "skin[2].pH", "between 0 and 14"),
    (
        "no units",
        _set(["skin", 0, "thickness"], {"value": 18, "source": "SANDBY2003"}),
        "skin[0].thickness",
        "has no units; expected a length such as '18 um'",
    ),
    ("no units, string", _set(["skin", 0, "thickness"], "18"), "skin[0].thickness", "has no units"),
    ("wrong dimension", _set(["skin", 0, "thickness"], "18 mA"), "skin[0].thickness", "expected a length"),
    ("missing donor", _pop(["donor"]), "donor", "required field is missing"),
    (
        "unknown source key",
        _set(["skin", 0, "thickness", "source"], "SANDBY2030"),
        "skin[0].thickness.source",
        "unknown source key 'SANDBY2030'; did you mean SANDBY2003",
    ),
    ("value without provenance", _pop(["skin", 0, "thickness", "source"]), "skin[0].thickness", "needs 'source'"),
    ("unknown field", _set(["skin", 0, "thicknes"], "1 um"), "skin[0].thicknes", "unknown field 'thicknes'"),
    ("unknown top-level field", _set(["colour"], "red"), "colour", "unknown field 'colour'"),
    ("bad step", _set(["protocol", 1], {"voltage": "1 V"}), "protocol[1]", "needs 'current'"),
    ("negative rest", _set(["protocol", 1], {"rest": "-5 min"}), "protocol[1].rest", "must be positive"),
    ("drug not in species", _set(["drug"], "fentanyl"), "drug", "'fentanyl' is not in species"),
    ("drug unknown", _set(["drug"], "aspirin"), "drug", "unknown species 'aspirin'"),
    (
        "vasoconstrictor",
        _set(["clearance", "vasoconstrictor"], "fentanyl"),
        "clearance.vasoconstrictor",
        "'fentanyl' is not in species",
    ),
    ("counter_ion", _set(["clearance", "counter_ion"], "OH-"), "clearance.counter_ion", "'OH-' is not in species"),
    ("balance_with", _set(["donor", "balance_with"], "Cl"), "donor.balance_with", "'Cl' is not in species"),
    (
        "fluid balance_with",
        _set(["interstitial_fluid", "balance_with"], "K+"),
        "interstitial_fluid.balance_with",
        "'K+' is not in species",
    ),
    ("fluid species", _set(["interstitial_fluid", "K+"], "4 mM"), "interstitial_fluid.K+", "'K+' is not in species"),
    ("fluid no units", _set(["interstitial_fluid", "Na+"], "140"), "interstitial_fluid.Na+", "has no units"),
    (
        "profile after end",
        _set(["outputs", "profile_times", 5], "2 h"),
        "outputs.profile_times[5]",
        "after the end of the protocol",
    ),
    (
        "profile unsorted",
        _set(["outputs", "profile_times", 1], "30 s"),
        "outputs.profile_times[1]",
        "strictly increasing",
    ),
    (
        "duplicate layer",
        lambda d: d["skin"][1].__setitem__("name", d["skin"][0]["name"]),
        "skin[1].name",
        "duplicate layer name",
    ),
    (
        "unknown salt",
        _set(["donor", "contents", "lidocaine", "salt"], "HBr"),
        "donor.contents.lidocaine.salt",
        "no salt 'HBr'",
    ),
    (
        "amount and concentration",
        _set(["donor", "contents", "lidocaine", "concentration"], "1 mM"),
        "donor.contents.lidocaine",
        "exactly one of 'amount' or 'concentration'",
    ),
    ("degC", _set(["temperature"], "37 degC"), "temperature", "plain K"),
    ("porosity > 1", _set(["skin", 0, "porosity"], {"value": 2, "estimate": "x"}), "skin[0].porosity", "fraction"),
    (
        "partition species",
        _set(["skin", 3, "partition"], {"lidocaine": 0.8, "fentanyl": 1}),
        "skin[3].partition.fentanyl",
        "'fentanyl' is not in species",
    ),
    ("negative clearance", _set(["skin", 3, "clearance_rate"], "-1 1/s"), "skin[3].clearance_rate", "not be negative"),
    (
        "systemic species",
        _set(["systemic", "Na"], {"volume_of_distribution": "1 L", "elimination_half_life": "1 h"}),
        "systemic.Na",
        "'Na' is not in species",
    ),
    (
        "threshold dimension",
        _set(["outputs", "penetration_threshold"], "1 mA"),
        "outputs.penetration_threshold",
        "mass concentration such as '1 ug/mL'",
    ),
    ("electrode", _set(["donor", "electrode"], "Pt"), "donor.electrode", "'Ag/AgCl'"),
    ("numerics no units", _set(["numerics"], {"dt_max": 30}), "numerics.dt_max", "has no units"),
    (
        "repeat count",
        _set(["protocol"], [{"repeat": 0, "steps": [{"rest": "1 min"}]}]),
        "protocol[0].repeat",
        "positive integer",
    ),
    (
        "inside repeat",
        _set(["protocol"], [{"repeat": 2, "steps": [{"rest": "1 min"}, {"current": "1 mA", "duration": "-1 min"}]}]),
        "protocol[0].steps[1].duration",
        "must be positive",
    ),
    (
        "inconsistent density",
        _set(["protocol", 0, "current_density"], "1 mA/cm^2"),
        "protocol[0].current_density",
        "disagrees with current/donor.area",
    ),
    ("empty skin", _set(["skin"], []), "skin", "at least 1 item"),
    ("inert without H+", _set(["donor", "electrode"], "inert"), "donor.electrode", "needs 'H+' in species"),
    (
        "buffer without water",
        _set(["donor", "buffer"], {"concentration": "20 mM", "pKa": 6.8}),
        "donor.buffer",
        "add 'H+' and 'OH-'",
    ),
    (
        "negative current",
        _set(["protocol", 0], {"current": "-1 mA", "duration": "1 min"}),
        "protocol[0].current",
        "give the magnitude",
    ),
    (
        "duty cycle 0",
        _set(
            ["protocol", 0], {"current": "1 mA", "duration": "1 min", "pulse": {"frequency": "1 Hz", "duty_cycle": 0}}
        ),
        "protocol[0].pulse.duty_cycle",
        "fraction",
    ),
    (
        "reversal too fast",
        _set(["protocol", 0], {"current": "1 mA", "duration": "1 min", "reverse_every": "1 ms"}),
        "protocol[0].reverse_every",
        "min_resolved_pulse_period",
    ),
    (
        "return pad same polarity",
        _set(
            ["return_electrode"], {"area": "5 cm^2", "thickness": "1 mm", "pH": 7, "contents": {}, "polarity": "anode"}
        ),
        "return_electrode.polarity",
        "donor's opposite (cathode)",
    ),
    (
        "H+ not given",
        _set(["species"], ["lidocaine", "epinephrine", "Na+", "Cl-", "H+"]),
        "interstitial_fluid",
        "give its H+",
    ),
    (
        "return pad salt",
        _set(
            ["return_electrode"],
            {
                "area": "5 cm^2",
                "thickness": "1 mm",
                "pH": 7,
                "contents": {"lidocaine": {"amount": "1 mg", "salt": "HBr"}},
            },
        ),
        "return_electrode.contents.lidocaine.salt",
        "no salt 'HBr'",
    ),
]


@pytest.mark.parametrize("mutate, field, reason", [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_error_field_and_reason(mutate, field, reason):
    data = lido()
    mutate(data)
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(data)
    assert info.value.field == field
    assert reason in info.value.reason
    assert str(info.value) == f"{field}: {info.value.reason}"


@pytest.mark.parametrize(
    "text, reason",
    [
        ("name: [unclosed\n", "YAML error in bad.yaml at line"),
        ("- a list\n", "must hold a mapping"),
        ("name: a\nname: b\n", "duplicate key 'name'"),
    ],
)
def test_file_level_errors(tmp_path, text, reason):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert info.value.field == "<file>" and reason in info.value.reason


def test_missing_file(tmp_path):
    with pytest.raises(ScenarioError) as info:
        load_scenario(tmp_path / "nope.yaml")
    assert info.value.field == "<file>" and "cannot read" in info.value.reason


def test_provenance_key_refused():
    data = lido()
    data["provenance"] = {}
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(data)
    assert info.value.field == "provenance"


# ------------------------------------------------------------------ extends


def _write(folder: Path, name: str, data: dict) -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_extends_merges_mappings_and_replaces_the_rest(tmp_path):
    """A file that extends another changes only what it writes: mappings merge key by key,
    lists and {value, source} leaves replace, null removes, and one of two alternatives
    (amount / concentration) drops the base's other."""
    (tmp_path / "sub").mkdir()
    base = raw("lidocaine_epinephrine")
    _write(tmp_path, "base.yaml", base)
    child = {
        "extends": "../base.yaml",
        "name": "child",
        "donor": {"pH": {"value": 5.0, "estimate": "a test"}, "contents": {"lidocaine": {"concentration": "100 mM"}}},
        "protocol": [{"current": "1 mA", "duration": "1 min"}],
        "outputs": {"profile_times": ["1 min"]},
        "systemic": None,
    }
    s = load_scenario(_write(tmp_path / "sub", "child.yaml", child))
    ref = load_scenario(CONFIGS / "lidocaine_epinephrine.yaml")
    assert s.name == "child" and s.donor.pH == 5.0 and s.provenance["donor.pH"] == "estimate: a test"
    assert s.donor.area == ref.donor.area and s.donor.contents["epinephrine"] == ref.donor.contents["epinephrine"]
    assert s.donor.contents["lidocaine"].concentration == pytest.approx(100.0)
    assert s.donor.contents["lidocaine"].amount is None
    assert len(s.protocol) == 1 and s.systemic == {} and s.skin == ref.skin
    assert s.outputs.penetration_threshold == ref.outputs.penetration_threshold


@pytest.mark.parametrize(
    "target, reason",
    [
        ("missing.yaml", "cannot read"),
        ("self.yaml", "extends itself"),
    ],
)
def test_extends_errors_name_the_field(tmp_path, target, reason):
    _write(tmp_path, "self.yaml", {"extends": target})
    with pytest.raises(ScenarioError) as err:
        load_scenario(tmp_path / "self.yaml")
    assert err.value.field == "extends" and reason in str(err.value)


def test_a_return_pad_must_have_the_area_the_geometry_gives_it():
    data = raw("lidocaine_epinephrine_2d")
    data.pop("extends")
    full = raw("lidocaine_epinephrine") | data
    full["return_electrode"]["area"] = "10 cm^2"
    with pytest.raises(ScenarioError) as err:
        scenario_from_dict(full)
    assert err.value.field == "return_electrode.area" and "5 cm^2" in str(err.value)


@pytest.mark.parametrize("name", ["appendages", "return_electrode", "donor"])
def test_skin_layers_may_not_take_a_region_name(name):
    data = raw("lidocaine_epinephrine")
    data["skin"][1]["name"] = name
    with pytest.raises(ScenarioError) as err:
        scenario_from_dict(data)
    assert err.value.field == "skin[1].name"
