"""User-defined species (iontosim.scenario.species_definitions): parsing, units, sources, estimates, errors."""

import pytest

from iontosim.library import LIBRARY, SOURCES, Species, get_species
from iontosim.scenario import provenance as prov
from iontosim.scenario.errors import ScenarioError
from iontosim.scenario.species_definitions import (
    HL_37_OVER_25,
    SpeciesDefinition,
    hayduk_laudie,
    parse_definition,
    register,
    resolve,
    to_species,
)
from iontosim.scenario.units import format_si, to_si

MY_DRUG = {
    "charge": +1,
    "pKa": 8.1,
    "acid_base": "base",
    "molar_mass": {"value": "300 g/mol", "source": "SIEGEL2007"},
    "diffusivity": {"value": "6e-6 cm^2/s", "estimate": "similar size to lidocaine"},
    "salts": {"HCl": "336.5 g/mol"},
    "partition": 2,
    "binding": 0.3,
}


def test_round_trip_to_si_species():
    (sp,) = register({"my_drug": MY_DRUG})
    assert isinstance(sp, Species) and sp.role == "drug" and sp.name == "my_drug"
    assert (sp.charge, sp.pKa, sp.acid_base) == (1, 8.1, "base")
    assert sp.molar_mass == pytest.approx(0.300)  # g/mol -> kg/mol
    assert sp.salts == {"HCl": pytest.approx(0.3365)}
    assert sp.diffusivity_25C == pytest.approx(6e-10)  # cm^2/s -> m^2/s
    assert sp.diffusivity_37C == pytest.approx(6e-10 * HL_37_OVER_25)
    assert sp.diffusivity(310.15) == sp.diffusivity_37C
    assert sp.ionized_fraction(8.1) == pytest.approx(0.5)
    assert sp.sources["molar_mass"] == "SIEGEL2007"
    assert sp.sources["diffusivity_25C"] == "estimate: similar size to lidocaine"
    for field in ("charge", "pKa", "salts.HCl"):  # bare values are labelled, with where they came from
        assert sp.sources[field] == f"estimate: user-supplied in species_definitions.my_drug.{field}, no source given"
    assert set(sp.sources) >= {"charge", "molar_mass", "diffusivity_25C", "diffusivity_37C", "pKa", "salts.HCl"}
    d = parse_definition("my_drug", MY_DRUG)
    assert (d.partition, d.binding) == (2.0, 0.3)


def test_loader_provenance_is_used():
    """The scenario loader unwraps {value, source} first and keeps the provenance by path."""
    found: dict[str, str] = {}
    plain = prov.unwrap({"species_definitions": {"my_drug": MY_DRUG}}, "", found)
    definition = SpeciesDefinition.model_validate(plain["species_definitions"]["my_drug"])
    sp = to_species("my_drug", definition, found)
    assert sp.sources["molar_mass"] == "SIEGEL2007"
    assert sp.sources["diffusivity_25C"] == "estimate: similar size to lidocaine"
    noted = {"species_definitions.my_drug.pKa": "source: SIEGEL2007, PATEL2007 | note: at 25 C"}
    assert to_species("my_drug", definition, noted).sources["pKa"] == "SIEGEL2007, PATEL2007"
    with pytest.raises(ScenarioError) as info:  # the Species check runs on loader provenance too
        to_species("my_drug", definition, {"species_definitions.my_drug.pKa": "source: NOT_A_KEY"})
    assert info.value.field == "species_definitions.my_drug"


def test_resolved_quantities_reload():
    """New dimensions print as SI text that parses back (Scenario.resolved_dict round trip)."""
    assert format_si(0.3, "molar_mass") == "0.3 kg/mol" and to_si("0.3 kg/mol", "molar_mass") == 0.3
    assert to_si(format_si(6e-10, "diffusivity"), "diffusivity") == 6e-10


def test_missing_diffusivity_is_estimated_from_molar_mass():
    sp = to_species("lido_like", {"charge": 1, "molar_mass": "234.34 g/mol"})
    assert sp.sources["diffusivity_25C"].startswith("estimate: Hayduk-Laudie from molar mass")
    assert sp.sources["diffusivity_37C"].startswith("estimate: Hayduk-Laudie from molar mass")
    assert sp.diffusivity_37C / sp.diffusivity_25C == pytest.approx(HL_37_OVER_25)
    # lidocaine's library value (Hayduk-Laudie with its Le Bas volume): observed +4.1 %
    lido = get_species("lidocaine")
    assert sp.diffusivity_25C == pytest.approx(lido.diffusivity_25C, rel=0.30)
    assert sp.diffusivity_25C / lido.diffusivity_25C - 1 == pytest.approx(0.041, abs=0.005)


@pytest.mark.parametrize(
    "molar_mass, viscosity, measured, observed",
    [
        (0.060052, 0.890, get_species("acetate").diffusivity_25C, +0.108),  # acetic acid vs acetate (LANGE_T832)
        (0.18217, 0.692, 9.1e-10, -0.081),  # mannitol at 37 C (MEMBRANES2021_T1)
        (0.34230, 0.692, 7.2e-10, -0.199),  # sucrose at 37 C (MEMBRANES2021_T1)
    ],
)
def test_correlation_against_measured_values(molar_mass, viscosity, measured, observed):
    """Independent checks of the molar-mass correlation (not used to build it): all within 30 %."""
    error = hayduk_laudie(molar_mass, viscosity) / measured - 1
    assert abs(error) < 0.30 and error == pytest.approx(observed, abs=0.005)
    assert "MEMBRANES2021_T1" in SOURCES and "LANGE_T832" in SOURCES


def _field_of(definitions) -> str:
    with pytest.raises(ScenarioError) as info:
        register(definitions)
    assert isinstance(info.value, ValueError)
    return info.value.field


BASE = {"charge": 1, "molar_mass": "300 g/mol"}


@pytest.mark.parametrize(
    "change, field",
    [
        ({"charge": 0}, "charge"),
        ({"charge": 1.5}, "charge"),
        ({"charge": True}, "charge"),
        ({"pKa": 8.1}, "pKa"),  # pKa without acid_base
        ({"acid_base": "acid"}, "acid_base"),  # acid_base without pKa
        ({"acid_base": "weak", "pKa": 4}, "acid_base"),
        ({"molar_mass": "-300 g/mol"}, "molar_mass"),
        ({"molar_mass": "300 g"}, "molar_mass"),  # wrong dimension
        ({"molar_mass": 300}, "molar_mass"),  # no units
        ({"molar_mass": {"value": "300 g/mol", "source": "NOT_A_KEY"}}, "molar_mass.source"),
        ({"molar_mass": {"value": "300 g/mol"}}, "molar_mass"),  # a {value} mapping without source/estimate
        ({"diffusivity": "6e-10 m/s"}, "diffusivity"),
        ({"diffusivity": "-6e-10 m^2/s"}, "diffusivity"),
        ({"salts": {"HCl": "2 mL"}}, "salts.HCl"),
        ({"partition": 0}, "partition"),
        ({"binding": 1}, "binding"),
        ({"binding": -0.1}, "binding"),
        ({"colour": "blue"}, "colour"),  # unknown field
    ],
)
def test_bad_inputs_name_the_field(change, field):
    assert _field_of({"my_drug": {**BASE, **change}}) == f"species_definitions.my_drug.{field}"


def test_missing_field_and_bad_container():
    assert _field_of({"my_drug": {"charge": 1}}) == "species_definitions.my_drug.molar_mass"
    assert _field_of({"my_drug": "lidocaine"}) == "species_definitions.my_drug"
    assert _field_of(["my_drug"]) == "species_definitions"
    assert register(None) == [] and register({}) == []


@pytest.mark.parametrize("name", ["lidocaine", "Lidocaine", "Na+", "acetate"])
def test_name_clashing_with_builtin(name):
    with pytest.raises(ScenarioError, match="clashes with the built-in species") as info:
        register({name: BASE})
    assert info.value.field == f"species_definitions.{name}"


def test_error_message_lists_allowed_fields():
    with pytest.raises(ScenarioError, match="unknown field 'colour'; allowed: charge, pKa, acid_base"):
        register({"my_drug": {**BASE, "colour": "blue"}})


def test_resolve_builtin_first():
    user = register({"my_drug": BASE})
    assert resolve("lidocaine", user) is LIBRARY["lidocaine"]
    assert resolve("my_drug", user) is user[0]
    with pytest.raises(KeyError, match="lidocaine.*user-defined: my_drug"):
        resolve("lidocane", user)
