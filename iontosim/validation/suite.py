"""The published cases: find them, build their scenarios, run them and compare.

``list_cases()`` names the cases in iontosim/validation/cases/; ``run_case(name, comm)`` builds the
scenarios of one case on `comm`, runs them through ``simulation.simulate`` exactly as
``iontosim run`` does, reads each check's quantity and judges it (comparison.py). Every rank
returns the same CaseResult. ``prepare_case`` does all the reading and validation without
solving, so a command can refuse bad input before any run starts.
"""

from __future__ import annotations

import copy
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..scenario import catalogue
from ..scenario.errors import ScenarioError, join_path
from ..scenario.load import read_scenario_file, scenario_from_dict
from ..scenario.units import parse_text
from . import quantities as Q
from .case import CASE_FILE, Case, CaseError, Check, load_case
from .comparison import Verdict, judge, si_to_unit, to_unit

#: the shipped validation cases (package data)
CASES_DIR = Path(__file__).resolve().parent / "cases"


def list_cases(cases_dir: Path | None = None) -> list[str]:
    """Names of the validation cases (folders holding a case.yaml), sorted."""
    root = Path(cases_dir or CASES_DIR)
    return sorted(p.parent.name for p in root.glob(f"*/{CASE_FILE}"))


def case_path(name: str, cases_dir: Path | None = None) -> Path:
    """The case file of `name`. Raises CaseError naming the known cases."""
    root = Path(cases_dir or CASES_DIR)
    path = root / name / CASE_FILE
    if not path.is_file():
        known = list_cases(root)
        import difflib

        close = difflib.get_close_matches(name, known, n=2)
        hint = f"; did you mean {', '.join(close)}?" if close else f"; known cases: {', '.join(known) or 'none'}"
        raise CaseError("case", f"unknown case {name!r}{hint}")
    return path


# ---------------------------------------------------------------- preparing (no solving)


@dataclass
class PreparedScenario:
    name: str
    #: (setting as written, or None) -> validated Scenario, in sweep order
    runs: list[tuple[float | str | None, Any]]
    sweep_label: str = ""
    sweep_unit: str = ""


@dataclass
class PreparedCase:
    case: Case
    scenarios: dict[str, PreparedScenario]
    options: dict[str, Any]  # check id -> validated quantity options


def _set_path(data: dict, path: str, value: Any) -> None:
    """Write `value` at a config path such as ``skin[0].pH`` or ``protocol[0].current`` (the leaf may
    be a {value: ..., source: ...} mapping: its value is replaced, its provenance kept)."""
    parts = [p for p in re.split(r"\.|\[(\d+)\]", path) if p]
    node: Any = data
    for k, part in enumerate(parts):
        key: Any = int(part) if part.isdigit() else part
        last = k == len(parts) - 1
        try:
            if last:
                if isinstance(node[key], dict) and "value" in node[key]:
                    node[key]["value"] = value
                else:
                    node[key] = value
            else:
                node = node[key]
        except (KeyError, IndexError, TypeError):
            raise ValueError(f"the scenario has no {path!r}") from None


def _setting_si(value: float | str) -> float:
    q = parse_text(str(value))
    return float(q.to_base_units().magnitude)


def _swept_si(setting: float | str | None) -> float:
    """The SI value of the setting of a swept scenario's run (each has one: its sweep's value)."""
    assert setting is not None
    return _setting_si(setting)


def _single_scenario(check: Check) -> str:
    """The scenario of a check that is not a ratio (Check._consistent: one or the other)."""
    assert check.scenario is not None
    return check.scenario


def prepare_case(case: Case | str | Path, cases_dir: Path | None = None) -> PreparedCase:
    """Load `case` (a Case, a case name or a case file path) and validate its scenarios and the
    options of its checks, without solving anything. Raises CaseError naming the field."""
    if not isinstance(case, Case):
        path = Path(case)
        given_file = path.suffix in (".yaml", ".yml") or path.is_dir()
        case = load_case(path if given_file else case_path(str(case), cases_dir))
    scenarios = {name: _prepared_scenario(case, name, ref) for name, ref in case.scenarios.items()}
    options = {}
    for k, check in enumerate(case.checks):
        options[check.id] = _prepared_options(check, scenarios, join_path("checks", k))
    return PreparedCase(case, scenarios, options)


def _prepared_scenario(case: Case, name: str, ref) -> PreparedScenario:
    """One scenario of a case, each of its sweep's settings validated as a Scenario."""
    where = join_path("scenarios", name)
    file = catalogue.locate(ref.file, "scenarios", case.folder)
    try:
        base = read_scenario_file(file)
    except ScenarioError as err:
        raise CaseError(join_path(where, "file"), f"{ref.file}: {err}") from None
    settings = ref.sweep.values if ref.sweep is not None else [None]
    runs = []
    for k, value in enumerate(settings):
        data = copy.deepcopy(base)
        if value is not None:
            for target in ref.sweep.set:
                try:
                    _set_path(data, target, value)
                except ValueError as err:
                    raise CaseError(join_path(where, "sweep", "set"), str(err)) from None
            try:
                _setting_si(value)
            except Exception:
                raise CaseError(join_path(where, "sweep", "values", k), f"cannot read {value!r}") from None
        try:
            scenario = scenario_from_dict(data)
        except ScenarioError as err:
            at = f" (sweep value {value!r})" if value is not None else ""
            field_ = join_path(where, "sweep", "values", k) if value is not None else join_path(where, "file")
            raise CaseError(field_, f"{ref.file}{at}: {err}") from None
        runs.append((value, scenario))
    return PreparedScenario(name, runs, ref.sweep.label if ref.sweep else "", ref.sweep.unit if ref.sweep else "")


def _prepared_options(check: Check, scenarios: dict[str, PreparedScenario], where: str) -> Any:
    """A check's options, parsed and held against its scenarios (profile times, swept values)."""
    if check.quantity not in Q.QUANTITIES:
        raise CaseError(
            join_path(where, "quantity"),
            f"unknown quantity {check.quantity!r}; known: {', '.join(sorted(Q.QUANTITIES))}",
        )
    try:
        opts = Q.parse_options(check.quantity, check.options)
    except ValueError as err:
        raise CaseError(join_path(where, "options", str(err).split(":")[0]), str(err).split(": ", 1)[-1]) from None
    _check_units(check, scenarios, where)
    for option in Q.QUANTITIES[check.quantity].profile_options:
        at = getattr(opts, option)
        for name in check.scenario_names():
            for _, sc in scenarios[name].runs:
                if not any(abs(t - at) <= 1e-6 * max(1.0, at) for t in sc.outputs.profile_times):
                    raise CaseError(
                        join_path(where, "options", option),
                        f"{at / 60:g} min is not one of the profile times of scenario {name!r}; "
                        "add it to its outputs.profile_times",
                    )
    if check.reduce is not None and check.reduce.kind == "at":
        swept = scenarios[check.scenario_names()[0]]  # reduce: a swept scenario (Case._references)
        at = check.reduce.value
        assert at is not None  # Reduce._needs_value
        want = _setting_si(at)
        if not any(abs(_swept_si(v) - want) <= 1e-9 * max(1.0, abs(want)) for v, _ in swept.runs):
            raise CaseError(
                join_path(where, "reduce", "value"),
                f"{check.reduce.value!r} is not one of the swept values of {swept.name!r}",
            )
    return opts


def _check_units(check: Check, scenarios: dict[str, PreparedScenario], where: str) -> None:
    """The check's unit must measure what it reports: the quantity, a ratio (pure number), the swept
    setting (zero_crossing) or a relative deviation (proportionality, pure number)."""
    si = _reported_si_unit(check, scenarios)
    try:
        si_to_unit(1.0, si, check.unit)
    except ValueError as err:
        raise CaseError(join_path(where, "unit"), str(err)) from None
    pub = check.published
    for name in ("value", "low", "high", "uncertainty"):
        text = getattr(pub, name)
        if text is None:
            continue
        try:
            to_unit(text, check.unit)
        except ValueError as err:
            raise CaseError(join_path(where, "published", name), str(err)) from None
    if check.tolerance is not None and check.tolerance.absolute is not None:
        try:
            to_unit(check.tolerance.absolute, check.unit)
        except ValueError as err:
            raise CaseError(join_path(where, "tolerance", "absolute"), str(err)) from None


def _reported_si_unit(check: Check, scenarios: dict[str, PreparedScenario]) -> str:
    if check.numerator is not None:
        return "1"
    if check.reduce is not None and check.reduce.kind == "zero_crossing":
        unit = scenarios[_single_scenario(check)].sweep_unit
        return str(parse_text(f"1 {unit}").to_base_units().units) if unit else "1"
    if check.reduce is not None and check.reduce.kind == "proportionality":
        return "1"
    return Q.QUANTITIES[check.quantity].si_unit


# ---------------------------------------------------------------- results


@dataclass
class Series:
    """A curve of the picture, both axes in display units."""

    x: list[float]
    y: list[float]
    label: str


@dataclass
class CheckResult:
    id: str
    what: str
    quantity: str
    unit: str
    role: str
    simulated: float | None  # in `unit`
    verdict: Verdict | None
    status: str  # "pass", "fail", "n/a" (nothing to judge), "error"
    basis: str = ""
    miss_explanation: str | None = None
    error: str | None = None
    published_source: str = ""
    published_quote: str | None = None
    published_tag: str = ""
    published_note: str | None = None  # the case file's note, or why nothing was found
    # the picture
    x_label: str = ""
    y_label: str = ""
    series: list[Series] = field(default_factory=list)
    marker_x: float | None = None
    log_y: bool = False
    published_on_x: bool = False  # the published number is a setting (a zero crossing) or a depth: on x
    published_on_y: bool = False  # the curve's y is the checked quantity in the check's unit
    x_scale: float = 1.0  # check unit per x-axis unit, where the published number is drawn on x


@dataclass
class CaseResult:
    name: str
    title: str
    role: str
    calibrates: list[str]
    citation: str
    sources: list[str]
    conditions: str
    limitations: str | None
    checks: list[CheckResult]
    runs: int
    wall_time_s: float
    scenario_files: dict[str, str]

    @property
    def status(self) -> str:
        states = {c.status for c in self.checks}
        if "error" in states:
            return "error"
        if "fail" in states:
            return "fail"
        return "pass" if "pass" in states else "n/a"


# ---------------------------------------------------------------- running


class RunCache:
    """Runs already solved in this process, by scenario content (name and description aside), so a
    scenario shared by several cases (the LidoSite default) is solved once."""

    def __init__(self) -> None:
        self._runs: dict[str, Q.Run] = {}

    @staticmethod
    def key(scenario) -> str:
        data = scenario.resolved_dict()
        data.pop("name", None)
        data.pop("description", None)
        return json.dumps(data, sort_keys=True, default=str)

    def get(self, scenario):
        return self._runs.get(self.key(scenario))

    def put(self, scenario, run: Q.Run) -> None:
        self._runs[self.key(scenario)] = run


def _solve(scenario, comm, setting, cache: RunCache | None) -> Q.Run:
    from .. import api

    if cache is not None:
        hit = cache.get(scenario)
        if hit is not None:
            return Q.Run(scenario, hit.record, setting, dict(hit.velocity), hit.summary)
    velocity: dict[float, float] = {}

    def observe(model, t: float) -> None:
        # the electroosmotic velocity the step ending at t used (1D column: one number)
        v = getattr(model, "velocity", None)
        if v is not None and getattr(model, "has_flow", False) and hasattr(v, "value"):
            velocity[float(t)] = float(v.value[model.depth_axis])

    result = api.run(scenario, comm=comm, on_output=observe)
    run = Q.Run(scenario, result.record, setting, velocity, result.summary)
    if cache is not None:
        cache.put(scenario, run)
    return run


def run_case(
    case: Case | str | Path, comm=None, cases_dir: Path | None = None, cache: RunCache | None = None, progress=None
) -> CaseResult:
    """Run one validation case on `comm` (default: this process alone) and compare; every rank
    returns the same CaseResult.

    `case`: a case name (a folder of iontosim/validation/cases/), a case file or a Case. Bad input
    raises CaseError before anything is solved; a solver failure is reported in the result
    (status "error") rather than raised. `progress(text)` is called on rank 0 before each run.
    """
    if comm is None:
        from iontosim._fenics import MPI

        comm = MPI.COMM_SELF
    prepared = case if isinstance(case, PreparedCase) else prepare_case(case, cases_dir)
    started = time.perf_counter()
    runs: dict[str, list[Q.Run]] = {}
    failures: dict[str, str] = {}
    count = 0
    for name, prep in prepared.scenarios.items():
        runs[name] = []
        for setting, scenario in prep.runs:
            if progress is not None and comm.rank == 0:
                progress(f"{prepared.case.name}: {name}" + (f" at {setting}" if setting is not None else ""))
            try:
                runs[name].append(_solve(scenario, comm, setting, cache))
                count += 1
            except (RuntimeError, ValueError) as err:  # SimulationError and its kind: alike on every rank
                failures[name] = f"{type(err).__name__}: {err}"
                break
    result = None
    if comm.rank == 0:  # profiles are complete on rank 0 only
        checks = [_evaluate(prepared, check, runs, failures) for check in prepared.case.checks]
        c = prepared.case
        result = CaseResult(
            c.name,
            c.title,
            c.role,
            list(c.calibrates),
            c.citation,
            c.sources,
            c.conditions,
            c.limitations,
            checks,
            count,
            time.perf_counter() - started,
            {n: ref.file for n, ref in c.scenarios.items()},
        )
    return comm.bcast(result, root=0)


def _evaluate(prepared: PreparedCase, check: Check, runs: dict[str, list[Q.Run]], failures: dict) -> CheckResult:
    case = prepared.case
    quantity = Q.QUANTITIES[check.quantity]
    out = CheckResult(
        check.id,
        check.what,
        check.quantity,
        check.unit,
        case.role,
        None,
        None,
        "error",
        basis=check.tolerance.basis if check.tolerance else "",
        miss_explanation=check.miss_explanation,
        published_source=check.published.source,
        published_quote=check.published.quote,
        published_tag=check.published.tag,
        published_note=check.published.not_found or check.published.note,
    )
    failed = [failures[n] for n in check.scenario_names() if n in failures]
    if failed:
        out.error = failed[0]
        return out
    options = prepared.options[check.id]
    try:
        value_si = _value(check, quantity, options, runs, prepared, out)
        out.simulated = si_to_unit(value_si, _reported_si_unit(check, prepared.scenarios), check.unit)
        out.verdict = judge(check, out.simulated)
    except ValueError as err:
        out.error = str(err)
        return out
    out.status = {True: "pass", False: "fail", None: "n/a"}[out.verdict.passed]
    return out


def _curve(reading: Q.Reading) -> Q.Curve:
    """The curve a value was read from: every quantity draws one, except penetration_depth when the
    run recorded no depth profile (up to `until`)."""
    if reading.curve is None:  # a check error, reported with the case
        raise ValueError("no depth profile was recorded before `until`: add outputs.profile_times")
    return reading.curve


def _display(values: list[float], si_unit: str, unit: str) -> list[float]:
    factor = si_to_unit(1.0, si_unit, unit)
    return [v * factor for v in values]


def _value(
    check: Check, quantity: Q.Quantity, options, runs: dict[str, list[Q.Run]], prepared: PreparedCase, out: CheckResult
) -> float:
    """The check's number in SI, and its picture on `out`."""
    if check.numerator is not None:
        assert check.denominator is not None  # Check._consistent: a ratio has both
        (num,), (den,) = runs[check.numerator], runs[check.denominator]
        a, b = quantity.read(num, options), quantity.read(den, options)
        if b.value == 0:
            raise ValueError(f"the {check.denominator} run gives zero {check.quantity}: no ratio")
        # the picture shows what the quantity is read from in both runs, in its own unit
        curve_a, curve_b = _curve(a), _curve(b)
        y_si = curve_a.y_unit or quantity.si_unit
        shown = _display_unit(y_si)
        out.x_label, out.y_label = curve_a.x_label, f"{curve_a.y_name or check.quantity} [{shown}]"
        out.series = [
            Series(curve_a.x, _display(curve_a.y, y_si, shown), f"{check.numerator} {curve_a.label}"),
            Series(curve_b.x, _display(curve_b.y, y_si, shown), f"{check.denominator} {curve_b.label}"),
        ]
        out.log_y = curve_a.log_y
        return a.value / b.value
    scenario_runs = runs[_single_scenario(check)]
    if check.reduce is None:
        reading = quantity.read(scenario_runs[0], options)
        curve = _curve(reading)
        y_si = curve.y_unit or quantity.si_unit
        shown = check.unit if curve.y_unit is None else _display_unit(y_si)
        out.x_label = curve.x_label
        out.y_label = f"{curve.y_name or check.quantity}" + (f" [{shown}]" if shown else "")
        out.series = [Series(curve.x, _display(curve.y, y_si, shown), curve.label)]
        out.marker_x, out.log_y = reading.marker_x, curve.log_y
        out.published_on_y = curve.y_unit is None
        if curve.value_on_x:  # a depth read off a profile drawn in mm
            out.published_on_x, out.x_scale = True, si_to_unit(1.0, "mm", check.unit) if check.unit else 1.0
        return reading.value
    # a swept scenario: one number per run, then the reduction
    prep = prepared.scenarios[_single_scenario(check)]
    x_si = [_swept_si(r.setting) for r in scenario_runs]
    x_shown = [to_unit(str(r.setting), prep.sweep_unit) for r in scenario_runs]  # as written, in the sweep's unit
    y = [quantity.read(r, options).value for r in scenario_runs]
    shown = _display_unit(quantity.si_unit) if check.reduce.kind in ("zero_crossing", "proportionality") else check.unit
    out.x_label = f"{prep.sweep_label}" + (f" [{prep.sweep_unit}]" if prep.sweep_unit else "")
    out.y_label = f"{check.quantity}" + (f" [{shown}]" if shown else "")
    out.series = [Series(x_shown, _display(y, quantity.si_unit, shown), "simulated")]
    kind = check.reduce.kind
    out.published_on_y = kind in ("at", "worst")
    if kind == "at":
        at = check.reduce.value
        assert at is not None  # Reduce._needs_value
        want = _setting_si(at)
        k = min(range(len(x_si)), key=lambda i: abs(x_si[i] - want))
        out.marker_x = x_shown[k]
        return y[k]
    if kind == "zero_crossing":
        out.published_on_x = True
        pairs = sorted(zip(x_si, y))
        for (x0, y0), (x1, y1) in zip(pairs[:-1], pairs[1:]):
            if y0 == 0.0:
                return x0
            if y0 * y1 < 0:
                return x0 + (x1 - x0) * y0 / (y0 - y1)
        raise ValueError(f"{check.quantity} does not change sign over the swept {prep.sweep_label}")
    if kind == "proportionality":
        ratios = [yi / xi for xi, yi in zip(x_si, y)]
        mean = sum(ratios) / len(ratios)
        # the line through the origin with the mean ratio, for the picture
        out.series.append(
            Series(
                x_shown,
                _display([mean * xi for xi in x_si], quantity.si_unit, shown),
                "proportional (mean dose per setting)",
            )
        )
        return max(abs(r / mean - 1.0) for r in ratios)
    # worst: the run farthest from the published value
    published = check.published.value
    assert published is not None  # Check refuses 'worst' without a published value
    target = to_unit(published, check.unit) / si_to_unit(1.0, quantity.si_unit, check.unit)
    k = max(range(len(y)), key=lambda i: abs(y[i] - target))
    out.marker_x = None
    return y[k]


_DISPLAY_UNITS = {
    "kg": "ug",
    "kg/m^2": "ug/cm^2",
    "kg/m^3": "ug/mL",
    "m": "mm",
    "m/s": "uL/cm^2/h",
    "kg/m^2/s": "ug/cm^2/h",
    "s": "h",
    "ohm*m^2": "kohm*cm^2",
    "1": "",
}


def _display_unit(si_unit: str) -> str:
    return _DISPLAY_UNITS.get(si_unit, si_unit)
