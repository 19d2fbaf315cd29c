"""What a run directory holds for a reader without iontosim, from shipped scenarios (shortened):
results.h5 described dataset by dataset, and its time series and profiles as CSV tables whose
every column has its unit and equals the HDF5 dataset it comes from."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import h5py
import numpy as np
import pytest

import iontosim
from iontosim.scenario.units import ureg

SHORT = {"numerics.refinement": 0.5}
#: shipped scenarios that together record most kinds of series: clearance and plasma (lidocaine
#: with epinephrine), the buffers' protons at a fixed pH (acetic acid), an inert electrode with a
#: return electrode's column (return_electrode.h5)
RUNS = {
    "lidocaine_epinephrine": {
        "protocol": [{"current": "1.77 mA", "duration": "2 min"}, {"rest": "1 min"}],
        "outputs.profile_times": ["1 min", "3 min"],
        "setup.passive_control": True,  # passive_control.h5 and its tables
    },
    "acetic_acid_cathodal": {
        "protocol": [{"current": "5 mA", "duration": "1 min"}, {"rest": "1 min"}],
        "outputs.profile_times": ["2 min"],
    },
    "metal_electrode_saline": {
        "protocol": [{"current": "2 mA", "duration": "1 min"}, {"rest": "1 min"}],
        "outputs.profile_times": ["1 min", "2 min"],
    },
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("runs")
    out = {}
    for name, overrides in RUNS.items():
        result = iontosim.run(iontosim.load(name, **SHORT, **overrides), out=folder / name, plots=False)
        out[name] = result.directory
    return out


def _datasets(path: Path) -> dict[str, dict]:
    found = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: found.update({name: dict(obj.attrs)}) if isinstance(obj, h5py.Dataset) else None)
    return found


@pytest.mark.parametrize("name", RUNS)
def test_every_dataset_has_a_description_and_units(runs, name):
    files = sorted(runs[name].glob("*.h5"))
    assert (name == "metal_electrode_saline") == any(p.name == "return_electrode.h5" for p in files)
    assert (name == "lidocaine_epinephrine") == any(p.name == "passive_control.h5" for p in files)
    for path in files:
        datasets = _datasets(path)
        assert len(datasets) > 20
        for dataset, attrs in datasets.items():
            assert attrs.get("units"), f"{path.name}:{dataset}"
            description = attrs.get("description", "")
            assert isinstance(description, str) and len(description) > 10, f"{path.name}:{dataset}"
            assert "recorded by the term" not in description  # a shipped term declares what it records


def test_signed_series_say_which_way_is_positive(runs):
    with h5py.File(runs["lidocaine_epinephrine"] / "results.h5", "r") as f:
        ts = f["timeseries"]
        assert ts["surface_flux/lidocaine"].attrs["sign_convention"] == "positive into the skin"
        assert ts["delivered/lidocaine"].attrs["sign_convention"] == "positive into the skin"
        assert "donor electrode is the anode" in ts["current_density"].attrs["sign_convention"]
        assert ts["voltage"].attrs["sign_convention"].startswith("donor electrode minus deep tissue")
        assert ts["cleared/lidocaine"].attrs["sign_convention"].startswith("positive: taken out of the model")
        assert "sign_convention" not in ts["donor_amount/lidocaine"].attrs  # an amount has no sign
        assert "capillaries" in ts["cleared/lidocaine"].attrs["description"]
        profile = f["profiles"][list(f["profiles"])[-1]]
        assert profile["depth"].attrs["sign_convention"].startswith("positive below the skin surface")
    record = iontosim.output.read_results(runs["lidocaine_epinephrine"] / "results.h5")
    assert record.descriptions["time"] and set(record.descriptions) == set(record.units)
    assert record.sign_conventions["surface_flux/lidocaine"] == "positive into the skin"


def test_plasma_series_only_for_species_with_a_systemic_model(runs):
    with h5py.File(runs["lidocaine_epinephrine"] / "results.h5", "r") as f:
        assert sorted(f["timeseries/plasma_concentration"]) == ["epinephrine", "lidocaine"]  # not Na+, Cl-
        assert f["timeseries/plasma_concentration/lidocaine"][-1] > 0
    with h5py.File(runs["acetic_acid_cathodal"] / "results.h5", "r") as f:  # no systemic section
        assert "plasma_concentration" not in f["timeseries"]
        assert not [k for k in f["timeseries"].attrs["keys"] if k.startswith("plasma")]
    lido = json.loads((runs["lidocaine_epinephrine"] / "summary.json").read_text())
    acid = json.loads((runs["acetic_acid_cathodal"] / "summary.json").read_text())
    assert lido["peak_plasma_concentration_ng_per_mL"] > 0
    assert acid["peak_plasma_concentration_ng_per_mL"] is None  # not modelled, not a measured zero


# ---------------------------------------------------------------------------- CSV tables
def _table(path: Path) -> tuple[list[str], list[str], list[list[str]]]:
    """(comment lines, header, rows) of a CSV table of the run directory."""
    lines = path.read_text().splitlines()
    comments = [line for line in lines if line.startswith("#")]
    assert lines[: len(comments)] == comments  # the comments come first
    header, *rows = list(csv.reader(lines[len(comments) :]))
    return comments, header, rows


def _number(cell: str) -> float:
    return math.nan if cell == "" else float(cell)


def _si_to(values, si: str, unit: str, molar_mass: float | None) -> np.ndarray:
    """`values` in SI unit `si` converted to `unit` by pint (a species' amount to a mass)."""
    if unit == si:
        return np.asarray(values, dtype=float)
    q = ureg.Quantity(np.asarray(values, dtype=float), si)
    if q.dimensionality != ureg.Quantity(1.0, unit).dimensionality:
        q = q * ureg.Quantity(molar_mass, "kg/mol")
    return q.to(unit).magnitude


def _tables(folder: Path) -> list[tuple[Path, str]]:
    """(HDF5 file, its tables' prefix) of every record of a run directory."""
    prefixes = {"results.h5": "", "return_electrode.h5": "return_electrode_", "passive_control.h5": "passive_control_"}
    return [(folder / name, prefix) for name, prefix in prefixes.items() if (folder / name).exists()]


@pytest.mark.parametrize("name", RUNS)
def test_timeseries_csv_is_the_hdf5_series_in_the_units_of_its_header(runs, name):
    for h5, prefix in _tables(runs[name]):
        comments, header, rows = _table(runs[name] / f"{prefix}timeseries.csv")
        with h5py.File(h5, "r") as f:
            ts = f["timeseries"]
            keys = list(ts.attrs["keys"])
            molar_mass = dict(zip(f["species"].attrs["names"], f["species/molar_mass"][()]))
            assert header[0] == "time [min]" and [h.rsplit(" [", 1)[0] for h in header[1:]] == keys
            assert len(rows) == len(ts["time"]) and all(len(row) == len(header) for row in rows)
            columns = np.array([[_number(c) for c in row] for row in rows]).T
            assert columns[0] == pytest.approx(ts["time"][()] / 60, rel=1e-14)
            for key, head, column in zip(keys, header[1:], columns[1:]):
                unit = head.rsplit(" [", 1)[1].rstrip("]")
                species = key.rsplit("/", 1)[-1]
                expected = _si_to(ts[key][()], ts[key].attrs["units"], unit, molar_mass.get(species))
                assert column == pytest.approx(expected, rel=1e-12, abs=1e-300, nan_ok=True), head
            signed = [k for k in keys if "sign_convention" in ts[k].attrs]
        assert signed and comments[0].startswith("# run ") and "# sign conventions:" in comments
        for key in signed:  # every signed series is named in the comments, a species' once
            head, _, last = key.rpartition("/")
            pattern = f"{head}/<species>" if head and last in molar_mass else key
            assert any(line.startswith(f"#   {pattern}: ") for line in comments), key


def test_timeseries_csv_in_the_units_of_the_summary(runs):
    _, header, rows = _table(runs["lidocaine_epinephrine"] / "timeseries.csv")
    summary = json.loads((runs["lidocaine_epinephrine"] / "summary.json").read_text())
    column = {h: np.array([_number(row[k]) for row in rows]) for k, h in enumerate(header)}
    assert column["delivered/lidocaine [ug/cm^2]"][-1] == pytest.approx(summary["drug_delivered_ug_per_cm2"], rel=1e-14)
    peak_plasma = max(column["plasma_concentration/lidocaine [ng/mL]"])
    assert peak_plasma == pytest.approx(summary["peak_plasma_concentration_ng_per_mL"], rel=1e-14)
    peak_flux = max(column["surface_flux/lidocaine [ug/cm^2/h]"])
    assert peak_flux == pytest.approx(summary["peak_drug_flux_ug_per_cm2_per_h"], rel=1e-14)
    assert max(column["current_density [mA/cm^2]"]) == pytest.approx(summary["peak_current_density_mA_per_cm2"])
    assert "skin_resistance [kohm cm^2]" in column and "electroosmotic_velocity [uL/cm^2/h]" in column
    assert math.isnan(column["skin_resistance [kohm cm^2]"][-1])  # no current: an empty cell


@pytest.mark.parametrize("name", RUNS)
def test_profiles_csv_is_the_hdf5_profiles_in_long_format(runs, name):
    for h5, prefix in _tables(runs[name]):
        comments, header, rows = _table(runs[name] / f"{prefix}profiles.csv")
        assert header == [
            "time [min]",
            "depth [um]",
            "layer",
            "species",
            "concentration [ug/mL]",
            "tissue_concentration [ug/mL]",
            "potential [V]",
        ]
        assert any("depth: positive below the skin surface" in line for line in comments)
        with h5py.File(h5, "r") as f:
            species = list(f["species"].attrs["names"])
            molar_mass = dict(zip(species, f["species/molar_mass"][()]))
            layers = list(f["layers"].attrs["names"])
            tops, bottoms = f["layers/top"][()], f["layers/bottom"][()]
            groups = [f["profiles"][g] for g in f["profiles"]]
            assert len(rows) == sum(len(g["depth"]) * len(species) for g in groups) > 0
            at = 0
            for g in groups:
                n = len(g["depth"])
                block = rows[at : at + n * len(species)]
                at += n * len(species)
                assert {float(row[0]) for row in block} == {g.attrs["time"] / 60}
                for k, s in enumerate(species):
                    mine = block[k :: len(species)]
                    assert [row[3] for row in mine] == [s] * n
                    depth = np.array([float(row[1]) for row in mine])
                    assert depth == pytest.approx(g["depth"][()] * 1e6, rel=1e-14, abs=1e-300)
                    for column, name_ in ((4, "concentration"), (5, "tissue_concentration")):
                        values = np.array([_number(row[column]) for row in mine])
                        expected = _si_to(g[f"{name_}/{s}"][()], "mol/m^3", "ug/mL", molar_mass[s])
                        assert values == pytest.approx(expected, rel=1e-12, abs=1e-300), (s, name_)
                    potential = np.array([float(row[6]) for row in mine])
                    assert potential == pytest.approx(g["potential"][()], rel=1e-14, abs=1e-300)
                    # every point's layer holds its depth; at an interface, the upper one first
                    for row, x in zip(mine, g["depth"][()]):
                        j = layers.index(row[2])
                        assert tops[j] <= x <= bottoms[j]
                    names = [row[2] for row in mine]
                    assert names[0] == layers[0] and names[-1] == layers[-1]
                    assert [name for j, name in enumerate(names) if j == 0 or name != names[j - 1]] == layers
