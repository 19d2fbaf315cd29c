"""Quantities a validation check reads from a run, each in SI, with the curve it is read from.

A quantity is a function of one run (its scenario, its RunRecord and what was observed during it)
and of the check's options; it returns the value in SI and the curve that shows where the value
comes from (delivered dose against time, concentration at a depth against time, a depth profile).
The check's unit must have the quantity's dimension (``si_unit``); the report converts.
Profiles are complete on rank 0 only (simulation.simulate), so quantities are read there.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

import numpy as np
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from ..output import metrics, permeation
from ..output import units as u
from ..physics.constants import thermal_voltage
from ..scenario.quantities import parser

Time = Annotated[float, BeforeValidator(parser("time", ge=0, what="time"))]
Depth = Annotated[float, BeforeValidator(parser("length", ge=0, what="depth"))]


@dataclass
class Run:
    """One simulation of a case: the scenario, its record, the swept setting and observations."""

    scenario: Any
    record: Any
    setting: float | str | None = None  # the swept value as written in the case file
    #: electroosmotic superficial velocity [m/s, into the skin] at each profile time [s]
    velocity: dict[float, float] = field(default_factory=dict)
    #: the run's summary (iontosim.run's: summary.json's mapping)
    summary: dict = field(default_factory=dict)


@dataclass
class Curve:
    """What a value was read from: x in display units (its label says which), y in SI."""

    x: list[float]
    y: list[float]
    x_label: str
    label: str = ""
    log_y: bool = False
    #: SI unit of y when it is not the quantity's own (a depth profile behind a depth or an amount)
    y_unit: str | None = None
    y_name: str = ""
    #: the quantity's value lies on the x axis (a depth read off a depth profile, in mm)
    value_on_x: bool = False


@dataclass
class Reading:
    value: float  # SI
    curve: Curve | None = None
    #: where on the curve's x axis the published point belongs (display units), if anywhere
    marker_x: float | None = None


class _Options(BaseModel):
    model_config = ConfigDict(extra="forbid")


@dataclass
class Quantity:
    name: str
    si_unit: str
    describe: str
    options: type[_Options]
    read: Callable[[Run, Any], Reading]
    #: option names that must be one of the scenario's outputs.profile_times
    profile_options: tuple[str, ...] = ()


QUANTITIES: dict[str, Quantity] = {}


def quantity(name: str, si_unit: str, describe: str, options: type[_Options], profile_options: tuple[str, ...] = ()):
    def register(function):
        QUANTITIES[name] = Quantity(name, si_unit, describe, options, function, profile_options)
        return function

    return register


def parse_options(name: str, options: dict) -> Any:
    """The validated options of quantity `name`; raises ValueError('<option>: reason') or KeyError."""
    q = QUANTITIES[name]
    try:
        return q.options.model_validate(options)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in err["loc"])
        reason = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            reason = f"unknown option; {name} takes {', '.join(q.options.model_fields) or 'none'}"
        elif err["type"] == "missing":
            reason = "required option is missing"
        raise ValueError(f"{where}: {reason}") from None


# ---------------------------------------------------------------- helpers


def _drug(record) -> list[str]:
    return metrics.drug_species(record)


def _minutes(t) -> list[float]:
    return [float(x) / u.SECONDS_PER_MINUTE for x in np.asarray(t, dtype=float)]


def _series_kg(run: Run, prefix: str) -> np.ndarray:
    """Drug amount series ``prefix/<species>`` summed over the drug's species, kg per patch."""
    rec = run.record
    return sum(np.asarray(rec.series[f"{prefix}/{s}"], dtype=float) * rec.molar_mass[s] for s in _drug(rec)) * rec.area


def _at_time(run: Run, values: np.ndarray, at: float | None) -> float:
    t = np.asarray(run.record.times, dtype=float)
    if at is None:
        return float(values[-1])
    if at > t[-1] * (1 + 1e-9):
        raise ValueError(f"at: {at / 60:g} min is after the end of the protocol ({t[-1] / 60:g} min)")
    return float(np.interp(at, t, values))


def _profile(run: Run, at: float):
    for p in run.record.profiles:
        if abs(p.time - at) <= 1e-6 * max(1.0, at):
            return p
    raise ValueError(f"at: no depth profile at {at / 60:g} min; add it to outputs.profile_times")


def _drug_profile(run: Run, profile, tissue: bool) -> tuple[np.ndarray, np.ndarray]:
    """Skin depth [m] and the drug's concentration [kg/m^3] (pore fluid, or per tissue volume)."""
    rec = run.record
    source = profile.tissue_concentration if tissue else profile.concentration
    c = sum(np.asarray(source[s], dtype=float) * rec.molar_mass[s] for s in _drug(rec))
    depth, concentration = metrics.skin_part(profile.depth, c)
    return depth, concentration


# ---------------------------------------------------------------- amounts over time


class AtTime(_Options):
    at: Time | None = None  # None: the end of the protocol


@quantity("drug_delivered", "kg", "drug delivered across the skin surface under the whole patch", AtTime)
def drug_delivered(run: Run, o: AtTime) -> Reading:
    values = _series_kg(run, "delivered")
    t = run.record.times
    return Reading(
        _at_time(run, values, o.at),
        Curve(_minutes(t), values.tolist(), "time [min]", "delivered"),
        None if o.at is None else o.at / u.SECONDS_PER_MINUTE,
    )


@quantity("drug_delivered_per_area", "kg/m^2", "drug delivered across the skin surface per electrode area", AtTime)
def drug_delivered_per_area(run: Run, o: AtTime) -> Reading:
    reading = drug_delivered(run, o)
    area = run.record.area
    reading.value /= area
    reading.curve.y = [y / area for y in reading.curve.y]
    return reading


@quantity("drug_cleared", "kg", "drug taken up by the capillaries (to the systemic circulation), whole patch", AtTime)
def drug_cleared(run: Run, o: AtTime) -> Reading:
    values = _series_kg(run, "cleared")
    return Reading(
        _at_time(run, values, o.at),
        Curve(_minutes(run.record.times), values.tolist(), "time [min]", "cleared to the circulation"),
        None if o.at is None else o.at / u.SECONDS_PER_MINUTE,
    )


@quantity(
    "fraction_cleared",
    "1",
    "share of the drug delivered so far that the capillaries have taken up (systemic absorption over delivery)",
    AtTime,
)
def fraction_cleared(run: Run, o: AtTime) -> Reading:
    cleared, delivered = _series_kg(run, "cleared"), _series_kg(run, "delivered")
    share = np.divide(cleared, delivered, out=np.zeros_like(cleared), where=delivered > 0)
    value = _at_time(run, cleared, o.at) / _at_time(run, delivered, o.at)
    return Reading(
        value,
        Curve(_minutes(run.record.times), share.tolist(), "time [min]", "cleared / delivered"),
        None if o.at is None else o.at / u.SECONDS_PER_MINUTE,
    )


@quantity(
    "peak_plasma_concentration", "kg/m^3", "highest plasma concentration of the drug (systemic compartment)", _Options
)
def peak_plasma_concentration(run: Run, o: _Options) -> Reading:
    rec = run.record
    plasma = metrics.drug_plasma(rec)
    if plasma is None:
        raise ValueError(f"plasma concentration not modelled: the scenario has no systemic section for {rec.drug}")
    k = int(np.argmax(plasma))
    return Reading(
        float(plasma[k]),
        Curve(_minutes(rec.times), plasma.tolist(), "time [min]", "plasma"),
        float(rec.times[k]) / u.SECONDS_PER_MINUTE,
    )


# ---------------------------------------------------------------- electrical


class OfSpecies(_Options):
    species: str


@quantity(
    "transport_number",
    "1",
    "share of the current a species carries across the skin surface, mean over the time current flows",
    OfSpecies,
)
def transport_number(run: Run, o: OfSpecies) -> Reading:
    rec = run.record
    if o.species not in rec.species:
        raise ValueError(f"species: {o.species!r} is not one of the run's species {rec.species}")
    mean = metrics.transport_numbers(rec)[o.species]
    # the instantaneous share, for the picture
    i = np.asarray(rec.series["current_density"], dtype=float)
    j = np.asarray(rec.series[f"surface_flux/{o.species}"], dtype=float)
    on = np.abs(i) > 0
    share = u.FARADAY * rec.charges[o.species] * j[on] * np.sign(i[on]) / np.abs(i[on])
    return Reading(
        float(mean), Curve(_minutes(np.asarray(rec.times)[on]), share.tolist(), "time [min]", f"t({o.species})")
    )


@quantity(
    "skin_resistance",
    "ohm*m^2",
    "skin resistance (potential drop across the skin / current density), mean over the time current flows",
    _Options,
)
def skin_resistance(run: Run, o: _Options) -> Reading:
    rec = run.record
    value = run.summary["skin_resistance_kohm_cm2"] / u.OHM_M2_TO_KOHM_CM2
    r = np.asarray(rec.series["skin_resistance"], dtype=float)
    ok = np.isfinite(r)
    return Reading(float(value), Curve(_minutes(np.asarray(rec.times)[ok]), r[ok].tolist(), "time [min]", "R_skin"))


class AtProfileTime(_Options):
    at: Time


@quantity(
    "electroosmotic_flow",
    "m/s",
    "electroosmotic volume flux across the skin (superficial velocity, positive from the electrode into the skin)",
    AtProfileTime,
    profile_options=("at",),
)
def electroosmotic_flow(run: Run, o: AtProfileTime) -> Reading:
    if not run.velocity:
        raise ValueError("the scenario has no electroosmosis section (no fixed-charge layer with flow)")
    times = sorted(run.velocity)
    k = int(np.argmin([abs(t - o.at) for t in times]))
    return Reading(
        run.velocity[times[k]],
        Curve(_minutes(times), [run.velocity[t] for t in times], "time [min]", "electroosmotic flow"),
        o.at / u.SECONDS_PER_MINUTE,
    )


# ---------------------------------------------------------------- depth


class AtDepth(_Options):
    depth: Depth
    until: Time | None = None  # the latest profile time considered (None: all)


@quantity(
    "peak_concentration_at_depth",
    "kg/m^3",
    "highest drug concentration in the interstitial (pore) fluid at "
    "one depth over the profile times up to 'until' (what a microdialysis probe there samples)",
    AtDepth,
)
def peak_concentration_at_depth(run: Run, o: AtDepth) -> Reading:
    times, values = [], []
    for p in run.record.profiles:
        if o.until is not None and p.time > o.until * (1 + 1e-9):
            continue
        x, c = _drug_profile(run, p, tissue=False)
        if o.depth > x[-1]:
            raise ValueError(f"depth: {o.depth * 1e3:g} mm is below the modelled skin ({x[-1] * 1e3:g} mm)")
        times.append(p.time)
        values.append(float(np.interp(o.depth, x, c)))
    if not values:
        raise ValueError("until: no depth profile at or before it; add profile times")
    k = int(np.argmax(values))
    return Reading(
        values[k],
        Curve(_minutes(times), values, "time [min]", f"{o.depth * 1e3:g} mm", log_y=True),
        times[k] / u.SECONDS_PER_MINUTE,
    )


class TissueAmount(_Options):
    at: Time
    depth_from: Depth = 0.0
    depth_to: Depth


@quantity(
    "tissue_amount",
    "kg",
    "drug held in the tissue between two depths under the whole patch",
    TissueAmount,
    profile_options=("at",),
)
def tissue_amount(run: Run, o: TissueAmount) -> Reading:
    x, c = _drug_profile(run, _profile(run, o.at), tissue=True)
    if o.depth_to <= o.depth_from:
        raise ValueError("depth_to: must be deeper than depth_from")
    # piecewise linear between nodes; at an interface the profile holds two values at one depth,
    # and integrating segment by segment on the original nodes keeps that jump exact
    total = 0.0
    for a, b, ca, cb in zip(x[:-1], x[1:], c[:-1], c[1:]):
        lo, hi = max(a, o.depth_from), min(b, o.depth_to)
        if hi <= lo or b <= a:
            continue
        c_lo = ca + (cb - ca) * (lo - a) / (b - a)
        c_hi = ca + (cb - ca) * (hi - a) / (b - a)
        total += 0.5 * (c_lo + c_hi) * (hi - lo)
    depth_mm = (x * 1e3).tolist()
    return Reading(
        total * run.record.area,
        Curve(
            depth_mm,
            c.tolist(),
            "depth [mm]",
            f"at {o.at / 60:g} min",
            log_y=True,
            y_unit="kg/m^3",
            y_name="drug per tissue volume",
        ),
    )


class DoseDepth(_Options):
    at: Time
    fraction: Annotated[float, Field(gt=0, lt=1)] = 0.9


@quantity(
    "dose_depth",
    "m",
    "depth above which the given fraction of the drug in the skin lies",
    DoseDepth,
    profile_options=("at",),
)
def dose_depth(run: Run, o: DoseDepth) -> Reading:
    x, c = _drug_profile(run, _profile(run, o.at), tissue=True)
    value = metrics.dose_depth(x, c, o.fraction)
    return Reading(
        value,
        Curve(
            (x * 1e3).tolist(),
            c.tolist(),
            "depth [mm]",
            f"at {o.at / 60:g} min",
            y_unit="kg/m^3",
            y_name="drug per tissue volume",
            value_on_x=True,
        ),
    )


class PenetrationDepth(_Options):
    threshold: Annotated[float, BeforeValidator(parser("mass_concentration", gt=0, what="threshold"))]  # kg/m^3
    until: Time | None = None


@quantity(
    "penetration_depth",
    "m",
    "deepest point where the drug's pore-fluid concentration reaches the "
    "threshold, over the profile times up to 'until'",
    PenetrationDepth,
)
def penetration_depth(run: Run, o: PenetrationDepth) -> Reading:
    best, curve = 0.0, None
    for p in run.record.profiles:
        if o.until is not None and p.time > o.until * (1 + 1e-9):
            continue
        x, c = _drug_profile(run, p, tissue=False)
        depth = metrics.penetration_depth(x, c, o.threshold)
        if depth >= best or curve is None:
            best = depth
            curve = Curve(
                (x * 1e3).tolist(),
                c.tolist(),
                "depth [mm]",
                f"profile at {p.time / 60:g} min",
                log_y=True,
                y_unit="kg/m^3",
                y_name="drug in pore fluid",
                value_on_x=True,
            )
    return Reading(best, curve)


# ---------------------------------------------------------------- a Franz cell (output/permeation.py)

#: output/permeation.py reports in ug/cm^2 and h; the quantities are in SI
_UG_PER_CM2 = 1e-9 / 1e-4  # kg/m^2


def _franz(run: Run):
    """The record of a Franz-cell run (one with a receptor), else ValueError."""
    if not permeation.has_receptor(run.record):
        raise ValueError("the scenario has no receptor: the permeation quantities need setup: {kind: franz_cell}")
    return run.record


def _permeated_curve(run: Run) -> Curve:
    rec = run.record
    q = permeation.permeated_ug_per_cm2(rec) * _UG_PER_CM2
    return Curve(
        _minutes(rec.times), q.tolist(), "time [min]", "permeated", y_unit="kg/m^2", y_name="cumulative permeated"
    )


def _lag_time_summary(run: Run) -> dict[str, Any]:
    """output/permeation.py's figures of the run (its lag-time fit; one definition of every formula)."""
    return permeation.permeation_summary(_franz(run))


@quantity(
    "cumulative_permeated",
    "kg/m^2",
    "cumulative amount of the drug permeated into the receptor per membrane area (a Franz cell; all that "
    "crossed, as studies report after correcting for their samples)",
    AtTime,
)
def cumulative_permeated(run: Run, o: AtTime) -> Reading:
    rec = _franz(run)
    q = permeation.permeated_ug_per_cm2(rec) * _UG_PER_CM2
    curve = _permeated_curve(run)
    curve.y_unit = None  # the checked quantity itself
    return Reading(_at_time(run, q, o.at), curve, None if o.at is None else o.at / u.SECONDS_PER_MINUTE)


@quantity(
    "steady_state_flux",
    "kg/m^2/s",
    "steady-state flux into the receptor by the lag-time method: slope of the cumulative amount over the "
    "second half of the longest constant-current interval (output/permeation.py)",
    _Options,
)
def steady_state_flux(run: Run, o: _Options) -> Reading:
    return Reading(_steady_flux(run), _permeated_curve(run))


def _steady_flux(run: Run) -> float:
    """The lag-time method's steady flux [kg/(m^2 s)] (output/permeation.py)."""
    figures = _lag_time_summary(run)
    return float(figures["steady_state_flux_ug_per_cm2_per_h"] * _UG_PER_CM2 / u.SECONDS_PER_HOUR)


@quantity(
    "lag_time",
    "s",
    "lag time by the lag-time method: where the steady line through the cumulative amount meets the time "
    "axis, counted from the start of the interval fitted (output/permeation.py)",
    _Options,
)
def lag_time(run: Run, o: _Options) -> Reading:
    figures = _lag_time_summary(run)
    return Reading(float(figures["lag_time_h"] * u.SECONDS_PER_HOUR), _permeated_curve(run))


@quantity(
    "permeability_coefficient",
    "m/s",
    "steady-state flux over the drug's starting donor concentration (both forms), k_p = J_ss / C_donor: "
    "the permeability coefficient of an infinite-dose study",
    _Options,
)
def permeability_coefficient(run: Run, o: _Options) -> Reading:
    flux = _steady_flux(run)
    sc = run.scenario
    drug = sc.species_by_name(sc.drug)
    donor = sc.donor.concentrations(sc.species_by_name).get(sc.drug)
    if not donor:
        raise ValueError(f"the donor holds no {sc.drug}: no permeability coefficient")
    return Reading(float(flux / (donor * drug.molar_mass)), _permeated_curve(run))


@quantity(
    "retained_in_membrane",
    "kg/m^2",
    "drug held in the membrane (every layer of it together) per membrane area (a Franz cell)",
    AtTime,
)
def retained_in_membrane(run: Run, o: AtTime) -> Reading:
    rec = _franz(run)
    held = permeation.retained_ug_per_cm2(rec) * _UG_PER_CM2
    return Reading(
        _at_time(run, held, o.at),
        Curve(_minutes(rec.times), held.tolist(), "time [min]", "in the membrane"),
        None if o.at is None else o.at / u.SECONDS_PER_MINUTE,
    )


# ---------------------------------------------------------------- verification against theory


@quantity(
    "goldman_ratio",
    "1",
    "steady electrotransport enhancement of the drug through a single homogeneous "
    "membrane over the constant-field (Goldman) value E = Pe / (1 - exp(-Pe)) at the potential drop the "
    "solver computed (1 is exact agreement)",
    _Options,
)
def goldman_ratio(run: Run, o: _Options) -> Reading:
    sc, rec = run.scenario, run.record
    if len(sc.skin) != 1:
        raise ValueError("goldman_ratio needs a scenario with one homogeneous skin layer")
    layer = sc.skin[0]
    prof = rec.profiles[-1]
    top = int(np.flatnonzero(prof.depth == 0.0)[-1])  # membrane side of the surface
    drug = sc.species_by_name(sc.drug)
    c_top = prof.concentration[sc.drug][top]
    vt = thermal_voltage(sc.temperature)  # RT/F [V]
    pe = (prof.potential[top] - prof.potential[-1]) / vt * drug.charge * drug.ionized_fraction(layer.pH)
    d = layer.diffusivity_factor * drug.diffusivity(sc.temperature)
    passive = d * c_top / layer.thickness
    enhancement = rec.series[f"surface_flux/{sc.drug}"][-1] / passive
    goldman = pe / (1.0 - math.exp(-pe)) if abs(pe) > 1e-12 else 1.0
    t = np.asarray(rec.times, dtype=float)
    return Reading(
        float(enhancement / goldman),
        Curve(
            _minutes(t[1:]),
            (np.asarray(rec.series[f"surface_flux/{sc.drug}"])[1:] / passive / goldman).tolist(),
            "time [min]",
            f"E / E_Goldman (Pe {pe:.3g})",
        ),
    )
