"""CSV tables of a run, for a spreadsheet or pandas: its time series and its depth profiles, in the
units the summary uses, every column's unit in its header.

    timeseries.csv   one row per recorded time (every accepted time step): "time [min]", then
                     one column per series of results.h5, "<key> [<unit>]", in the order the run
                     recorded them ("current_density [mA/cm^2]", "delivered/lidocaine [ug/cm^2]")
    profiles.csv     long format, one row per (profile time, depth point, species): "time [min]",
                     "depth [um]", "layer", "species", "concentration [ug/mL]",
                     "tissue_concentration [ug/mL]", "potential [V]"

A series of a species converts to a mass through its molar mass, as the summary does: amounts
per area in ug/cm^2, fluxes in ug/cm^2/h, concentrations in ug/mL (plasma in ng/mL); the current
density is in mA/cm^2, the skin resistance in kohm cm^2, the electroosmotic flow in uL/cm^2/h, and
every other series in its SI unit (results.h5 has every series in SI). Amounts and fluxes are per
area of the donor electrode (of the return electrode in the return electrode's tables).

Lines starting with "#" above the header say what the file holds and which way each signed
series is positive, as the run's terms declare it: read with ``pandas.read_csv(path,
comment="#")``. An empty cell is a value that does not exist (the skin resistance without
current). Numbers are written to full precision.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from . import units as u
from .record import RunRecord
from .results import DEPTH_SIGN

TIMESERIES = "timeseries.csv"
PROFILES = "profiles.csv"

#: the tables' unit of a series of a species, by its SI unit: (unit, molar mass [kg/mol] -> factor)
_OF_SPECIES = {
    "mol/m^2": ("ug/cm^2", lambda m: float(u.mol_per_m2_to_ug_per_cm2(1.0, m))),
    "mol/m^2/s": ("ug/cm^2/h", lambda m: float(u.mol_per_m2_to_ug_per_cm2(1.0, m)) * u.SECONDS_PER_HOUR),
    "mol/m^3": ("ug/mL", lambda m: float(u.mol_per_m3_to_ug_per_ml(1.0, m))),
}
#: plasma concentrations in the summary's unit
_PLASMA = ("ng/mL", lambda m: float(u.mol_per_m3_to_ng_per_ml(1.0, m)))
#: the tables' unit of any other series, by its SI unit: (unit, factor)
_OTHER = {
    "s": ("min", 1.0 / u.SECONDS_PER_MINUTE),
    "A/m^2": ("mA/cm^2", u.A_PER_M2_TO_MA_PER_CM2),
    "ohm m^2": ("kohm cm^2", u.OHM_M2_TO_KOHM_CM2),
    "m/s": ("uL/cm^2/h", 1e9 / 1e4 * u.SECONDS_PER_HOUR),  # m^3/(m^2 s): 1e9 uL per m^3, 1e4 cm^2 per m^2
}


def table_unit(key: str, unit: str, molar_mass: dict[str, float]) -> tuple[str, float]:
    """The unit series `key` (SI `unit`) has in the tables, and the factor from SI to it."""
    species = key.rsplit("/", 1)[-1] if "/" in key else None
    if species in molar_mass and unit in _OF_SPECIES:
        name, factor = _PLASMA if key.startswith("plasma_concentration/") else _OF_SPECIES[unit]
        return name, factor(molar_mass[species])
    return _OTHER.get(unit, (unit, 1.0))


def _cell(value: float) -> str:
    value = float(value)
    return "" if math.isnan(value) else repr(value)


def _pattern(key: str, species: list[str]) -> str:
    """A series key with its species written <species> (delivered/<species>)."""
    head, _, last = key.rpartition("/")
    return f"{head}/<species>" if head and last in species else key


def _sign_lines(record: RunRecord) -> list[str]:
    """One comment line per signed series (a species' series once, as <species>)."""
    lines: dict[str, str] = {}
    for key in record.series:
        sign = record.sign_conventions.get(key, "")
        if sign:
            lines.setdefault(_pattern(key, record.species), sign)
    return [f"#   {pattern}: {sign}" for pattern, sign in lines.items()]


def _per_area(record: RunRecord) -> str:
    return f"per cm^2 of the electrode (its area {record.area * 1e4:.6g} cm^2)"


def write_timeseries(path: str | Path, record: RunRecord) -> Path:
    """timeseries.csv of `record` (module docstring); returns the path."""
    path = Path(path)
    headers, columns = ["time [min]"], [np.asarray(record.times, dtype=float) / u.SECONDS_PER_MINUTE]
    for key, values in record.series.items():
        unit, factor = table_unit(key, record.units.get(key, "1"), record.molar_mass)
        headers.append(f"{key} [{unit}]")
        columns.append(np.asarray(values, dtype=float) * factor)
    comments = [
        f"# run {record.scenario_name}, drug {record.drug}: time series, one row per time step",
        f"# amounts and fluxes {_per_area(record)}; masses of a species through its molar mass",
        "# what every series is: the description attributes of results.h5 (SI units there)",
        "# sign conventions:",
        *_sign_lines(record),
    ]
    with open(path, "w", newline="") as f:
        f.writelines(line + "\n" for line in comments)
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(headers)
        for row in zip(*columns):
            writer.writerow([_cell(v) for v in row])
    return path


def _layers(record: RunRecord, depth: np.ndarray) -> list[str]:
    """The layer of every point of a profile: at an interface (its depth twice) the layer above,
    then the layer below."""
    spans = record.layers
    out = []
    for k, x in enumerate(depth):
        if k + 1 < len(depth) and depth[k + 1] == x:  # the upper copy of an interface
            found = [s for s in spans if s.bottom == x] or [s for s in spans if s.top <= x <= s.bottom]
        elif k > 0 and depth[k - 1] == x:  # the lower copy
            found = [s for s in spans if s.top == x] or [s for s in spans if s.top <= x <= s.bottom][-1:]
        else:
            found = [s for s in spans if s.top <= x < s.bottom] or [s for s in spans if s.top <= x <= s.bottom]
        out.append(found[0].name if found else "")
    return out


def write_profiles(path: str | Path, record: RunRecord) -> Path:
    """profiles.csv of `record` (module docstring); returns the path."""
    path = Path(path)
    unit, to_mass = _OF_SPECIES["mol/m^3"]
    factors = {s: to_mass(record.molar_mass[s]) for s in record.species}
    comments = [
        f"# run {record.scenario_name}, drug {record.drug}: depth profiles under the donor electrode's centre line,",
        "# one row per (time, depth point, species); concentrations as masses through each species' molar mass",
        f"# depth: {DEPTH_SIGN}; an interface's depth appears twice, the layer above, then the layer below",
        "# concentration: dissolved (a weak electrolyte's two forms together) per volume of pore fluid;",
        "# tissue_concentration: dissolved and bound per volume of tissue;",
        "# potential: relative to the deep boundary (ground, 0 V), the same on every species' row",
    ]
    headers = ["time [min]", "depth [um]", "layer", "species", f"concentration [{unit}]"]
    headers += [f"tissue_concentration [{unit}]", "potential [V]"]
    with open(path, "w", newline="") as f:
        f.writelines(line + "\n" for line in comments)
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(headers)
        for profile in record.profiles:
            depth = np.asarray(profile.depth, dtype=float)
            layers = _layers(record, depth)
            minutes = _cell(profile.time / u.SECONDS_PER_MINUTE)
            for k, x in enumerate(depth):
                for s in record.species:
                    if s not in profile.concentration:
                        continue
                    factor = factors[s]
                    tissue = profile.tissue_concentration.get(s)
                    writer.writerow(
                        [
                            minutes,
                            _cell(x * u.UM_PER_M),
                            layers[k],
                            s,
                            _cell(profile.concentration[s][k] * factor),
                            _cell(tissue[k] * factor) if tissue is not None else "",
                            _cell(profile.potential[k]),
                        ]
                    )
    return path


def write_tables(folder: str | Path, record: RunRecord, prefix: str = "") -> list[Path]:
    """`prefix`timeseries.csv and `prefix`profiles.csv of `record` in `folder`."""
    folder = Path(folder)
    return [
        write_timeseries(folder / f"{prefix}{TIMESERIES}", record),
        write_profiles(folder / f"{prefix}{PROFILES}", record),
    ]
