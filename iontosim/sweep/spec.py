"""The sweep file: a base scenario, the parameters to vary (with units), a design and the outputs.

```yaml
name: lidocaine_isoelectric_point          # optional (default: the file's name)
base: lidocaine_short.yaml                 # a scenario file relative to this file, or a shipped scenario's name
parameters:                                # parameter paths as in iontosim.scenario.parameters
  skin[stratum_corneum].fixed_charge.isoelectric_point: {values: [4, 4.5, 5]}
  protocol[0].current: {range: [1 mA, 3 mA], distribution: uniform, levels: 3}
design: {kind: grid}                       # grid | random | latin_hypercube | sobol
outputs: [drug_delivered_ug_per_cm2, penetration_depth_um, peak_plasma_concentration_ng_per_mL]
```

A parameter takes either ``values`` (the levels themselves) or a ``range`` with a
``distribution`` (uniform or loguniform) and, for a grid, a number of ``levels``. The random,
Latin hypercube and Sobol designs draw ``design.samples`` points with ``design.seed``; a Sobol
design has samples x (2D + 2) cases (D parameters; D + 2 without ``second_order``).

Every value is checked against the base scenario before anything runs: the sweep sets it with
``with_parameter`` and validates the scenario, so a value the scenario would refuse is refused
here, naming the sweep's field and the scenario's reason. Inside, values are SI floats; the
units written in the sweep file are kept for the table's columns and the plots.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from iontosim.scenario import catalogue
from iontosim.scenario.errors import ScenarioError, from_validation
from iontosim.scenario.load import read_scenario_file, read_yaml, scenario_from_dict
from iontosim.scenario.parameters import canonical_path, get_parameter, with_parameter
from iontosim.scenario.units import DIMENSIONS, parse_text

#: summary.json quantities a sweep analyses unless the file names others
DEFAULT_OUTPUTS = ("drug_delivered_ug_per_cm2", "penetration_depth_um", "peak_plasma_concentration_ng_per_mL")

DESIGNS = ("grid", "random", "latin_hypercube", "sobol")


class SweepError(ScenarioError):
    """A problem in a sweep file, located by its field (``parameters[protocol[0].current].range``)."""


# ---------------------------------------------------------------- the file's language (pydantic)


class ParameterSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    values: list[Any] | None = Field(None, min_length=1)
    range: list[Any] | None = Field(None, min_length=2, max_length=2)
    distribution: Literal["uniform", "loguniform"] | None = None
    levels: int | None = Field(None, ge=2)

    @model_validator(mode="after")
    def _one_way(self) -> ParameterSpec:
        if (self.values is None) == (self.range is None):
            raise ValueError("give either values: [...] or range: [low, high]")
        if self.values is not None and (self.distribution is not None or self.levels is not None):
            raise ValueError("distribution and levels go with a range, not with values")
        return self


class DesignSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["grid", "random", "latin_hypercube", "sobol"]
    samples: int | None = Field(None, ge=1, description="random/LHS: cases; Sobol: base samples N")
    seed: int = Field(0, ge=0)
    second_order: bool = Field(True, description="Sobol: also the second-order indices (N(2D+2) cases, else N(D+2))")

    @model_validator(mode="after")
    def _samples(self) -> DesignSpec:
        if self.kind == "grid":
            if self.samples is not None:
                raise ScenarioError("samples", "a grid has as many cases as the product of the levels; remove samples")
        elif self.samples is None:
            raise ScenarioError(
                "samples",
                f"required for the {self.kind} design (the number of "
                f"{'base samples N' if self.kind == 'sobol' else 'cases'})",
            )
        elif self.kind == "sobol" and self.samples & (self.samples - 1):
            below = 1 << (self.samples.bit_length() - 1)
            raise ScenarioError(
                "samples",
                f"the Sobol sequence keeps its balance only for a power of 2 "
                f"(got {self.samples}; {below} or {2 * below})",
            )
        return self


class SweepSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    description: str | None = None
    base: str
    parameters: dict[str, ParameterSpec] = Field(min_length=1)
    design: DesignSpec
    outputs: list[str] = Field(default_factory=lambda: list(DEFAULT_OUTPUTS), min_length=1)

    @field_validator("outputs")
    @classmethod
    def _known_units(cls, outputs: list[str]) -> list[str]:
        for i, key in enumerate(outputs):
            if key in outputs[:i]:
                raise ScenarioError(f"[{i}]", f"{key} is given twice")
            try:
                output_unit(key)
            except ValueError as err:
                raise ScenarioError(f"[{i}]", str(err)) from None
        return outputs


# ---------------------------------------------------------------- what the rest of the package uses


@dataclass(frozen=True)
class Parameter:
    """One varied parameter. Values are SI floats; `unit` is the one written in the sweep file."""

    path: str
    unit: str  # as written ("mA"); "" for a pure number
    si_unit: str  # the scenario's SI unit ("A"); "" for a pure number
    per_unit: float  # SI value of 1 `unit`
    levels: tuple[float, ...] | None  # values (SI), or a grid's levels of a range
    low: float | None  # a range's ends (SI)
    high: float | None
    distribution: str  # uniform | loguniform | discrete (values)
    integer: bool  # every value written as an integer (cells, counts): cases get integers

    @property
    def column(self) -> str:
        """The column name of the parameter in the table: the path and its unit."""
        return f"{self.path} [{self.unit or '1'}]"

    def in_unit(self, si: float) -> float:
        """An SI value in the sweep file's unit (for tables and plots)."""
        return si / self.per_unit

    def written(self, si: float) -> Any:
        """The value as a scenario file takes it: a number, or "<SI value> <SI unit>"."""
        if self.integer:
            return int(round(si))
        return float(si) if not self.si_unit else f"{float(si)!r} {self.si_unit}"

    def from_unit_interval(self, u):
        """Map points of [0, 1) onto the parameter (the inverse of its distribution), SI.

        A list of values is a discrete uniform choice (u in [k/n, (k+1)/n) takes value k): the
        Sobol estimators stay valid, and a Latin hypercube of m n cases takes each value m times."""
        import numpy as np

        u = np.asarray(u, dtype=float)
        if self.distribution == "discrete":
            index = np.minimum((u * len(self.levels)).astype(int), len(self.levels) - 1)
            return np.asarray(self.levels)[index]
        if self.distribution == "loguniform":
            return np.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low)))
        return self.low + u * (self.high - self.low)


@dataclass(frozen=True)
class Output:
    key: str  # a summary.json key; "safety.peak_voltage_V" reaches into a section
    unit: str


@dataclass(frozen=True)
class Sweep:
    """A validated sweep: the spec, the base scenario's mapping and its parameters and outputs."""

    file: Path
    name: str
    spec: SweepSpec
    base_path: Path
    base: dict[str, Any]  # the scenario file's mapping, extends resolved (parameters.py works on it)
    parameters: tuple[Parameter, ...]
    outputs: tuple[Output, ...]

    def case_mapping(self, values: dict[str, float]) -> dict[str, Any]:
        """The base scenario's mapping with `values` (SI, by parameter path) set, provenance kept honest."""
        data = self.base
        for p in self.parameters:
            data = with_parameter(data, p.path, p.written(values[p.path]), why=f"varied by sweep {self.name}")
        return data

    def identity(self) -> dict[str, Any]:
        """What decides the cases (never the outputs, which only change what is gathered)."""
        return {"sweep": self.spec.model_dump(exclude={"outputs", "description", "name"}), "base_scenario": self.base}


# ---------------------------------------------------------------- reading

_SUFFIX_UNITS = (  # summary.json keys end in their unit (output/metrics.py); longest first
    ("_ug_per_cm2_per_h", "ug/cm^2/h"),
    ("_ug_per_cm2", "ug/cm^2"),
    ("_ng_per_mL", "ng/mL"),
    ("_ug_per_mL", "ug/mL"),
    ("_mol_per_m3", "mol/m^3"),
    ("_mA_per_cm2", "mA/cm^2"),
    ("_mC_per_cm2", "mC/cm^2"),
    ("_kohm_cm2", "kohm cm^2"),
    ("_mA_min", "mA.min"),
    ("_ug", "ug"),
    ("_um", "um"),
    ("_mm", "mm"),
    ("_V", "V"),
    ("_min", "min"),
    ("_s", "s"),
)
_PURE_NUMBERS = ("transport_number", "_relative_error", "_fraction", "pH_min", "pH_max", "mpi_ranks")


def output_unit(key: str) -> str:
    """The unit of a summary.json quantity, read from its name ("1" for pure numbers)."""
    last = key.rsplit(".", 1)[-1]
    if last.endswith(_PURE_NUMBERS):
        return "1"
    for suffix, unit in _SUFFIX_UNITS:
        if last.endswith(suffix):
            return unit
    raise ValueError(
        f"{key!r} is not a summary.json quantity with a unit in its name "
        f"(such as {', '.join(DEFAULT_OUTPUTS)}; a section's with a dot: safety.peak_voltage_V)"
    )


_NUMBER_THEN_UNIT = re.compile(r"^\s*[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\s*(.*?)\s*$")


def _quantity(value: Any, field: str) -> tuple[float, str, Any]:
    """(SI value, unit as written, pint dimensionality) of a number or a quantity string."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise SweepError(field, f"expected a number or a quantity such as '1.5 mA', got {value!r}")
    if not isinstance(value, str):
        return float(value), "", None
    match = _NUMBER_THEN_UNIT.match(value)
    if match is None:
        raise SweepError(field, f"expected a number with its unit such as '1.5 mA', got {value!r}")
    try:
        q = parse_text(value)
        si = q.to_base_units()
        per_unit = parse_text(f"1 {match.group(1)}").to_base_units().magnitude if match.group(1) else 1.0
    except Exception as err:  # pint raises several unrelated types
        raise SweepError(field, f"cannot read {value!r} as a quantity ({err})") from None
    if not math.isclose(si.magnitude, q.magnitude * per_unit, rel_tol=1e-12, abs_tol=1e-300):
        raise SweepError(field, f"{value!r}: use a unit without an offset (K, not degC)")
    if not math.isfinite(si.magnitude):
        raise SweepError(field, f"{value!r} is not a finite number")
    return float(si.magnitude), match.group(1), si.dimensionality


def _si_unit(dimensionality) -> str:
    """The scenario's SI unit of a dimension (units.DIMENSIONS), else one of SI base units; ""
    for a pure number (a percentage is written as the fraction)."""
    from iontosim.scenario.units import ureg

    if not dimensionality:
        return ""
    for unit, _ in DIMENSIONS.values():
        if unit and ureg.Quantity(f"1 {unit}").dimensionality == dimensionality:
            return unit
    return " ".join(f"{_BASE[d]}^{p:g}" for d, p in dimensionality.items())


_BASE = {
    "[length]": "m",
    "[time]": "s",
    "[mass]": "kg",
    "[current]": "A",
    "[substance]": "mol",
    "[temperature]": "K",
    "[luminosity]": "cd",
}


def _parameter(path: str, spec: ParameterSpec) -> Parameter:
    where = f"parameters[{path}]"
    written = spec.values if spec.values is not None else spec.range
    assert written is not None  # ParameterSpec._one_way: either values or a range
    key = "values" if spec.values is not None else "range"
    parsed = [_quantity(v, f"{where}.{key}[{i}]") for i, v in enumerate(written)]
    _, unit, dims = parsed[0]
    for i, (_, _, d) in enumerate(parsed[1:], start=1):
        if d != dims:
            raise SweepError(f"{where}.{key}[{i}]", f"{written[i]!r} is not in the same dimension as {written[0]!r}")
    si = [x for x, _, _ in parsed]
    per_unit = _quantity(f"1 {unit}", where)[0] if unit else 1.0
    integer = all(isinstance(v, int) and not isinstance(v, bool) for v in written) and spec.values is not None
    si_unit = _si_unit(dims) if dims is not None else ""
    if spec.values is not None:
        if len(set(si)) != len(si):
            raise SweepError(f"{where}.values", "a value is given twice")
        return Parameter(path, unit, si_unit, per_unit, tuple(si), None, None, "discrete", integer)
    low, high = si
    distribution = spec.distribution or "uniform"
    if not low < high:
        raise SweepError(f"{where}.range", f"the low end must be below the high end, got {written}")
    if distribution == "loguniform" and low <= 0:
        raise SweepError(f"{where}.range", "a loguniform range must be positive")
    levels = None
    if spec.levels is not None:
        import numpy as np

        spaced = np.geomspace if distribution == "loguniform" else np.linspace
        levels = tuple(float(x) for x in spaced(low, high, spec.levels))
    return Parameter(path, unit, si_unit, per_unit, levels, low, high, distribution, False)


def _checked_against_base(sweep_name: str, base: dict, parameter: Parameter, spec: ParameterSpec) -> None:
    """Set each of the parameter's values (or its range's ends) in the base scenario and validate it."""
    where = f"parameters[{parameter.path}]"
    try:
        written = get_parameter(base, parameter.path)
    except ScenarioError as err:
        raise SweepError(where, f"not in the base scenario: {err.reason}") from None
    if spec.range is not None and isinstance(written, int) and not isinstance(written, bool):
        raise SweepError(
            f"{where}.range",
            f"a whole number in the scenario ({written}): list the values "
            "to try (values: [...]); a range would draw fractions",
        )
    if spec.values is not None:
        assert parameter.levels is not None  # _parameter: the values are the levels
        trials = [(f"{where}.values[{i}]", v, w) for i, (v, w) in enumerate(zip(parameter.levels, spec.values))]
    else:
        # ParameterSpec._one_way and _parameter: without values, a range and its ends
        assert spec.range is not None and parameter.low is not None and parameter.high is not None
        trials = [
            (f"{where}.range[{i}]", v, w) for i, (v, w) in enumerate(zip((parameter.low, parameter.high), spec.range))
        ]
    for field, si, as_written in trials:
        data = with_parameter(base, parameter.path, parameter.written(si), why=f"varied by sweep {sweep_name}")
        try:
            scenario_from_dict(data)
        except ScenarioError as err:
            raise SweepError(field, f"the base scenario refuses {as_written!r} ({err.field}: {err.reason})") from None


#: cases a sweep may have unless --max-cases allows more: a typo (levels: 1e9) would otherwise
#: build every level in memory before anything else is checked
MAX_CASES = 100_000


def read_sweep(path: str | Path, max_cases: int = MAX_CASES) -> Sweep:
    """Read and validate a sweep file and its base scenario. Raises SweepError naming the field,
    also when the design has more than `max_cases` cases (counted before any level is built)."""
    path = Path(path)
    # the scenario loader's YAML: a parameter written twice is refused, not silently dropped
    data = read_yaml(path, "<file>", SweepError)
    return sweep_from_dict(data, path, max_cases)


def planned_cases(spec: SweepSpec) -> tuple[str, int]:
    """(the field that sets it, the number of cases) of a design, from the file's numbers alone:
    known before any level is built (design.case_count is this count)."""
    design = spec.design
    if design.kind == "grid":
        count = math.prod(len(p.values) if p.values is not None else (p.levels or 1) for p in spec.parameters.values())
        return "parameters", count
    d = len(spec.parameters)
    factor = ((2 * d + 2) if design.second_order else (d + 2)) if design.kind == "sobol" else 1
    return "design.samples", (design.samples or 0) * factor


def sweep_from_dict(data: Any, file: Path, max_cases: int = MAX_CASES) -> Sweep:
    """Validate a sweep given as the file's mapping; `file` locates the base scenario."""
    if not isinstance(data, dict):
        raise SweepError(
            "<file>", f"a sweep file holds a mapping (base, parameters, design), got {type(data).__name__}"
        )
    try:
        spec = SweepSpec.model_validate(data)
    except ValidationError as exc:
        raise _located(exc) from None
    field, count = planned_cases(spec)
    if count > max_cases:
        raise SweepError(
            field,
            f"the {spec.design.kind} design has {count:.3g} cases, more than {max_cases}; "
            "give fewer levels or samples, or allow them with --max-cases",
        )
    name = spec.name or Path(file).stem
    try:
        base_path = catalogue.locate(spec.base, "base", Path(file).parent).resolve()
        base = read_scenario_file(base_path)
        scenario_from_dict(base)
    except ScenarioError as err:
        where = "" if err.field == "<file>" else f" {err.field}:"
        raise SweepError("base", f"{spec.base}:{where} {err.reason}") from None
    parameters = []
    spelled: dict[str, str] = {}  # canonical path -> the path as written
    resolved: dict[str, Any] | None = None
    for p, pspec in spec.parameters.items():
        try:
            get_parameter(base, p)
        except ScenarioError:
            # a field the base does not write but the scenario has (a default): write it in
            resolved = resolved or scenario_from_dict(base).resolved_dict()
            try:
                base = with_parameter(base, p, get_parameter(resolved, p), create=True)
            except ScenarioError as err:
                raise SweepError(f"parameters[{p}]", err.reason) from None
        try:
            same = canonical_path(base, p)
        except ScenarioError as err:
            raise SweepError(f"parameters[{p}]", err.reason) from None
        if same in spelled:
            raise SweepError(f"parameters[{p}]", f"names the same value as {spelled[same]} ({same}): give it once")
        spelled[same] = p
        parameter = _parameter(p, pspec)
        if spec.design.kind == "grid" and parameter.levels is None:
            raise SweepError(f"parameters[{p}].levels", "a grid needs the number of levels of a range (or give values)")
        if spec.design.kind != "grid" and pspec.levels is not None:
            raise SweepError(
                f"parameters[{p}].levels",
                f"only a grid takes levels; the {spec.design.kind} design draws from the whole range",
            )
        _checked_against_base(name, base, parameter, pspec)
        parameters.append(parameter)
    outputs = tuple(Output(key, output_unit(key)) for key in spec.outputs)
    return Sweep(Path(file), name, spec, base_path, base, tuple(parameters), outputs)


def _located(exc: ValidationError) -> SweepError:
    """The first pydantic error as a SweepError; a parameter's path stays whole in brackets."""
    err = exc.errors(include_url=False)[0]
    loc = [str(part) if not isinstance(part, int) else part for part in err["loc"]]
    if len(loc) >= 2 and loc[0] == "parameters":
        head, loc = f"parameters[{loc[1]}]", loc[2:]
    else:
        head = ""
    field = head
    for part in loc:
        field += f"[{part}]" if isinstance(part, int) else (f".{part}" if field else part)
    allowed = []
    if err["type"] == "extra_forbidden":
        models: dict[str, type[BaseModel]] = {"parameters": ParameterSpec, "design": DesignSpec}
        model = models.get(str(err["loc"][0]), SweepSpec)
        allowed = list(model.model_fields)
    located = from_validation(err, field, allowed)
    reason = located.reason
    if err["type"] == "literal_error" and field.endswith("kind"):
        reason = f"unknown design {err.get('input')!r}; choose one of {', '.join(DESIGNS)}"
    return SweepError(located.field or "<file>", reason)
