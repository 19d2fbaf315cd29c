"""What a run directory holds for a reader without iontosim: results.h5 described dataset by
dataset, from shipped scenarios (shortened)."""

from __future__ import annotations

from pathlib import Path

import h5py
import pytest

import iontosim

SHORT = {"numerics.refinement": 0.5}
#: shipped scenarios that together record most kinds of series: clearance and plasma (lidocaine
#: with epinephrine), the buffers' protons at a fixed pH (acetic acid), an inert electrode with a
#: return electrode's column (return_electrode.h5)
RUNS = {
    "lidocaine_epinephrine": {
        "protocol": [{"current": "1.77 mA", "duration": "2 min"}, {"rest": "1 min"}],
        "outputs.profile_times": ["1 min", "3 min"],
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
    import json

    with h5py.File(runs["lidocaine_epinephrine"] / "results.h5", "r") as f:
        assert sorted(f["timeseries/plasma_concentration"]) == ["epinephrine", "lidocaine"]  # not Na+, Cl-
        assert f["timeseries/plasma_concentration/lidocaine"][-1] > 0
    with h5py.File(runs["acetic_acid_cathodal"] / "results.h5", "r") as f:  # no systemic section
        assert "plasma_concentration" not in f["timeseries"]
        assert not [k for k in f["timeseries"].attrs["keys"] if k.startswith("plasma")]
    lido = json.loads((runs["lidocaine_epinephrine"] / "summary.json").read_text())
    acid = json.loads((runs["acetic_acid_cathodal"] / "summary.json").read_text())
    assert lido["peak_plasma_concentration_ng_per_mL"] > 0
    assert acid["peak_plasma_concentration_ng_per_mL"] == 0.0  # as before: the terminal says "not modelled"
