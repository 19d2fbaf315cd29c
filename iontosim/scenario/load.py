"""Load a scenario from YAML (or a dict) into a validated Scenario; every problem is one ScenarioError."""

from __future__ import annotations

import re
import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from . import catalogue
from . import provenance as prov
from .errors import ScenarioError, from_validation, join_path
from .schema import Scenario, Step, expand_protocol
from .species_definitions import register

FILE = "<file>"


class StrictLoader(yaml.SafeLoader):
    """SafeLoader (anchors, aliases, merge keys) that refuses duplicate keys in one mapping."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario YAML file, or a shipped scenario by name (SI floats, provenance
    kept). Raises ScenarioError.

    A file may start from another one: ``extends: other.yaml`` (a path relative to the file, or
    the name of a shipped scenario) takes every section of that scenario, and this file's own
    sections change it: mappings are merged key by key, anything else (a list, a quantity with its
    source) replaces the base's value, and ``null`` removes it. Giving one of two alternatives
    (amount or concentration, spacing or positions, current or current_density, thickness or
    volume, every or times) drops the base's
    other.
    """
    return scenario_from_dict(read_scenario_file(catalogue.locate(path)))


#: A scenario or sweep file is a few kB; refuse anything far larger before reading it (a 256 MB
#: file took minutes to parse).
MAX_FILE_BYTES = 1_000_000
#: Values in a file once its anchors are expanded: a 1.5 kB "billion laughs" file of nested
#: aliases expands to millions, which the checks after it would walk one by one.
MAX_EXPANDED_VALUES = 100_000


def read_yaml(path: str | Path, field: str = FILE, error: type[ScenarioError] = ScenarioError) -> Any:
    """The document of a YAML file, refused as one `error` on `field` when it cannot be read, is
    not UTF-8, is larger than MAX_FILE_BYTES, is not YAML, or expands (through its aliases) to more
    than MAX_EXPANDED_VALUES values. Checked before the document is built."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise error(
                field,
                f"{path.name} is {size / 1e6:.1f} MB; a scenario file is a few kB (limit {MAX_FILE_BYTES / 1e6:g} MB)",
            )
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise error(field, f"cannot read {str(path)!r}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise error(
            field, f"{path.name} is not UTF-8 text (byte {exc.start} is {exc.object[exc.start]:#04x})"
        ) from None
    loader = None
    try:
        loader = StrictLoader(text)  # its reader refuses control characters (a NUL byte) at once
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded_size(node, {}) > MAX_EXPANDED_VALUES:
            raise error(field, f"{path.name} expands through its aliases to more than {MAX_EXPANDED_VALUES} values")
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = (getattr(exc, "problem", None) or str(exc)).splitlines()[0]  # one line
        raise error(field, f"YAML error in {path.name}{where}: {problem}") from None
    except RecursionError:
        raise error(field, f"{path.name} is nested too deeply to be a scenario") from None
    finally:
        if loader is not None:
            loader.dispose()


def _expanded_size(node: yaml.Node, sizes: dict[int, int]) -> int:
    """Number of values `node` stands for with every alias expanded; an alias is the same node
    object as its anchor, so each distinct node is counted once (`sizes`, by id)."""
    known = sizes.get(id(node))
    if known is not None:
        return known
    size = 1
    if isinstance(node, yaml.SequenceNode):
        size += sum(_expanded_size(item, sizes) for item in node.value)
    elif isinstance(node, yaml.MappingNode):
        size += sum(_expanded_size(k, sizes) + _expanded_size(v, sizes) for k, v in node.value)
    sizes[id(node)] = size = min(size, MAX_EXPANDED_VALUES + 1)
    return size


def read_scenario_file(path: str | Path, _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """The scenario mapping of a YAML file, with its ``extends`` chain resolved."""
    path = Path(path)
    field = "extends" if _seen else FILE
    if path.resolve() in _seen:
        raise ScenarioError("extends", f"{path.name} extends itself (through {' -> '.join(p.name for p in _seen)})")
    data = read_yaml(path, field)
    if not isinstance(data, dict):
        raise ScenarioError(field, f"{path.name} must hold a mapping of scenario fields, got {type(data).__name__}")
    _anchor_mesh(data, path.parent)
    base = data.pop("extends", None)
    if base is None:
        return data
    if not isinstance(base, str):
        raise ScenarioError("extends", f"give the path of one scenario file, got {base!r}")
    return _merged(read_scenario_file(catalogue.locate(base, "extends", path.parent), _seen + (path.resolve(),)), data)


def _anchor_mesh(data: dict[str, Any], folder: Path) -> None:
    """A geometry.mesh path relative to the scenario file's `folder` made absolute, so that it
    means the same file whoever extends the scenario and wherever it runs (a path found nowhere
    there is left for the mesh reader to look for in the working directory and the repository)."""
    geometry = data.get("geometry")
    if not isinstance(geometry, dict):
        return
    mesh = geometry.get("mesh")
    if isinstance(mesh, str) and not Path(mesh).expanduser().is_absolute() and (folder / mesh).is_file():
        geometry["mesh"] = str((folder / mesh).resolve())


#: keys of which a mapping takes one: giving one in a file that extends another drops the base's other
ALTERNATIVES = (
    ("amount", "concentration"),
    ("spacing", "positions"),
    ("current", "current_density"),
    ("thickness", "volume"),
    ("every", "times"),
)


def _merged(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for pair in ALTERNATIVES:
        for key, other in (pair, pair[::-1]):
            if key in changes and other not in changes:
                out.pop(other, None)
    for key, value in changes.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict) and not prov.is_wrapped(value):
            out[key] = _merged(out[key], value)
        else:
            out[key] = value
    return out


def scenario_from_dict(data: dict[str, Any]) -> Scenario:
    """Validate a scenario given as the YAML language (plain or {value, source} leaves). Raises ScenarioError."""
    if not isinstance(data, dict):
        raise ScenarioError(FILE, f"a scenario must be a mapping, got {type(data).__name__}")
    if "provenance" in data:
        raise ScenarioError("provenance", "is filled by the loader; write {value: ..., source: KEY} instead")
    provenance: dict[str, str] = {}
    plain = prov.unwrap(data, "", provenance)
    origins: list[str] = []
    if "protocol" in plain:
        plain["protocol"], origins = expand_protocol(plain["protocol"])
        provenance = _remap_protocol_provenance(provenance, origins)
    # user species first, with their sources: species names anywhere in the scenario may use them
    user = register(plain.get("species_definitions"), provenance)
    try:
        scenario = Scenario.model_validate(plain, context={"user_species": user})
    except ValidationError as exc:
        raise _to_scenario_error(exc, plain, origins) from None
    except ScenarioError as exc:  # raised outside pydantic's wrapping
        raise ScenarioError(_original_path(exc.field, origins), exc.reason) from None
    scenario.provenance = dict(sorted(provenance.items()))
    return scenario


def _remap_protocol_provenance(provenance: dict[str, str], origins: list[str]) -> dict[str, str]:
    """Re-key protocol provenance from written paths (repeat blocks, 'rest') to expanded step paths."""
    out = {k: v for k, v in provenance.items() if not k.startswith("protocol[")}
    for k, origin in enumerate(origins):
        for key, value in provenance.items():
            if key.startswith(origin + "."):
                suffix = key[len(origin) :]
                out[f"protocol[{k}]" + (".duration" if suffix == ".rest" else suffix)] = value
    return out


_STEP = re.compile(r"^protocol\[(\d+)\]")


def _original_path(path: str, origins: list[str]) -> str:
    """Map an expanded step path ``protocol[7].current`` back to where it was written."""
    m = _STEP.match(path)
    if m and int(m.group(1)) < len(origins):
        return origins[int(m.group(1))] + path[m.end() :]
    return path


def _to_scenario_error(exc: ValidationError, plain: dict, origins: list[str]) -> ScenarioError:
    err = exc.errors(include_url=False)[0]
    loc = list(err["loc"])
    # interstitial_fluid is written flat ("Na+: 140 mM"), modelled with a 'concentrations' mapping
    if loc[:2] == ["interstitial_fluid", "concentrations"] and "concentrations" not in (
        plain.get("interstitial_fluid") or {}
    ):
        del loc[1]
    allowed = _allowed_fields(loc[:-1]) if err["type"] == "extra_forbidden" else []
    located = from_validation(err, join_path(*loc), allowed)
    return ScenarioError(_original_path(located.field, origins) or FILE, located.reason)


def _allowed_fields(loc: list) -> list[str]:
    """Field names of the model found at ``loc`` (walking Scenario's annotations), else []."""
    tp: Any = Scenario
    for part in loc:
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            if part not in tp.model_fields:
                return []
            tp = tp.model_fields[part].annotation
        else:
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            tp = args[-1] if args else None
        while typing.get_origin(tp) in (typing.Union, typing.Annotated) or type(tp).__name__ == "UnionType":
            tp = [a for a in typing.get_args(tp) if a is not type(None)][0]
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        names = [n for n in tp.model_fields if n != "provenance"]
        return names + ["rest"] if tp is Step else names
    return []
