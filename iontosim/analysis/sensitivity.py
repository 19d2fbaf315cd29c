"""Local sensitivity of a run's outputs to the parameters of its scenario file (issue 5).

For each parameter x and output y (delivered dose, penetration depth, plasma peak, ...) the
elasticity

    e = d ln y / d ln x

is estimated by central differences: the scenario is run at x (1 - h) and x (1 + h) (h the
relative step, 5 % by default) and e = (ln y+ - ln y-) / (ln x+ - ln x-), exact for a power law
y ~ x^e at any step (for a negative value, such as a fixed charge, x is its magnitude: e says
what making it larger in magnitude does). The one-sided estimates from each side and the base run,
(ln y+ - ln y0) / (ln x+ - ln x0) and (ln y0 - ln y-) / (ln x0 - ln x-), are reported too: where
they differ by more than NONLINEAR_ABS and NONLINEAR_REL |e|, the output curves over the step and
the row says so.

Which parameters. By default every scalar numeric leaf written with its provenance
({value: ..., source: KEY | estimate: why}) outside the sections protocol, numerics, outputs,
geometry and safety: those are the uncertain physical parameters (the others are what the user
chooses to do, or how to compute it). Any path given explicitly is added (a protocol current, a
plain value). A parameter is not perturbed, with the reason in the table, when:
  - its value is zero (a relative step leaves it at zero; its log elasticity does not exist);
  - it is a whole number written without provenance (a count: cells, grading, repeat);
  - both perturbed values are refused by the scenario's own validation (a fraction above 1, ...);
    when one side is refused, the other gives a one-sided estimate and the row says so.
A value that is not a number (a flag, a name, a list, a section) given explicitly is an error.

pH-like quantities (pure numbers under the keys pH, ..._pH, isoelectric_point, pKa) are
logarithms already: a relative step of a pH has no meaning (pH 7 is not "twice" pH 3.5). They are
stepped by the absolute amount h / ln 10 pH units (0.0217 at h = 5 %), which moves the
hydrogen-ion activity a_H = 10^-pH by the factor e^(-+h), about the same relative change as the
other parameters get, and their elasticity
is the one with respect to a_H:

    e = d ln y / d ln a_H = -(1 / ln 10) d ln y / d pH,

comparable with the others in the ranking. The derivative per pH unit is reported as well, as
d ln y / d pH (relative change per pH unit) and dy / d pH (in the output's unit per pH unit).

Running. The runs are independent: they go to a process pool (concurrent.futures, 'spawn' start
method: a forked MPI/PETSc process is not safe), each worker simulating on MPI.COMM_SELF with one
thread. A run that fails (the solver gives up, a limit of the device) is recorded with its error,
and only the elasticities that need it are missing; a worker process that dies (a crash in
compiled code) is retried alone, so that only the run that kills it is lost.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import re
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any

from iontosim.scenario import provenance as prov
from iontosim.scenario.errors import ScenarioError
from iontosim.scenario.load import scenario_from_dict
from iontosim.scenario.parameters import (
    canonical_path,
    entry_selector,
    magnitude,
    node_at,
    parse_path,
    scaled,
    with_parameter,
)
from iontosim.workers import stop_pool, worker_start

from ._worker import run_one, simulate_summary

#: top-level sections whose values are not uncertain physical parameters (what is done, how it is
#: computed, what is reported, where, and the limits it is judged by); paths in them may be given
#: explicitly
EXCLUDED_SECTIONS = ("protocol", "numerics", "outputs", "geometry", "safety")

#: keys that hold a pH-like (decimal logarithm) quantity, besides pH and every key ending in "_pH"
PH_LIKE_KEYS = ("isoelectric_point", "pKa")

DEFAULT_STEP = 0.05
#: one-sided elasticities that differ by more than NONLINEAR_ABS and by more than NONLINEAR_REL
#: times the central one mark the output as nonlinear over the step: the elasticity itself changes
#: by more than 10 % between x (1 - h) and x (1 + h), so the local value holds only for smaller changes
NONLINEAR_ABS = 0.02
NONLINEAR_REL = 0.1

#: a quantity written as text: its number and its unit (as parameters.py reads them)
_QUANTITY = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(.*?)\s*$")

RELATIVE = "relative"
PH = "pH"


@dataclass(frozen=True)
class Output:
    """One output of a run: its key in metrics.summarize (unit in the name), a label and the unit."""

    key: str
    name: str  # short, for column names: dose, penetration_depth, ...
    label: str
    unit: str


OUTPUTS: tuple[Output, ...] = (
    Output("drug_delivered_ug", "dose", "delivered dose", "ug"),
    Output("penetration_depth_um", "penetration_depth", "penetration depth", "um"),
    Output("peak_plasma_concentration_ng_per_mL", "plasma_peak", "peak plasma concentration", "ng/mL"),
    Output("depth_90pct_tissue_dose_um", "depth_90pct_dose", "depth holding 90 % of the tissue dose", "um"),
)


class BaseRunFailed(RuntimeError):
    """The run at the scenario's own values failed: no elasticity can be computed."""


# ---------------------------------------------------------------- parameters


@dataclass
class Parameter:
    """One perturbable value of the scenario file, named by its path."""

    path: str  # list entries by name where they have one: skin[stratum_corneum].thickness
    written: Any  # as in the file: "18 um", 4.8, 1.0e-3
    origin: str = ""  # "source: KEY | note: ...", "estimate: why"; "" for a value without provenance
    scale: str = RELATIVE  # RELATIVE (x (1 +- h)) or PH (x +- h / ln 10)
    skip: str = ""  # why it is not perturbed ("" when it is)
    explicit: bool = False  # given with --parameter

    @property
    def value(self) -> float:
        """The number as written, in the unit it is written in."""
        return magnitude(self.written)

    @property
    def unit(self) -> str:
        """The unit as written ("um", "mM", "1/s"); "pH" for pH-like values, "" for pure numbers."""
        if self.scale == PH:
            return "pH"
        match = _QUANTITY.match(self.written) if isinstance(self.written, str) else None
        return match.group(2) if match else ""

    @property
    def source(self) -> str:
        """Where the value comes from, in short: the source key(s), "estimate", or "no provenance"."""
        if not self.origin:
            return "no provenance"
        parts = prov.parse(self.origin)
        if "source" in parts:
            keys = parts["source"]
            return ", ".join(keys) if isinstance(keys, list) else keys
        return "estimate"


def is_ph_like(path: str, value: Any) -> bool:
    """Whether `value` at `path` is a pH-like (decimal logarithm) quantity: a pure number under a key
    pH, ..._pH, isoelectric_point or pKa (charge_at_reference_pH, a concentration, is not one)."""
    last = parse_path(path)[-1]
    named = isinstance(last, str) and (last == "pH" or last.endswith("_pH") or last in PH_LIKE_KEYS)
    match = _QUANTITY.match(value) if isinstance(value, str) else None
    pure = (isinstance(value, (int, float)) and not isinstance(value, bool)) or (
        match is not None and not match.group(2)
    )
    return named and pure


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    try:
        magnitude(value)
    except (TypeError, ValueError):
        return False
    return True


class _Selector(str):
    """A list entry chosen by its name (written [name] in a path)."""


def _path_of(parts: Sequence[str | int]) -> str:
    out = ""
    for part in parts:
        if isinstance(part, (int, _Selector)):
            out = f"{out}[{part}]"
        else:
            out = f"{out}.{part}" if out else str(part)
    return out


def _selector(entry: Any, index: int) -> str | int:
    selector = entry_selector(entry, index)  # the spelling of canonical_path
    return _Selector(selector) if isinstance(selector, str) else selector


def _leaves(node: Any, parts: list, out: list) -> None:
    """Every {value: ...} leaf under `node`, as (path parts, leaf)."""
    if prov.is_wrapped(node):
        out.append((parts, node))
    elif isinstance(node, dict):
        for key, value in node.items():
            _leaves(value, parts + [str(key)], out)
    elif isinstance(node, list):
        for index, entry in enumerate(node):
            _leaves(entry, parts + [_selector(entry, index)], out)


def _skip_reason(parameter: Parameter) -> str:
    if parameter.scale == RELATIVE and parameter.value == 0.0:
        return "zero: a relative step leaves it at zero (no log elasticity)"
    if (
        not parameter.origin
        and parameter.scale == RELATIVE
        and isinstance(parameter.written, int)
        and not isinstance(parameter.written, bool)
    ):
        return "a whole number without provenance (a count such as cells or repeat), not a continuous parameter"
    return ""


def _make(path: str, node: Any, explicit: bool = False) -> Parameter:
    origin = ""
    if prov.is_wrapped(node):
        provenance: dict[str, str] = {}
        prov.unwrap(node, path, provenance)
        origin = provenance.get(path, "")
        node = node["value"]
    parameter = Parameter(path, node, origin, PH if is_ph_like(path, node) else RELATIVE, explicit=explicit)
    parameter.skip = _skip_reason(parameter)
    return parameter


def default_parameters(data: dict[str, Any]) -> list[Parameter]:
    """The uncertain physical parameters of the scenario mapping `data`: every scalar numeric value
    written with its provenance, outside EXCLUDED_SECTIONS, in the order of the file."""
    found: list = []
    for key, value in data.items():
        if key not in EXCLUDED_SECTIONS:
            _leaves(value, [str(key)], found)
    return [_make(_path_of(parts), leaf) for parts, leaf in found if _is_number(leaf["value"])]


def locate(data: dict[str, Any], path: str) -> tuple[str, Any]:
    """The canonical path of `path` (list entries by name where they have one: skin[0] ->
    skin[stratum_corneum]), so that one parameter has one name, and the node written there (with
    its provenance). Raises ScenarioError (field: `path`) when nothing is there."""
    return canonical_path(data, path), node_at(data, path)


def explicit_parameter(data: dict[str, Any], path: str) -> Parameter:
    """The parameter at `path`; ScenarioError (field: the path) when there is none or it is not a number."""
    path, node = locate(data, path.strip())
    value = node["value"] if prov.is_wrapped(node) else node
    if isinstance(value, bool):
        raise ScenarioError(path, f"is a yes/no flag ({value}), not a number: it cannot be perturbed")
    if isinstance(value, dict):
        raise ScenarioError(
            path,
            f"is a section ({', '.join(map(str, value)) or 'empty'}), not a number: "
            "give the path of one value inside it",
        )
    if isinstance(value, list):
        raise ScenarioError(path, "is a list, not a number: give the path of one entry ([0], [name])")
    if not _is_number(value):
        raise ScenarioError(path, f"is {value!r}, not a number (with or without a unit): it cannot be perturbed")
    return _make(path, node, explicit=True)


def select_parameters(data: dict[str, Any], paths: Sequence[str] = (), only_given: bool = False) -> list[Parameter]:
    """The default parameters (unless `only_given`) plus those at `paths`, each once, in file order
    then in the order given. Raises ScenarioError for a path that names no number."""
    chosen = [] if only_given else default_parameters(data)
    known = {p.path for p in chosen}
    for path in paths:
        parameter = explicit_parameter(data, path)
        if parameter.path in known:
            next(p for p in chosen if p.path == parameter.path).explicit = True
            continue
        chosen.append(parameter)
        known.add(parameter.path)
    return chosen


# ---------------------------------------------------------------- perturbed scenarios


@dataclass
class Side:
    """One perturbed value of a parameter and the scenario that holds it."""

    label: str  # "low" or "high": the side of the written value
    written: Any  # the perturbed value, written like the original
    offset: float  # of the log coordinate from the base: ln x - ln x0, or ln a_H - ln a_H0 for pH
    ph_offset: float | None  # pH - pH0 for a pH-like parameter
    data: dict[str, Any] | None  # the scenario mapping; None when refused
    refused: str = ""  # the validation's reason when refused


def ph_step(step: float) -> float:
    """The absolute step of a pH-like value [pH units] that moves a_H = 10^-pH by the factor e^step."""
    return step / math.log(10.0)


def perturb(data: dict[str, Any], parameter: Parameter, step: float) -> tuple[Side, Side]:
    """The low and high sides of `parameter`, each validated as a scenario (a refused side keeps the
    validation's reason)."""
    sides = []
    for label, sign in (("low", -1.0), ("high", 1.0)):
        if parameter.scale == PH:
            delta = sign * ph_step(step)
            written: Any = parameter.value + delta
            offset, ph_offset = -math.log(10.0) * delta, delta
            why = f"varied by sensitivity analysis ({delta:+.4g} pH)"
        else:
            written = scaled(parameter.written, 1.0 + sign * step)
            offset, ph_offset = math.log1p(sign * step), None
            why = f"varied by sensitivity analysis ({sign * step:+.3g} relative)"
        changed = with_parameter(data, parameter.path, written, why=why)
        try:
            scenario_from_dict(changed)
        except ScenarioError as err:
            sides.append(Side(label, written, offset, ph_offset, None, refused=str(err)))
            continue
        sides.append(Side(label, written, offset, ph_offset, changed))
    return sides[0], sides[1]


# ---------------------------------------------------------------- elasticities


@dataclass
class Estimate:
    """The elasticity of one output to one parameter, with its one-sided estimates."""

    elasticity: float  # central where both sides ran, else the one-sided one; nan when undefined
    low_side: float  # from the low side and the base run
    high_side: float  # from the base run and the high side
    per_pH: float | None = None  # d ln y / d pH (pH-like parameters)
    slope_per_pH: float | None = None  # dy / d pH in the output's unit per pH unit (pH-like parameters)
    method: str = "central"  # "central", "low side only", "high side only", "none"
    note: str = ""  # why the elasticity is missing, when it is

    @property
    def spread(self) -> float:
        """|high-side - low-side estimate|: how much the output curves over the step (nan if one is missing)."""
        return abs(self.high_side - self.low_side)

    @property
    def nonlinear(self) -> bool:
        spread = self.spread
        return math.isfinite(spread) and spread > max(NONLINEAR_ABS, NONLINEAR_REL * abs(self.elasticity))


def _log_slope(ya: float | None, yb: float | None, ua: float, ub: float) -> float:
    if ya is None or yb is None or not (math.isfinite(ya) and math.isfinite(yb)) or ya * yb <= 0.0:
        return math.nan
    return (math.log(abs(yb)) - math.log(abs(ya))) / (ub - ua)


def estimate(y_low: float | None, y0: float, y_high: float | None, low: Side, high: Side) -> Estimate:
    """The elasticity from the output at the low side, the base and the high side (None: no run) and
    the sides' log-coordinate offsets. Central over both sides where both ran, else one-sided."""
    low_side = _log_slope(y_low, y0, low.offset, 0.0)
    high_side = _log_slope(y0, y_high, 0.0, high.offset)
    if y_low is not None and y_high is not None:
        central, method = _log_slope(y_low, y_high, low.offset, high.offset), "central"
    elif y_high is not None:
        central, method = high_side, "high side only"
    elif y_low is not None:
        central, method = low_side, "low side only"
    else:
        central, method = math.nan, "none"
    note = ""
    if not math.isfinite(central):
        values = [y for y in (y_low, y0, y_high) if y is not None]
        if method == "none":
            note = "no perturbed run"
        elif not all(math.isfinite(y) for y in values):
            note = "not a number in a run"
        elif y0 == 0.0:
            note = "zero in the base run"
        else:
            note = "zero or changes sign within the step"
    per_pH = slope = None
    if low.ph_offset is not None:
        assert high.ph_offset is not None  # perturb gives both sides of a pH-like parameter their pH offset
        # ln a_H = -ln(10) pH: the same differences, per pH unit
        per_pH = -math.log(10.0) * central
        a, b = (y_low, low.ph_offset) if y_low is not None else (y0, 0.0)
        c, d = (y_high, high.ph_offset) if y_high is not None else (y0, 0.0)
        slope = (c - a) / (d - b) if d != b and math.isfinite(c) and math.isfinite(a) else math.nan
    return Estimate(central, low_side, high_side, per_pH, slope, method, note)


# ---------------------------------------------------------------- one analysis


@dataclass
class Run:
    """One simulation of the analysis: the base or one side of one parameter."""

    parameter: str  # "" for the base run
    side: str  # "base", "low", "high"
    written: Any  # the parameter's value in this run
    summary: dict[str, float] | None = None
    error: str = ""
    warnings: list[str] = field(default_factory=list)
    wall_s: float = math.nan

    def output(self, key: str) -> float | None:
        if self.summary is None:
            return None
        return self.summary.get(key, math.nan)


@dataclass
class Row:
    """One parameter's line of the table."""

    parameter: Parameter
    low: Side | None = None
    high: Side | None = None
    runs: dict[str, Run] = field(default_factory=dict)  # "low", "high"
    estimates: dict[str, Estimate] = field(default_factory=dict)  # by output key

    @property
    def status(self) -> str:
        """ "ok", "skipped: why", "failed: error" or "one-sided: why" (what the elasticities rest on)."""
        if self.parameter.skip:
            return f"skipped: {self.parameter.skip}"
        problems = []
        for side in (self.low, self.high):
            if side is None:
                continue
            if side.refused:
                problems.append(f"{side.label} value {side.written!r} refused ({side.refused})")
            run = self.runs.get(side.label)
            if run is not None and run.error:
                problems.append(f"{side.label} run failed ({run.error})")
        if not problems:
            return "ok"
        usable = [label for label in ("low", "high") if label in self.runs and not self.runs[label].error]
        return ("one-sided: " if usable else "failed: ") + "; ".join(problems)

    @property
    def ranking(self) -> float:
        """The largest |elasticity| over the outputs (-1 when there is none): the table's order."""
        values = [abs(e.elasticity) for e in self.estimates.values() if math.isfinite(e.elasticity)]
        return max(values) if values else -1.0


@dataclass
class SensitivityResult:
    """Everything an analysis found; rows in table order (largest |elasticity| first)."""

    scenario_name: str
    drug: str
    step: float
    outputs: tuple[Output, ...]
    base: Run
    rows: list[Row]
    workers: int
    wall_s: float
    started: str  # UTC, ISO 8601

    @property
    def runs(self) -> list[Run]:
        return [self.base] + [run for row in self.rows for run in row.runs.values()]

    @property
    def failed_runs(self) -> list[Run]:
        return [run for run in self.runs if run.error]


def default_workers() -> int:
    """The cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def analyse(
    data: dict[str, Any],
    parameters: Sequence[Parameter],
    step: float = DEFAULT_STEP,
    workers: int | None = None,
    runner: Callable[[dict[str, Any]], dict[str, Any]] = simulate_summary,
    outputs: Sequence[Output] = OUTPUTS,
    progress: Callable[[Run], None] | None = None,
    planned: Callable[[int], None] | None = None,
) -> SensitivityResult:
    """Run the base scenario `data` and both sides of every parameter; the elasticities of `outputs`.

    `runner(mapping) -> summary` simulates one scenario (picklable: a module-level function; it runs
    in the workers). `workers` processes (default: the available cores; 0 runs everything in this
    process, for tests and debugging). `planned(n)` hears how many runs there are before they
    start, `progress(run)` each run as it finishes. Raises BaseRunFailed when the base run fails (the
    runs still queued are not started).
    """
    if not 0.0 < step < 0.5:
        raise ValueError(f"the relative step must lie between 0 and 0.5, got {step!r}")
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    clock = time.perf_counter()
    name = str(data.get("name", "scenario"))
    rows = [Row(p) for p in parameters]
    tasks: list[tuple[tuple[int, str], Any, dict[str, Any]]] = [((-1, "base"), None, data)]
    for k, row in enumerate(rows):
        if row.parameter.skip:
            continue
        row.low, row.high = perturb(data, row.parameter, step)
        if row.low.data is None and row.high.data is None:
            row.parameter.skip = (
                f"both perturbed values refused: {row.low.written!r} ({row.low.refused}); "
                f"{row.high.written!r} ({row.high.refused})"
            )
            continue
        for side in (row.low, row.high):
            if side.data is not None:
                tasks.append(((k, side.label), side.written, side.data))
    if planned is not None:
        planned(len(tasks))
    workers = default_workers() if workers is None else workers
    written = {key: value for key, value, _ in tasks}

    def finished(key: tuple[int, str], result: dict[str, Any]) -> Run:
        k, label = key
        run = Run(
            rows[k].parameter.path if k >= 0 else "",
            label,
            written[key],
            result.get("summary"),
            result.get("error", ""),
            result.get("warnings", []),
            result.get("wall_s", math.nan),
        )
        if progress is not None:
            progress(run)
        if k < 0 and run.error:  # nothing can be compared with it: stop what is still queued
            raise BaseRunFailed(f"the run at the scenario's own values failed: {run.error}")
        return run

    done = _execute([(key, d) for key, _, d in tasks], runner, workers, finished)
    base = done[(-1, "base")]
    for k, row in enumerate(rows):
        row.runs = {label: done[(k, label)] for label in ("low", "high") if (k, label) in done}
        if row.parameter.skip:
            continue
        low, high = row.low, row.high
        assert low is not None and high is not None  # perturbed above, or skipped
        for out in outputs:
            y = {label: (run.output(out.key) if not run.error else None) for label, run in row.runs.items()}
            y0 = base.output(out.key)
            # the base run has a summary: run_one gives one to every run that did not fail, and a
            # failed base run raised BaseRunFailed (finished)
            assert y0 is not None
            row.estimates[out.key] = estimate(y.get("low"), y0, y.get("high"), low, high)
    rows.sort(key=lambda r: -r.ranking)
    return SensitivityResult(
        name, str(data.get("drug", "")), step, tuple(outputs), base, rows, workers, time.perf_counter() - clock, started
    )


def _execute(
    tasks: list[tuple[Any, dict[str, Any]]], runner, workers: int, finished: Callable[[Any, dict[str, Any]], Run]
) -> dict[Any, Run]:
    """Run every (key, scenario mapping) of `tasks`; finished(key, result) makes each one's Run.

    When a worker process dies, the pool stops and every run not yet finished comes back broken.
    Those that were under way (their marker file is left; the one that killed the process is among
    them) run again each in a pool of its own, so that a run that crashes again is the only one
    lost; the others go back to a full pool."""
    done: dict[Any, Run] = {}
    if workers <= 0:
        for key, data in tasks:
            done[key] = finished(key, run_one(runner, data))
        return done
    context = multiprocessing.get_context("spawn")
    queue = list(tasks)
    with tempfile.TemporaryDirectory(prefix="iontosim-sensitivity-") as markers:

        def marker(number: int) -> str:
            return os.path.join(markers, f"run{number}")

        while queue:
            broken = []
            with ProcessPoolExecutor(
                max_workers=min(workers, len(queue)), mp_context=context, initializer=worker_start
            ) as pool:
                futures = {
                    pool.submit(run_one, runner, data, marker(n)): (n, key, data) for n, (key, data) in enumerate(queue)
                }
                try:
                    for future in as_completed(futures):
                        n, key, data = futures[future]
                        try:
                            done[key] = finished(key, future.result())
                        except BrokenProcessPool:
                            broken.append((n, key, data))
                except BaseException:  # Ctrl-C: stop the running runs too, at once
                    stop_pool(pool)
                    raise
            under_way = [(key, data) for n, key, data in broken if os.path.exists(marker(n))]
            for n, _, _ in broken:
                if os.path.exists(marker(n)):
                    os.remove(marker(n))
            if not under_way:  # the process died outside any run (start-up): isolate them all
                under_way = [(key, data) for _, key, data in broken]
            for key, data in under_way:
                with ProcessPoolExecutor(max_workers=1, mp_context=context, initializer=worker_start) as pool:
                    try:
                        result = pool.submit(run_one, runner, data).result()
                    except BrokenProcessPool:
                        result = {"error": "the worker process died (a crash in compiled code, or out of memory)"}
                done[key] = finished(key, result)
            queue = [(key, data) for _, key, data in broken if key not in done]
    return done
