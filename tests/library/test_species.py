"""Built-in species library and source keys."""

import re
from pathlib import Path

import pytest

from iontosim.library import LIBRARY, SOURCES, Species, check_source, get_species

REFERENCE = Path("/work/shared/reference/model_parameters.md")


@pytest.mark.parametrize("name, fraction", [("lidocaine", 0.76), ("fentanyl", 0.91), ("epinephrine", 0.96)])
def test_ionized_fraction_at_pH_7_4_matches_model_parameters(name, fraction):
    assert get_species(name).ionized_fraction(7.4) == pytest.approx(fraction, rel=0.01)


def test_ionized_fraction_forms():
    assert get_species("Na+").ionized_fraction(3.0) == 1.0
    lido = get_species("lidocaine")
    assert lido.ionized_fraction(lido.pKa) == pytest.approx(0.5)
    assert lido.ionized_fraction(4.5) > 0.999
    dex = get_species("dexamethasone_phosphate")
    assert dex.charge == -2 and dex.acid_base == "acid"
    assert dex.ionized_fraction(dex.pKa + 1) == pytest.approx(1 / 1.1)
    assert dex.ionized_fraction(4.0) < 0.01


@pytest.mark.parametrize("name", list(LIBRARY))
def test_diffusivity_exact_at_reference_temperatures(name):
    s = LIBRARY[name]
    assert s.diffusivity(310.15) == s.diffusivity_37C
    assert s.diffusivity(298.15) == s.diffusivity_25C


def test_diffusivity_log_linear():
    s = get_species("Na+")
    mid = s.diffusivity((298.15 + 310.15) / 2)
    assert mid == pytest.approx((s.diffusivity_25C * s.diffusivity_37C) ** 0.5, rel=1e-12)
    assert s.diffusivity(320.0) > s.diffusivity_37C  # extrapolation keeps the trend
    with pytest.raises(ValueError):
        s.diffusivity(0.0)


def test_values_from_model_parameters():
    lido, fent, epi = get_species("lidocaine"), get_species("fentanyl"), get_species("epinephrine")
    assert (lido.molar_mass, lido.salts["HCl"], lido.pKa) == (0.23434, 0.27080, 7.91)
    assert (fent.molar_mass, fent.salts["HCl"], fent.pKa) == (0.33648, 0.37293, 8.4)
    assert (epi.molar_mass, epi.pKa) == (0.18321, 8.749)
    assert get_species("Cl-").diffusivity_25C == 2.03e-9
    assert get_species("H+").diffusivity_25C == 9.311e-9
    assert lido.sources["pKa"] == "CLINICALGATE_LA" and epi.sources["pKa"] == "BRETTI2015"


@pytest.mark.parametrize("name", list(LIBRARY))
def test_every_number_has_a_source(name):
    s = LIBRARY[name]
    needed = {"molar_mass", "diffusivity_25C", "diffusivity_37C"} | {f"salts.{k}" for k in s.salts}
    if s.pKa is not None:
        needed.add("pKa")
    assert needed <= set(s.sources)
    for value in s.sources.values():
        assert value in SOURCES or value.startswith("estimate:")


def test_dexamethasone_values_are_labelled_estimates():
    dex = get_species("dexamethasone_phosphate")
    assert dex.molar_mass == 0.4724
    for key in ("molar_mass", "pKa", "diffusivity_25C", "diffusivity_37C"):
        assert dex.sources[key].startswith("estimate:") and "not in shared/reference" in dex.sources[key]


def test_unknown_species_lists_known():
    with pytest.raises(KeyError) as info:
        get_species("lidocane")
    message = info.value.args[0]
    assert "'lidocane'" in message and "lidocaine" in message and "Na+" in message


def test_species_is_frozen_and_checked():
    with pytest.raises(AttributeError):
        get_species("Na+").charge = 2
    with pytest.raises(ValueError):
        Species("x", 1, 0.1, 1e-9, 1e-9, sources={"molar_mass": "NOT_A_KEY"})
    with pytest.raises(ValueError):
        Species("x", 1, 0.1, 1e-9, 1e-9, pKa=7.0)  # pKa without acid_base


def test_salt_molar_mass():
    lido = get_species("lidocaine")
    assert lido.salt_molar_mass(None) == lido.molar_mass
    with pytest.raises(KeyError, match="HCl"):
        lido.salt_molar_mass("HBr")


def test_check_source_suggests():
    assert check_source("SANDBY2003") == "SANDBY2003"
    with pytest.raises(KeyError, match="SANDBY2003"):
        check_source("SANDBY2030")


@pytest.mark.skipif(not REFERENCE.exists(), reason="shared reference not available")
def test_all_section_10_keys_present():
    text = REFERENCE.read_text(encoding="utf-8")
    section = text[text.index("## 10. Source keys"):text.index("## 11.")]
    keys = set()
    for head in re.findall(r"^\* \*\*([^*]+)\*\*", section, flags=re.M):
        keys.update(k.strip() for k in head.split("/"))
    assert keys and keys <= set(SOURCES), keys - set(SOURCES)
    assert {"KOO2005", "model_parameters.md"} <= set(SOURCES)
