"""Built-in species library and source keys."""

from pathlib import Path

import pytest

from iontosim.library import LIBRARY, SOURCES, Species, check_source, get_species
from iontosim.library.sources import PROJECT_KEYS
from iontosim.physics.constants import FARADAY, GAS_CONSTANT

ROOT = Path(__file__).resolve().parents[2]

#: the keys of the bibliography the project started from (the primary sources of the built-in species,
#: the default skin and the first scenarios): none may be dropped while a value could still cite it
CORE_KEYS = {
    "AGCL_WIKI", "ASHBURN1995", "ASHBURN1997", "BERNARDS1999", "BMC2018_TABLE3", "BRETTI2015", "CALCUTT2019",
    "CALCUTT2022", "CHIZMADZHEV1998", "CLINICALGATE_LA", "COMPEX_ELECTROLYSIS", "CRC_VANYSEK", "CURDY2000",
    "ETRANS1998", "FENT_PPB1981", "GRATIERI2013", "HIGUCHI_PE", "IONSYS_170UA", "IONSYS_LABEL", "IYENGAR2018",
    "JEB2019", "KASTING_BOWMAN1990", "KASTING_KEISTER1989", "KEISTER_KASTING1992", "KIM1993", "KIRK_TABLE",
    "KLEIN_LIDO", "KRETSOS2005", "KRETSOS2008", "LAI1999", "LIDDELL2011", "LIDOSITE_LABEL", "LIDO_PPB", "LI_AC_HEM",
    "LI_CCAC2003", "LUZARDO1998", "MARRO2001", "MINHAS2010", "MORGAN_MIKHAIL", "MUDRY2006", "MUDRY2007",
    "MYLES_OCULAR", "NORTHSTAR_PED", "OH1993", "OHMAN1994", "OLTULU2018", "PHARMSCI_SKINCIRC", "PIKAL1990_II",
    "PIKAL1990_III", "PLIQUETT2004", "RAT_NBF", "RIVIERE1991", "RIVIERE1992", "SALIBA2011", "SANDBY2003", "SIMS1990",
    "SKINPHARMACOL1995", "SMOLECULE", "SPRINGER_CH5", "TDCS_TEMP2017", "TSUGITA2013", "XE133_CUTANEOUS",
    "XENOBIOTICA2015", "XU2017",
}  # fmt: skip


@pytest.mark.parametrize("name, fraction", [("lidocaine", 0.76), ("fentanyl", 0.91), ("epinephrine", 0.96)])
def test_ionized_fraction_at_pH_7_4(name, fraction):
    """Henderson-Hasselbalch at pH 7.4 (docs/derivations.md#ionized-fractions)."""
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


def test_values_from_the_cited_sources():
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
    for value in s.sources.values():  # a key, keys joined by ", " (DERIVED with its inputs), or an estimate
        assert value.startswith("estimate:") or all(key in SOURCES for key in value.split(", ")), value


def test_dexamethasone_values_are_labelled_estimates():
    dex = get_species("dexamethasone_phosphate")
    assert dex.molar_mass == 0.4724
    for key in ("molar_mass", "pKa", "diffusivity_25C", "diffusivity_37C"):
        assert dex.sources[key].startswith("estimate:") and "no published value found" in dex.sources[key]


def test_dexamethasone_salt_from_the_label():
    dex = get_species("dexamethasone_phosphate")
    assert dex.salts["disodium"] == 0.51641 and dex.sources["salts.disodium"] == "DEXSP_LABEL"
    # the label's "4.37 mg of the disodium salt = 4 mg dexamethasone phosphate" fixes the free acid's mass
    assert dex.molar_mass == pytest.approx(dex.salts["disodium"] * 4 / 4.37, rel=1e-3)
    assert dex.ionized_fraction(7.0) > 0.75  # the label's pH 7 to 8.5: mostly the dianion (pKa an estimate)


def test_acetate():
    ac = get_species("acetate")
    assert (ac.charge, ac.acid_base, ac.pKa, ac.role) == (-1, "acid", 4.76, "drug")
    assert ac.ionized_fraction(4.76) == pytest.approx(0.5)
    assert ac.ionized_fraction(7.4) > 0.99 and ac.ionized_fraction(2.5) < 0.01
    # Lange's limiting conductance 41e-4 m^2 S/mol at 25 C gives D = RT lambda / F^2
    R, F = GAS_CONSTANT, FARADAY
    assert ac.diffusivity_25C == pytest.approx(R * 298.15 * 41e-4 / F**2, rel=0.005)
    assert ac.diffusivity_37C == pytest.approx(1.3 * ac.diffusivity_25C, rel=0.005)
    assert ac.sources["diffusivity_25C"] == "LANGE_T832" and ac.sources["pKa"] == "AQION_PKA"
    assert ac.sources["diffusivity_37C"].startswith("estimate:")


def test_describe_lists_every_value_with_its_source():
    lido = get_species("lidocaine")
    rows = {field: (value, src) for field, value, src in lido.describe()}
    assert rows["molar_mass"] == ("234.34 g/mol", "SMOLECULE")
    assert rows["pKa"] == ("7.91 (base)", "CLINICALGATE_LA")
    assert rows["salts.HCl"][0] == "270.8 g/mol"
    assert rows["diffusivity_25C"] == ("5.2e-10 m^2/s", lido.sources["diffusivity_25C"])
    assert dict((f, s) for f, _, s in get_species("Na+").describe())["charge"] == "-"
    for name in LIBRARY:  # every number a source or an estimate, except ions' charges
        for field, _, src in LIBRARY[name].describe():
            assert src != "-" or field == "charge"


def test_several_source_keys_accepted():
    s = Species("x", 1, 0.1, 1e-9, 1e-9, sources={"molar_mass": "SANDBY2003, KOO2005"})
    assert s.sources["molar_mass"] == "SANDBY2003, KOO2005"
    with pytest.raises(ValueError):
        Species("x", 1, 0.1, 1e-9, 1e-9, sources={"molar_mass": "SANDBY2003, NOT_A_KEY"})


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


def test_core_keys_present():
    assert CORE_KEYS <= set(SOURCES), CORE_KEYS - set(SOURCES)
    assert {"KOO2005", "DERIVED", "PROJECT_ESTIMATE"} <= set(SOURCES)


def test_project_keys_point_to_the_working():
    """DERIVED and PROJECT_ESTIMATE name no publication: they say where the working is, and it exists."""
    assert PROJECT_KEYS == {"DERIVED", "PROJECT_ESTIMATE", "DEPTH_RULE_OF_THUMB"} and PROJECT_KEYS <= set(SOURCES)
    for key in ("DERIVED", "PROJECT_ESTIMATE"):
        assert "docs/derivations.md" in SOURCES[key]
    assert (ROOT / "docs" / "derivations.md").is_file()
    derived = {f"{name}.{field}" for name, s in LIBRARY.items() for field, src in s.sources.items() if "DERIVED" in src}
    assert {"Na+.diffusivity_37C", "lidocaine.salts.HCl", "epinephrine.salts.bitartrate"} <= derived
