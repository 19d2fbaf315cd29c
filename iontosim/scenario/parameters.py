"""Scenario parameters named by where they stand in a scenario file, for sweeps and sensitivity.

A parameter path reads like the YAML: ``donor.pH``, ``protocol[0].current``,
``skin[stratum_corneum].fixed_charge.isoelectric_point``. A list entry is chosen by its position
or, for lists of named entries (skin layers, species definitions), by its ``name``. The paths
work on the mapping of a scenario file (``load.read_scenario_file``) before validation, so a
changed value goes through the same checks, with the same messages, as one written by hand.

A value written with its provenance (``{value: 100 mM, source: KEY}``) keeps the mapping: the new
value replaces ``value``, and the source gives way to an ``estimate`` saying that the value was
varied and from what, so that ``config.resolved.yaml`` never credits a source with a number it
did not give.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from . import provenance as prov
from .errors import ScenarioError, join_path

_PART = re.compile(r"([^.\[\]]+)|\[([^\]]+)\]")
_NUMBER_WITH_UNIT = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(.*?)\s*$")


def parse_path(path: str) -> list[str | int]:
    """The parts of a parameter path: keys (str) and list selectors (int position or str name)."""
    parts: list[str | int] = []
    position = 0
    for match in _PART.finditer(path):
        if match.start() != position and path[position : match.start()] != ".":
            break
        key, selector = match.groups()
        if selector is not None:
            selector = selector.strip()
            parts.append(int(selector) if selector.lstrip("-").isdigit() else selector)
        else:
            parts.append(key.strip())
        position = match.end()
    if not parts or position != len(path):
        raise ScenarioError(
            path or "<parameter>",
            "not a parameter path (write it like donor.pH, protocol[0].current or skin[dermis].thickness)",
        )
    return parts


def _step(node: Any, part: str | int, done: str, path: str, create: bool = False) -> tuple[Any, Any]:
    """The container holding `part` in `node` and the key or index of `part` in it; with `create`,
    a field not written in a section is added to it (a default the scenario's checks then judge)."""
    where = done or "the scenario"
    if isinstance(node, list):
        if isinstance(part, int):
            if not -len(node) <= part < len(node):
                raise ScenarioError(path, f"{where} has {len(node)} entries; [{part}] is not one of them")
            return node, part
        names = [entry.get("name") for entry in node if isinstance(entry, dict)]
        if part not in names:
            raise ScenarioError(path, f"{where} has no entry named {part!r}; named: {', '.join(map(str, names))}")
        return node, names.index(part)
    if isinstance(node, dict) and not prov.is_wrapped(node):
        if create and isinstance(part, str) and part not in node:
            node[part] = {}
            return node, part
        if isinstance(part, int) or part not in node:
            known = ", ".join(str(k) for k in node) or "none"
            raise ScenarioError(path, f"{where} has no field {part!r} (written here: {known})")
        return node, part
    raise ScenarioError(path, f"{where} is a value, not a section: nothing inside it to choose")


def _locate(data: dict[str, Any], path: str, create: bool = False) -> tuple[Any, Any]:
    node: Any = data
    container, key = None, None
    done = ""  # the path so far, as written
    for part in parse_path(path):
        container, key = _step(node, part, done, path, create)
        node = container[key]
        done = f"{done}[{part}]" if isinstance(container, list) else join_path(done, part)
    return container, key


def node_at(data: dict[str, Any], path: str) -> Any:
    """What is written at `path`, a {value: ..., source: ...} mapping included. Raises
    ScenarioError naming the path."""
    container, key = _locate(data, path)
    return container[key]


def get_parameter(data: dict[str, Any], path: str) -> Any:
    """The value written at `path` (without its provenance). Raises ScenarioError naming the path."""
    node = node_at(data, path)
    return node["value"] if prov.is_wrapped(node) else node


def with_parameter(
    data: dict[str, Any], path: str, value: Any, why: str = "varied", create: bool = False
) -> dict[str, Any]:
    """A copy of the scenario mapping `data` with `value` at `path` (a quantity as in a config,
    such as "15 um", or a number). `why` says, in the provenance, why the value differs. With
    `create`, fields the file does not write (defaults) are added where the path names them."""
    out = copy.deepcopy(data)
    container, key = _locate(out, path, create)
    node = container[key]
    if prov.is_wrapped(node):
        origin = f"source {node['source']}" if "source" in node else f"estimate: {node.get('estimate')}"
        container[key] = {"value": value, "estimate": f"{why} from {node['value']!r} ({origin})"}
    else:
        container[key] = value
    return out


def scaled(value: Any, factor: float) -> Any:
    """`value` (a number or a quantity written as "100 mM") times `factor`, in the same unit."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a number")
    if isinstance(value, (int, float)):
        return value * factor
    match = _NUMBER_WITH_UNIT.match(str(value))
    if match is None:
        raise ValueError(f"{value!r} is not a number with a unit")
    number, unit = match.groups()
    return f"{float(number) * factor!r} {unit}".strip() if unit else float(number) * factor


def magnitude(value: Any) -> float:
    """The number of `value` (a number or "100 mM"), in the unit it is written in."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    match = _NUMBER_WITH_UNIT.match(str(value)) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"{value!r} is not a number with a unit")
    return float(match.group(1))


def canonical_path(data: dict[str, Any], path: str) -> str:
    """The one spelling of the value at `path`: list entries by their name where they have one,
    by their (non-negative) position otherwise (``skin[0].pH`` -> ``skin[stratum_corneum].pH``), so
    that two spellings of one parameter are recognised as one. Raises ScenarioError like
    get_parameter."""
    get_parameter(data, path)  # the path's own errors
    node: Any = data
    out = ""
    for part in parse_path(path):
        if isinstance(node, list):
            container, index = _step(node, part, out, path)
            index %= len(node)
            out = f"{out}[{entry_selector(node[index], index)}]"
            node = node[index]
        else:
            out = join_path(out, part)
            node = node[part]
    return out


def entry_selector(entry: Any, index: int) -> str | int:
    """How a path names the list entry `entry` at `index`: by its name where it has one that
    cannot be taken for a position, by its position otherwise."""
    name = entry.get("name") if isinstance(entry, dict) else None
    return name if isinstance(name, str) and not name.lstrip("-").isdigit() else index
