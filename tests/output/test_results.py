"""HDF5 round trip of a RunRecord, units attributes and layout."""

from __future__ import annotations

import dataclasses

import h5py
import numpy as np

from iontosim.output import read_results, write_results


def assert_records_equal(a, b):
    for field in dataclasses.fields(a):
        x, y = getattr(a, field.name), getattr(b, field.name)
        if field.name == "times":
            assert np.array_equal(x, y)
        elif field.name == "series":
            assert list(x) == list(y)
            for key in x:
                assert np.array_equal(x[key], y[key], equal_nan=True), key
        elif field.name == "profiles":
            assert len(x) == len(y)
            for p, q in zip(x, y):
                assert p.time == q.time
                assert np.array_equal(p.depth, q.depth)
                assert np.array_equal(p.potential, q.potential)
                for name in ("concentration", "tissue_concentration"):
                    d, e = getattr(p, name), getattr(q, name)
                    assert list(d) == list(e)
                    for s in d:
                        assert np.array_equal(d[s], e[s])
        else:
            assert x == y, field.name


def test_round_trip(record, tmp_path):
    path = write_results(tmp_path / "run.h5", record)
    back = read_results(path)
    assert_records_equal(record, back)
    assert back.species == ["lidocaine+", "Na+", "Cl-"]
    assert isinstance(back.current_on_intervals[0], tuple)


def test_layout_and_units(record, tmp_path):
    path = write_results(tmp_path / "run.h5", record)
    with h5py.File(path, "r") as f:
        assert f.attrs["scenario"] == "synthetic linear"
        assert f.attrs["drug"] == "lidocaine"
        assert f.attrs["area"] == 5e-4 and f.attrs["area_units"] == "m^2"
        ts = f["timeseries"]
        assert ts["time"].attrs["units"] == "s"
        assert ts["current_density"].attrs["units"] == "A/m^2"
        assert ts["skin_resistance"].attrs["units"] == "ohm m^2"
        assert ts["surface_flux/lidocaine+"].attrs["units"] == "mol/m^2/s"
        assert ts["delivered/Cl-"].attrs["units"] == "mol/m^2"
        assert ts["plasma_concentration/Na+"].attrs["units"] == "mol/m^3"
        assert ts["layer_amount/dermis/lidocaine+"].attrs["units"] == "mol/m^2"
        assert ts["mass_balance_error/Na+"].attrs["units"] == "1"
        assert sorted(ts["delivered"]) == sorted(["lidocaine+", "Na+", "Cl-"])
        assert list(f["profiles"]) == ["t=00000000.000s", "t=00000300.000s", "t=00000600.000s", "t=00001200.000s"]
        p = f["profiles/t=00001200.000s"]
        assert p.attrs["time"] == 1200.0 and p.attrs["time_units"] == "s"
        assert p["depth"].attrs["units"] == "m"
        assert p["potential"].attrs["units"] == "V"
        assert p["concentration/Cl-"].attrs["units"] == "mol/m^3"
        assert list(f["layers/name"].asstr()[()]) == ["donor", "stratum_corneum", "viable_epidermis", "dermis"]
        assert f["layers/top"].attrs["units"] == "m"
        assert f["current_on_intervals"].attrs["units"] == "s"


def test_more_than_ten_profiles_keep_order(record, tmp_path):
    base = record.profiles[-1]
    times = [float(k) for k in range(12)] + [600.0, 600.0002, 86400.0 * 30]  # two round onto one name
    record.profiles = [dataclasses.replace(base, time=t) for t in times]
    path = write_results(tmp_path / "run.h5", record)
    back = read_results(path)
    assert [p.time for p in back.profiles] == times
    with h5py.File(path, "r") as f:  # the names sort in time order, as h5py lists them
        names = list(f["profiles"])
        assert [f["profiles"][n].attrs["time"] for n in names] == times
        assert names[-3:] == ["t=00000600.000s", "t=00000600.000s.1", "t=02592000.000s"]


def test_names_read_as_str_with_plain_h5py(record, tmp_path):
    """A user's plain read of the names gives str: the group attribute, or the dataset with .asstr()
    (h5py 3 reads a string dataset as bytes)."""
    path = write_results(tmp_path / "run.h5", record)
    with h5py.File(path, "r") as f:
        layers = list(f["layers"].attrs["names"])
        assert layers == ["donor", "stratum_corneum", "viable_epidermis", "dermis"]
        assert all(type(name) is str for name in layers)
        species = list(f["species"].attrs["names"])
        assert species == ["lidocaine+", "Na+", "Cl-"] and all(type(name) is str for name in species)
        assert list(f["layers/name"].asstr()[()]) == layers and list(f["species/name"].asstr()[()]) == species
        assert f.attrs["format_version"] == 2 and type(f.attrs["scenario"]) is str


def test_format_version_1_files_are_still_read(record, tmp_path):
    """Files written before the profile groups were named by time (integer names 0, 1, ..., 10, 11)."""
    base = record.profiles[-1]
    record.profiles = [dataclasses.replace(base, time=60.0 * k) for k in range(12)]
    path = write_results(tmp_path / "run.h5", record)
    with h5py.File(path, "r+") as f:  # as format 1 wrote it
        f.attrs["format_version"] = 1
        for k, name in enumerate(list(f["profiles"])):
            f["profiles"].move(name, str(k))
        for group in ("species", "layers"):
            del f[group].attrs["names"]
    back = read_results(path)
    assert [p.time for p in back.profiles] == [60.0 * k for k in range(12)]
    assert_records_equal(record, back)
