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
        p = f["profiles/3"]
        assert p.attrs["time"] == 1200.0 and p.attrs["time_units"] == "s"
        assert p["depth"].attrs["units"] == "m"
        assert p["potential"].attrs["units"] == "V"
        assert p["concentration/Cl-"].attrs["units"] == "mol/m^3"
        assert list(f["layers/name"].asstr()[()]) == ["donor", "stratum_corneum", "viable_epidermis", "dermis"]
        assert f["layers/top"].attrs["units"] == "m"
        assert f["current_on_intervals"].attrs["units"] == "s"


def test_more_than_ten_profiles_keep_order(record, tmp_path):
    base = record.profiles[-1]
    record.profiles = [dataclasses.replace(base, time=float(k)) for k in range(12)]
    back = read_results(write_results(tmp_path / "run.h5", record))
    assert [p.time for p in back.profiles] == [float(k) for k in range(12)]
