"""The result of one run: its summary, its series and profiles with units, tables and pictures.

Everything a notebook or a script needs without the solver's internals::

    import iontosim
    result = iontosim.run("lidocaine_epinephrine")
    result.summary["drug_delivered_ug_per_cm2"]
    result.series("delivered/lidocaine", "ug/cm^2")      # a pint Quantity array, at result.times()
    result.to_dataframe()                               # every series, one column each, units in the names
    result.plot_delivery()                              # a matplotlib Figure
    result.save("runs/lido")                            # the run directory `iontosim run` writes

Quantities are pint Quantities of the project's registry (iontosim.scenario.units.ureg): convert
them with `.to(...)`; a per-species amount converts to a mass through the species' molar mass.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from iontosim.output import plots
from iontosim.output.record import RunRecord

if TYPE_CHECKING:  # pragma: no cover
    import pandas
    import pint
    from matplotlib.figure import Figure

    from iontosim.output.fields import FieldPicture
    from iontosim.scenario.schema import Scenario

#: units of the record that pint does not read as such
_PURE_NUMBERS = ("1", "pH", "")


def quantity(values: Any, unit: str) -> pint.Quantity:
    """`values` in `unit` (a series unit as the record writes it) as a pint Quantity."""
    from iontosim.scenario.units import ureg

    return ureg.Quantity(np.asarray(values, dtype=float), "" if unit in _PURE_NUMBERS else unit)


@dataclass(frozen=True)
class SkinLayer:
    """A skin layer's depth span below the skin surface."""

    name: str
    top: pint.Quantity
    bottom: pint.Quantity


@dataclass
class DepthProfile:
    """Depth profiles at one time, with units: depth below the skin surface (the donor gel at
    negative depths; an interface appears twice, its value above then below), the pore-fluid and
    the tissue concentration of every species, and the potential."""

    time: pint.Quantity
    depth: pint.Quantity
    concentration: dict[str, pint.Quantity]
    tissue_concentration: dict[str, pint.Quantity]
    potential: pint.Quantity
    molar_mass: dict[str, float]  # kg/mol of each species

    def of(self, species: str, unit: str = "mol/m^3", tissue: bool = False, skin_only: bool = True):
        """(depth, concentration) of `species` in `unit` (a mass concentration converts through the
        molar mass: "ug/mL"); per volume of tissue with `tissue`, of pore fluid otherwise; the skin
        alone (depth >= 0) unless `skin_only` is False."""
        from iontosim.output.metrics import skin_part
        from iontosim.scenario.units import ureg

        c = (self.tissue_concentration if tissue else self.concentration)[species]
        target = ureg.Quantity(1.0, unit)
        if c.dimensionality != target.dimensionality:
            c = c * ureg.Quantity(self.molar_mass[species], "kg/mol")
        depth, values = (self.depth.magnitude, c.to(unit).magnitude)
        if skin_only:
            depth, values = skin_part(depth, values)
        return quantity(depth, "m"), ureg.Quantity(values, unit)


class Result:
    """One solved scenario (module docstring). `summary` is the mapping summary.json holds, `record`
    the run's data in SI, `directory` the run directory it was written to (None: in memory)."""

    def __init__(
        self,
        scenario: Scenario,
        record: RunRecord,
        summary: dict[str, Any],
        directory: Path | None = None,
        picture: FieldPicture | None = None,
    ):
        self.scenario, self.record, self.summary = scenario, record, summary
        self.directory = directory
        self.picture = picture  # a patch's field pictures at the last profile time

    def __repr__(self) -> str:
        s = self.summary
        dose = s.get("drug_delivered_ug_per_cm2")
        where = f", written to {self.directory}" if self.directory else ""
        return (
            f"<Result {self.scenario.name}: {self.record.drug} delivered {dose:.4g} ug/cm^2 over "
            f"{s.get('protocol_end_min', float('nan')):.4g} min{where}>"
        )

    # ------------------------------------------------------------------ numbers with units
    @property
    def drug(self) -> str:
        return self.record.drug

    @property
    def species(self) -> list[str]:
        return list(self.record.species)

    @property
    def area(self) -> pint.Quantity:
        """The donor electrode's area (amounts per area are per area of it)."""
        return quantity(self.record.area, "m^2")

    @property
    def skin_layers(self) -> list[SkinLayer]:
        """The skin layers, top first, with their depth spans."""
        return [
            SkinLayer(layer.name, quantity(layer.top, "m"), quantity(layer.bottom, "m"))
            for layer in self.record.skin_layers
        ]

    def current_on(self, unit: str = "min") -> list[tuple[float, float]]:
        """(start, end) of every interval with current, in `unit` (for shading plots)."""
        return [
            (float(quantity(a, "s").to(unit).magnitude), float(quantity(b, "s").to(unit).magnitude))
            for a, b in self.record.current_on_intervals
        ]

    def layer_concentration(self, layer: str, species: str, unit: str = "mol/m^3") -> pint.Quantity:
        """The mean tissue concentration of `species` in skin layer `layer` against time (what the
        layer holds per area, over its thickness), in `unit` (masses through the molar mass)."""
        span = next((s for s in self.record.skin_layers if s.name == layer), None)
        if span is None:
            names = ", ".join(s.name for s in self.record.skin_layers)
            raise KeyError(f"no skin layer {layer!r}; the layers: {names}")
        key = f"layer_amount/{layer}/{species}"
        return self._converted(self.series(key) / quantity(span.bottom - span.top, "m"), key, unit)

    @property
    def return_electrode(self) -> Result | None:
        """In 1D, the column under a return electrode's pad, solved beside the donor's (None without one)."""
        ret = self.record.return_record
        if ret is None:
            return None
        return Result(self.scenario, ret, self.summary.get("return_electrode", {}))

    def surface_current(self) -> tuple[pint.Quantity, pint.Quantity]:
        """On a 2D/3D patch at the last profile time: the lateral positions along the skin surface and
        the current density into the skin there (positive into it)."""
        picture = self._picture()
        return quantity(picture.positions, "m"), quantity(picture.current, "A/m^2")

    @property
    def names(self) -> list[str]:
        """Keys of every time series (series())."""
        return list(self.record.series)

    def times(self, unit: str = "s") -> pint.Quantity:
        """The times of the series."""
        return quantity(self.record.times, "s").to(unit)

    def unit_of(self, name: str) -> str:
        """The SI unit of a series, as the run directory records it."""
        return self.record.units.get(name, "1")

    def series(self, name: str, unit: str | None = None) -> pint.Quantity:
        """A time series by its key ("delivered/lidocaine", "voltage"), in SI or in `unit`. Amounts
        and fluxes of a species convert to masses through its molar mass ("ug/cm^2")."""
        if name not in self.record.series:
            import difflib

            close = difflib.get_close_matches(name, self.names, n=3)
            raise KeyError(
                f"no series {name!r}"
                + (
                    f"; did you mean {', '.join(close)}?"
                    if close
                    else f"; the series are result.names ({len(self.names)})"
                )
            )
        q = quantity(self.record.series[name], self.unit_of(name))
        return q if unit is None else self._converted(q, name, unit)

    def _converted(self, q: pint.Quantity, name: str, unit: str) -> pint.Quantity:
        from iontosim.scenario.units import ureg

        target = ureg.Quantity(1.0, unit)
        if q.dimensionality == target.dimensionality:
            return q.to(unit)
        species = name.rsplit("/", 1)[-1]
        if species in self.record.molar_mass:  # an amount of a species as a mass
            mass = q * ureg.Quantity(self.record.molar_mass[species], "kg/mol")
            if mass.dimensionality == target.dimensionality:
                return mass.to(unit)
        raise ValueError(f"{name} is in {q.units:~}, which does not convert to {unit}")

    @property
    def profiles(self) -> list[DepthProfile]:
        """The depth profiles under the donor electrode's centre line, at outputs.profile_times."""
        out = []
        for p in self.record.profiles:
            out.append(
                DepthProfile(
                    time=quantity(p.time, "s"),
                    depth=quantity(p.depth, "m"),
                    concentration={n: quantity(c, "mol/m^3") for n, c in p.concentration.items()},
                    tissue_concentration={n: quantity(c, "mol/m^3") for n, c in p.tissue_concentration.items()},
                    potential=quantity(p.potential, "V"),
                    molar_mass=dict(self.record.molar_mass),
                )
            )
        return out

    # ------------------------------------------------------------------ tables
    def to_dataframe(self) -> pandas.DataFrame:
        """Every time series as a column named "key [unit]", indexed by time [s]."""
        import pandas as pd

        columns = {
            f"{key} [{self.unit_of(key)}]": np.asarray(values, dtype=float)
            for key, values in self.record.series.items()
        }
        frame = pd.DataFrame(columns, index=pd.Index(np.asarray(self.record.times, dtype=float), name="time [s]"))
        return frame

    def to_csv(self, path: str | Path) -> Path:
        """The time series as CSV (to_dataframe's columns)."""
        path = Path(path)
        self.to_dataframe().to_csv(path)
        return path

    # ------------------------------------------------------------------ pictures
    def plot_profiles(self, ax: Any = None) -> Figure:
        """Depth profiles of the drug and the other species, with the penetration threshold and front
        (two axes)."""
        return plots.draw_profiles(self.record, ax, summary=self.summary)

    def plot_delivery(self, ax: Any = None) -> Figure:
        """The drug's flux into the skin and the amount delivered against time (two axes)."""
        return plots.draw_delivery(self.record, ax)

    def plot_voltage(self, ax: Any = None) -> Figure:
        """Voltage and current density over the run and over the first seconds of current, with the
        limits (four axes: voltage, switch-on voltage, current, switch-on current)."""
        return plots.draw_voltage(self.record, ax)

    def plot_skin_ph(self, ax: Any = None) -> Figure:
        """The pH at the skin surface against time, where H+ is modelled (one axes)."""
        if "skin_surface_pH" not in self.record.series:
            raise ValueError(f"{self.scenario.name} does not model H+: it has no skin-surface pH")
        return plots.draw_skin_ph(self.record, ax)

    def _picture(self) -> FieldPicture:
        if self.picture is None:
            raise ValueError(
                f"{self.scenario.name} has no field pictures: they belong to 2D/3D patches with outputs.profile_times"
            )
        return self.picture

    def plot_fields(self, ax: Any = None) -> Figure:
        """Maps of the drug and the potential over the patch at the last profile time (four axes)."""
        from iontosim.output.fields import draw_fields

        return draw_fields(self._picture(), ax)

    def plot_surface_current(self, ax: Any = None) -> Figure:
        """The current density into the skin along its surface at the last profile time (one axes)."""
        from iontosim.output.fields import draw_surface_current

        return draw_surface_current(self._picture(), ax)

    # ------------------------------------------------------------------ files
    def save(self, directory: str | Path, overwrite: bool = False) -> Path:
        """Write the run directory `iontosim run` writes (staged: whole or not at all); on MPI, call
        it on every rank. Field files (fields.bp) are written only by a run given `out`."""
        from iontosim import api

        return api.save(self, directory, overwrite=overwrite)
