"""HDF5 results file: write a RunRecord and read it back.

Layout (format_version 2). Every dataset carries a ``units`` attribute and a ``description``
(what it is; a series' description is the one its term declares, physics/term.Series), and a
dataset whose value has a sign a ``sign_convention`` (surface fluxes and delivered amounts:
positive into the skin; current density: positive when the donor electrode is the anode;
voltage: donor electrode minus deep tissue; ledger amounts such as cleared/<species>: positive
when taken out of the model; depths: positive below the skin surface, the donor negative).

    /                      attrs: scenario, drug, protocol (as titles show it), area (+ area_units), protocol_end,
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


#: the sign of a depth below the skin surface (layers, profiles)
DEPTH_SIGN = "positive below the skin surface; the donor gel has negative depths"


def _dataset(
    group: h5py.Group, name: str, data, units: str, description: str = "", sign_convention: str = ""
) -> h5py.Dataset:
    dset = group.create_dataset(name, data=data)
    dset.attrs["units"] = units
    if description:
        dset.attrs["description"] = description
    if sign_convention:
        dset.attrs["sign_convention"] = sign_convention
    return dset


_PROFILE_DEPTH = (
    "depth of each point under the donor electrode's centre line; an interface depth appears twice "
    "(the value just above it, then just below)"
)
_PROFILE_POTENTIAL = "electric potential at each depth"
_POTENTIAL_SIGN = "relative to the deep boundary (ground, 0 V)"


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
        f.attrs["protocol"] = record.protocol
        f.attrs["area"] = float(record.area)
        f.attrs["area_units"] = "m^2"
        f.attrs["protocol_end"] = float(record.protocol_end)
        f.attrs["protocol_end_units"] = "s"
        f.attrs["applied_charge"] = float(record.applied_charge)
        f.attrs["applied_charge_units"] = "C/m^2"

        sp = f.create_group("species")
        species = np.array(record.species, dtype=_STR)
        sp.attrs["names"] = species
        _dataset(
            sp,
            "name",
            species,
            "1",
            "name of each species (the order of every per-species list)",
        )
        _dataset(
            sp,
            "charge",
            [int(record.charges[s]) for s in record.species],
            "1",
            "charge number of each species' ionized form",
        )
        _dataset(
            sp,
            "molar_mass",
            [float(record.molar_mass[s]) for s in record.species],
            "kg/mol",
            "molar mass of each species",
        )

        lay = f.create_group("layers")
        lay.attrs["description"] = "depth below the skin surface; donor has negative depths"
        names = np.array([layer.name for layer in record.layers], dtype=_STR)
        lay.attrs["names"] = names
        _dataset(lay, "name", names, "1", "name of each region, top first: the donor gel, then the skin layers")
        tops = np.array([layer.top for layer in record.layers], dtype=float)
        _dataset(lay, "top", tops, "m", "depth of each region's top", DEPTH_SIGN)
        bottoms = np.array([layer.bottom for layer in record.layers], dtype=float)
        _dataset(lay, "bottom", bottoms, "m", "depth of each region's bottom", DEPTH_SIGN)

        intervals = np.array(record.current_on_intervals, dtype=float).reshape(-1, 2)
        _dataset(f, "current_on_intervals", intervals, "s", "(start, end) of every interval in which current flows")

        ts = f.create_group("timeseries")
        ts.attrs["keys"] = np.array(list(record.series), dtype=_STR)
        described = record.descriptions.get
        signed = record.sign_conventions.get
        _dataset(ts, "time", np.asarray(record.times, dtype=float), "s", described("time", ""), signed("time", ""))
        for key, values in record.series.items():
            if key == "time":
                raise ValueError("series key 'time' is reserved")
            if key not in record.units:
                raise ValueError(f"series {key!r} has no unit: the term that records it must declare one")
            _dataset(ts, key, np.asarray(values, dtype=float), record.units[key], described(key, ""), signed(key, ""))

        pr = f.create_group("profiles")
        for prof in record.profiles:
            g = pr.create_group(profile_group_name(prof.time, pr))
            g.attrs["time"] = float(prof.time)
            g.attrs["time_units"] = "s"
            g.attrs["units"] = (
                "depth: m; potential: V; concentration: mol/m^3 of pore fluid; tissue_concentration: mol/m^3 of tissue"
            )
            _dataset(g, "depth", np.asarray(prof.depth, dtype=float), "m", _PROFILE_DEPTH, DEPTH_SIGN)
            _dataset(g, "potential", np.asarray(prof.potential, dtype=float), "V", _PROFILE_POTENTIAL, _POTENTIAL_SIGN)
            for s, c in prof.concentration.items():
                what = f"dissolved {s} (a weak electrolyte's two forms together) per volume of pore fluid"
                _dataset(g, f"concentration/{s}", np.asarray(c, dtype=float), "mol/m^3", what)
            for s, c in prof.tissue_concentration.items():
                what = f"{s} per volume of tissue: dissolved and bound, times the porosity"
                _dataset(g, f"tissue_concentration/{s}", np.asarray(c, dtype=float), "mol/m^3", what)
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


def _attribute_under(group: h5py.Group, attribute: str = "units", default: str | None = "") -> dict[str, str]:
    """The `attribute` of every dataset below ``group`` (`default` where it has none; None: left
    out), keyed like _datasets_under."""
    found: dict[str, str] = {}

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset) and (attribute in obj.attrs or default is not None):
            found[name] = _str(obj.attrs.get(attribute, default))

    group.visititems(visit)
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
        units = _attribute_under(f["timeseries"])
        descriptions = _attribute_under(f["timeseries"], "description", None)
        sign_conventions = _attribute_under(f["timeseries"], "sign_convention", None)
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
            descriptions=descriptions,
            sign_conventions=sign_conventions,
            profiles=profiles,
            protocol_end=float(f.attrs["protocol_end"]),
            protocol=_str(f.attrs.get("protocol", "")),
            current_on_intervals=[(float(a), float(b)) for a, b in f["current_on_intervals"][()]],
            applied_charge=float(f.attrs["applied_charge"]),
        )
