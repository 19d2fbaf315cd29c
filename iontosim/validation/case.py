"""The validation case file: one published dataset, its conditions and how it is compared.

A case file (iontosim/validation/cases/<name>/case.yaml) names the publication (citation and source
key), says whether the data calibrated the model or is predicted by it (``role``), points to the
scenario configs that reproduce the experiment, and lists checks. A check names a quantity the
simulation reports (quantities.py), the published value with its unit and uncertainty, how the two
are compared (comparison.py) and the tolerance with the reason it was chosen (``basis``). Every
problem in a file is one CaseError naming the field, like a scenario's ScenarioError.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from ..library.sources import check_source
from ..scenario.errors import from_validation, join_path
from ..scenario.units import parse_text

#: the file in each case folder
CASE_FILE = "case.yaml"


class CaseError(ValueError):
    """A problem in a validation case: ``field`` a dotted path in the case file, ``reason`` what is wrong."""

    def __init__(self, field: str, reason: str) -> None:
        self.field, self.reason = field, reason
        super().__init__(f"{field}: {reason}")

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}"

    def __reduce__(self):
        return (type(self), (self.field, self.reason))


def _source_key(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a source key of iontosim/library/sources.py, got {value!r}")
    try:
        return check_source(value)
    except KeyError as exc:
        raise ValueError(exc.args[0]) from None


SourceKey = Annotated[str, BeforeValidator(_source_key)]


def _quantity_text(value: object) -> str:
    """A published number with its unit ('40 ug', '2.7 uL/cm^2/h') or a pure number; kept as text
    (the check's unit decides the dimension, Check._units)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"expected a number with its unit such as '40 ug', got {value!r}")
    text = str(value)
    try:
        q = parse_text(text)
    except Exception as exc:  # pint raises several unrelated types
        raise ValueError(f"cannot read {text!r} as a quantity ({exc})") from None
    if not math.isfinite(float(q.magnitude)):
        raise ValueError(f"{text!r} is not a finite number")
    return text


QuantityText = Annotated[str, BeforeValidator(_quantity_text)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Published(_Model):
    """What the publication says. ``value`` for a number (or a bound), ``low``/``high`` for a range;
    ``uncertainty`` as published (``uncertainty_kind`` says what it is: SD, SEM, range half-width);
    ``not_found`` instead of a number when the source was read and the number is not in it."""

    value: QuantityText | None = None
    low: QuantityText | None = None
    high: QuantityText | None = None
    uncertainty: QuantityText | None = None
    uncertainty_kind: Literal["SD", "SEM", "half-range", "none stated"] | None = None
    source: SourceKey
    quote: str | None = None
    #: confidence: QUOTE (the number verbatim in the source read), PARAPHRASE, SECONDARY (a review or page
    #: citing the primary), DERIVED (computed from sourced numbers, docs/derivations.md), NOT FOUND (looked for,
    #: not in the source); ESTIMATE: the project's own estimate (a calibration target that no publication
    #: gives as a number)
    tag: Literal["QUOTE", "PARAPHRASE", "SECONDARY", "DERIVED", "ESTIMATE", "NOT FOUND"]
    note: str | None = None
    not_found: str | None = None

    @model_validator(mode="after")
    def _one_form(self) -> Published:
        ranged = self.low is not None or self.high is not None
        if self.not_found is not None:
            if self.value is not None or ranged:
                raise CaseError("not_found", "a value that was not found cannot also be given")
            return self
        if self.value is None and not ranged:
            raise CaseError("value", "give the published value (or low/high, or not_found with the reason)")
        if ranged and (self.low is None or self.high is None):
            raise CaseError("low" if self.low is None else "high", "a range needs both low and high")
        if self.uncertainty is not None and self.uncertainty_kind is None:
            raise CaseError("uncertainty_kind", "say what the uncertainty is (SD, SEM, half-range)")
        return self


class Tolerance(_Model):
    """How far the simulation may be from the published value and still agree: ``relative`` (a
    fraction of the published value) or ``absolute`` (a quantity in the check's unit); ``basis``
    says where it comes from (the published uncertainty, or an estimate and why), written before
    the case was first run."""

    relative: Annotated[float, Field(gt=0)] | None = None
    absolute: QuantityText | None = None
    basis: Annotated[str, Field(min_length=10)]

    @model_validator(mode="after")
    def _one(self) -> Tolerance:
        if (self.relative is None) == (self.absolute is None):
            raise CaseError("relative", "give exactly one of relative or absolute")
        return self


#: how a simulated value is judged against the published one (comparison.py)
Compare = Literal[
    "relative", "absolute", "within_range", "at_most", "at_least", "greater_than", "less_than", "report_only"
]


class Reduce(_Model):
    """How the runs of a swept scenario give one number: the value ``at`` one swept setting, the
    setting where the quantity changes sign (``zero_crossing``), the largest relative deviation of
    quantity / setting from its mean (``proportionality``: 0 for exact proportionality), or the run
    farthest from the published value (``worst``)."""

    kind: Literal["at", "zero_crossing", "proportionality", "worst"]
    value: float | str | None = None

    @model_validator(mode="after")
    def _needs_value(self) -> Reduce:
        if self.kind == "at" and self.value is None:
            raise CaseError("value", "reduce 'at' needs the swept value to read")
        return self


class Check(_Model):
    """One comparison of a simulated quantity with a published one."""

    id: Annotated[str, Field(pattern=r"^[a-z0-9_]+$")]
    what: Annotated[str, Field(min_length=10)]
    quantity: str
    scenario: str | None = None
    #: a ratio of the quantity between two scenarios (treatment over control)
    numerator: str | None = None
    denominator: str | None = None
    options: dict[str, Any] = {}
    reduce: Reduce | None = None
    unit: str = ""
    published: Published
    compare: Compare
    tolerance: Tolerance | None = None
    #: why the simulation misses, when it does (written after the run; never a changed tolerance)
    miss_explanation: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Check:
        ratio = self.numerator is not None or self.denominator is not None
        if ratio and (self.numerator is None or self.denominator is None):
            raise CaseError(
                "numerator" if self.numerator is None else "denominator",
                "a ratio needs both numerator and denominator scenarios",
            )
        if ratio == (self.scenario is not None):
            raise CaseError("scenario", "give either scenario, or numerator and denominator")
        try:
            parse_text(f"1 {self.unit}" if self.unit else "1")
        except Exception:
            raise CaseError("unit", f"cannot read {self.unit!r} as a unit") from None
        needs_tolerance = self.compare in ("relative", "absolute")
        if needs_tolerance and self.tolerance is None:
            raise CaseError("tolerance", f"compare '{self.compare}' needs a tolerance with its basis")
        if self.published.not_found is not None and self.compare != "report_only":
            raise CaseError("compare", "a published value that was not found can only be 'report_only'")
        if self.compare in ("within_range",) and self.published.low is None:
            raise CaseError("published.low", "compare 'within_range' needs published low and high")
        if self.compare == "within_range" and self.published.value is not None:
            raise CaseError("published.value", "compare 'within_range' reads published low and high: remove the value")
        if self.reduce is not None and self.reduce.kind == "worst" and self.published.value is None:
            raise CaseError("published.value", "reduce 'worst' judges the run farthest from a published value: give it")
        if (
            self.compare in ("relative", "absolute", "at_most", "at_least", "greater_than", "less_than")
            and self.published.value is None
        ):
            raise CaseError("published.value", f"compare '{self.compare}' needs a published value")
        if self.tolerance is not None and self.tolerance.relative is not None and self.compare != "relative":
            raise CaseError(
                "tolerance.relative", f"a relative tolerance goes with compare 'relative', not '{self.compare}'"
            )
        if self.tolerance is not None and self.tolerance.absolute is not None and self.compare != "absolute":
            raise CaseError(
                "tolerance.absolute", f"an absolute tolerance goes with compare 'absolute', not '{self.compare}'"
            )
        return self

    def scenario_names(self) -> list[str]:
        if self.scenario is not None:
            return [self.scenario]
        # _consistent: without a scenario, a ratio of both numerator and denominator
        assert self.numerator is not None and self.denominator is not None
        return [self.numerator, self.denominator]


class Sweep(_Model):
    """Runs of one scenario at several settings: each value is written at every path of ``set``
    (config paths such as ``skin[0].pH`` or ``protocol[0].current``) in the config language."""

    set: Annotated[list[str], Field(min_length=1)]
    values: Annotated[list[float | str], Field(min_length=2)]
    label: str
    unit: str = ""


class ScenarioRef(_Model):
    """A scenario config reproducing the experiment (a path relative to the case file), optionally swept."""

    file: str
    sweep: Sweep | None = None


def _scenario_ref(value: object) -> object:
    return {"file": value} if isinstance(value, str) else value


class Case(_Model):
    """One published dataset and its comparison with the simulation."""

    name: Annotated[str, Field(pattern=r"^[a-z0-9_]+$")]
    title: str
    role: Literal["calibration", "prediction"]
    #: for a calibration case: the parameters this dataset fixed (docs/calibration.md)
    calibrates: list[str] = []
    citation: str
    source: SourceKey | list[SourceKey]
    conditions: str
    scenarios: dict[str, Annotated[ScenarioRef, BeforeValidator(_scenario_ref)]]
    checks: Annotated[list[Check], Field(min_length=1)]
    limitations: str | None = None
    #: the case folder (filled by load_case)
    folder: Path | None = None

    @model_validator(mode="after")
    def _references(self) -> Case:
        if self.role == "calibration" and not self.calibrates:
            raise CaseError("calibrates", "a calibration case names the parameters it fixed")
        if self.role == "prediction" and self.calibrates:
            raise CaseError("calibrates", "a prediction case calibrates nothing: no parameter may be tuned on it")
        ids = set()
        for k, check in enumerate(self.checks):
            if check.id in ids:
                raise CaseError(join_path("checks", k, "id"), f"{check.id!r} is used twice")
            ids.add(check.id)
            for field, name in (
                ("scenario", check.scenario),
                ("numerator", check.numerator),
                ("denominator", check.denominator),
            ):
                if name is not None and name not in self.scenarios:
                    raise CaseError(
                        join_path("checks", k, field),
                        f"unknown scenario {name!r}; this case has {', '.join(self.scenarios)}",
                    )
            swept = [self.scenarios[n].sweep is not None for n in check.scenario_names()]
            if check.numerator is not None and any(swept):
                raise CaseError(
                    join_path("checks", k, "numerator" if swept[0] else "denominator"),
                    "a ratio reads one run of each scenario; this one is swept",
                )
            if check.reduce is not None and not all(swept):
                raise CaseError(join_path("checks", k, "reduce"), "reduce needs a swept scenario")
            if check.reduce is None and any(swept):
                raise CaseError(
                    join_path("checks", k, "reduce"),
                    "the scenario is swept: say how its runs give one number (at, zero_crossing, "
                    "proportionality, worst)",
                )
        return self

    @property
    def sources(self) -> list[str]:
        return [self.source] if isinstance(self.source, str) else list(self.source)


def load_case(path: str | Path) -> Case:
    """Read and validate a case file (a case.yaml or its folder). Raises CaseError."""
    path = Path(path)
    if path.is_dir():
        path = path / CASE_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CaseError("<file>", f"cannot read {str(path)!r}: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise CaseError("<file>", f"YAML error in {path.name}{where}: {getattr(exc, 'problem', None) or exc}") from None
    return case_from_dict(data, path.parent)


def _located(exc: ValidationError) -> CaseError:
    """The CaseError of pydantic's first error, at its dotted path (a CaseError raised by a
    validator adds its own field to the path of the model that raised it)."""
    err = exc.errors(include_url=False)[0]
    path = join_path(*err["loc"])
    inner = (err.get("ctx") or {}).get("error")
    if isinstance(inner, CaseError):
        return CaseError(join_path(path, inner.field) if inner.field else path or "<file>", inner.reason)
    located = from_validation(err, path)
    return CaseError(located.field or "<file>", located.reason.removeprefix("Value error, "))


def case_from_dict(data: Any, folder: Path | None = None) -> Case:
    """Validate a case given as a mapping; ``folder`` is where its scenario paths start. Raises CaseError."""
    if not isinstance(data, dict):
        raise CaseError("<file>", f"a case file holds a mapping of fields, got {type(data).__name__}")
    if "folder" in data:
        raise CaseError("folder", "is filled by the loader")
    try:
        case = Case.model_validate(data)
    except ValidationError as exc:
        raise _located(exc) from None
    case.folder = folder
    if folder is not None:
        from iontosim.scenario import catalogue

        for name, ref in case.scenarios.items():
            if not (folder / ref.file).is_file() and not (
                catalogue.is_name(ref.file) and ref.file in catalogue.names()
            ):
                raise CaseError(
                    join_path("scenarios", name, "file"),
                    f"no scenario file {ref.file!r} next to the case, nor a shipped scenario of that name",
                )
    return case
