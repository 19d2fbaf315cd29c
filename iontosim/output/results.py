"""HDF5 results file: write a RunRecord and read it back.

Layout (format_version 2; every dataset carries a ``units`` attribute):

    /                      attrs: scenario, drug, area (+ area_units), protocol_end,
                           applied_charge (+ *_units), format_version
    /species/{name, charge, molar_mass}      attrs: names (the species' names as strings)
    /layers/{name, top, bottom}              attrs: names (the regions' names as strings)
    /current_on_intervals  (n, 2) [s]
    /timeseries/time       [s]
    /timeseries/<key>      one dataset per series key; "/" in a key nests groups,
                           e.g. /timeseries/delivered/lidocaine+
    /profiles/t=<time>s    one group per profile time, named by its time in seconds, zero-padded
                           so that the names sort in time order (t=00000600.000s); attrs time,
                           time_units; datasets depth, potential, concentration/<species>,
                           tissue_concentration/<species>

Names: h5py 3 reads a string dataset as bytes (``f["layers/name"][()]`` gives ``[b"donor", ...]``);
``f["layers/name"].asstr()[()]`` gives str, and so does the group attribute
``f["layers"].attrs["names"]`` (attributes read as str).

Format version 1 (before profile groups were named by time) numbered the profile groups
/profiles/0, /profiles/1, ...; read_results reads both.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from .record import LayerSpan, Profile, RunRecord

FORMAT_VERSION = 2
_STR = h5py.string_dtype()


def profile_group_name(time: float, group: h5py.Group | None = None) -> str:
    """The name of the profile group at `time` [s]: t=00000600.000s (sorts in time order up to
    10^8 s; a time that rounds onto a name `group` has already gets a suffix)."""
    name = f"t={time:012.3f}s"
    if group is None or name not in group:
        return name
    return next(f"{name}.{k}" for k in range(1, len(group) + 2) if f"{name}.{k}" not in group)


def _dataset(group: h5py.Group, name: str, data, units: str) -> h5py.Dataset:
    dset = group.create_dataset(name, data=data)
    dset.attrs["units"] = units
    return dset


def write_results(path: str | Path, record: RunRecord) -> Path:
    """Write ``record`` to an HDF5 file at ``path`` (overwritten); return the path."""
    bad = [s for s in record.species if "/" in s or s in ("", ".")]
    if bad:
        raise ValueError(f"species names {bad} cannot be HDF5 names")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        f.attrs["format_version"] = FORMAT_VERSION
        f.attrs["scenario"] = record.scenario_name
        f.attrs["drug"] = record.drug
        f.attrs["area"] = float(record.area)
        f.attrs["area_units"] = "m^2"
        f.attrs["protocol_end"] = float(record.protocol_end)
        f.attrs["protocol_end_units"] = "s"
        f.attrs["applied_charge"] = float(record.applied_charge)
        f.attrs["applied_charge_units"] = "C/m^2"

        sp = f.create_group("species")
        sp.attrs["names"] = np.array(record.species, dtype=_STR)
        _dataset(sp, "name", np.array(record.species, dtype=_STR), "1")
        _dataset(sp, "charge", [int(record.charges[s]) for s in record.species], "1")
        _dataset(sp, "molar_mass", [float(record.molar_mass[s]) for s in record.species], "kg/mol")

        lay = f.create_group("layers")
        lay.attrs["description"] = "depth below the skin surface; donor has negative depths"
        lay.attrs["names"] = np.array([layer.name for layer in record.layers], dtype=_STR)
        _dataset(lay, "name", np.array([layer.name for layer in record.layers], dtype=_STR), "1")
        _dataset(lay, "top", np.array([layer.top for layer in record.layers], dtype=float), "m")
        _dataset(lay, "bottom", np.array([layer.bottom for layer in record.layers], dtype=float), "m")

        intervals = np.array(record.current_on_intervals, dtype=float).reshape(-1, 2)
        _dataset(f, "current_on_intervals", intervals, "s")

        ts = f.create_group("timeseries")
        ts.attrs["keys"] = np.array(list(record.series), dtype=_STR)
        _dataset(ts, "time", np.asarray(record.times, dtype=float), "s")
        for key, values in record.series.items():
            if key == "time":
                raise ValueError("series key 'time' is reserved")
            if key not in record.units:
                raise ValueError(f"series {key!r} has no unit: the term that records it must declare one")
            _dataset(ts, key, np.asarray(values, dtype=float), record.units[key])

        pr = f.create_group("profiles")
        for prof in record.profiles:
            g = pr.create_group(profile_group_name(prof.time, pr))
            g.attrs["time"] = float(prof.time)
            g.attrs["time_units"] = "s"
            g.attrs["units"] = (
                "depth: m; potential: V; concentration: mol/m^3 of pore fluid; tissue_concentration: mol/m^3 of tissue"
            )
            _dataset(g, "depth", np.asarray(prof.depth, dtype=float), "m")
            _dataset(g, "potential", np.asarray(prof.potential, dtype=float), "V")
            for s, c in prof.concentration.items():
                _dataset(g, f"concentration/{s}", np.asarray(c, dtype=float), "mol/m^3")
            for s, c in prof.tissue_concentration.items():
                _dataset(g, f"tissue_concentration/{s}", np.asarray(c, dtype=float), "mol/m^3")
    return path


def _datasets_under(group: h5py.Group, order=()) -> dict[str, np.ndarray]:
    """All datasets below ``group``, keyed by their path relative to it, ``order`` first."""
    found: dict[str, np.ndarray] = {}

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset):
            found[name] = obj[()]

    group.visititems(visit)
    first = [k for k in order if k in found]
    return {k: found[k] for k in first + [k for k in found if k not in first]}


def _units_under(group: h5py.Group) -> dict[str, str]:
    """The `units` attribute of every dataset below ``group``, keyed like _datasets_under."""
    found: dict[str, str] = {}
    group.visititems(
        lambda name, obj: (
            found.__setitem__(name, _str(obj.attrs.get("units", ""))) if isinstance(obj, h5py.Dataset) else None
        )
    )
    return found


def _str(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def read_results(path: str | Path) -> RunRecord:
    """Read an HDF5 file written by ``write_results`` back into a RunRecord."""
    with h5py.File(path, "r") as f:
        species = list(f["species/name"].asstr()[()])
        charges = {s: int(z) for s, z in zip(species, f["species/charge"][()])}
        molar_mass = {s: float(m) for s, m in zip(species, f["species/molar_mass"][()])}
        layers = [
            LayerSpan(name, float(top), float(bottom))
            for name, top, bottom in zip(f["layers/name"].asstr()[()], f["layers/top"][()], f["layers/bottom"][()])
        ]
        keys = list(f["timeseries"].attrs["keys"]) if "keys" in f["timeseries"].attrs else []
        series = _datasets_under(f["timeseries"], order=[_str(k) for k in keys])
        units = _units_under(f["timeseries"])
        times = series.pop("time")
        version = int(f.attrs.get("format_version", 1))
        profiles = []
        for name in sorted(f["profiles"], key=int if version < 2 else None):
            g = f["profiles"][name]
            profiles.append(
                Profile(
                    time=float(g.attrs["time"]),
                    depth=g["depth"][()],
                    concentration=_datasets_under(g["concentration"], species) if "concentration" in g else {},
                    tissue_concentration=(
                        _datasets_under(g["tissue_concentration"], species) if "tissue_concentration" in g else {}
                    ),
                    potential=g["potential"][()],
                )
            )
        return RunRecord(
            scenario_name=_str(f.attrs["scenario"]),
            drug=_str(f.attrs["drug"]),
            species=species,
            charges=charges,
            molar_mass=molar_mass,
            area=float(f.attrs["area"]),
            layers=layers,
            times=times,
            series=series,
            units=units,
            profiles=profiles,
            protocol_end=float(f.attrs["protocol_end"]),
            current_on_intervals=[(float(a), float(b)) for a, b in f["current_on_intervals"][()]],
            applied_charge=float(f.attrs["applied_charge"]),
        )
