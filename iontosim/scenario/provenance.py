"""Provenance of config values: the ``{value: ..., source: KEY | estimate: why, note: ...}`` form."""

from __future__ import annotations

from typing import Any

from ..library.sources import check_source
from .errors import ScenarioError, join_path

WRAPPER_KEYS = ("value", "source", "estimate", "note")
_SEP = " | "


def is_wrapped(node: Any) -> bool:
    """Whether `node` is one value with its provenance ({value: ..., source: ...})."""
    return isinstance(node, dict) and "value" in node


def unwrap(node: Any, path: str, provenance: dict[str, str]) -> Any:
    """Return a copy of ``node`` with every ``{value: ...}`` mapping replaced by its value.

    Records ``path -> "source: KEY | note: ..."`` (or ``"estimate: why"``) in ``provenance``.
    Builds a new tree, so YAML aliases (shared sub-trees) get one entry per path.
    """
    if isinstance(node, dict):
        if is_wrapped(node):
            return _unwrap_leaf(node, path, provenance)
        return {k: unwrap(v, join_path(path, str(k)), provenance) for k, v in node.items()}
    if isinstance(node, list):
        return [unwrap(v, join_path(path, i), provenance) for i, v in enumerate(node)]
    return node


def _unwrap_leaf(node: dict, path: str, provenance: dict[str, str]) -> Any:
    for key in node:
        if key not in WRAPPER_KEYS:
            raise ScenarioError(
                join_path(path, str(key)),
                f"unknown key in a {{value: ...}} mapping; allowed: {', '.join(WRAPPER_KEYS)}",
            )
    if "source" not in node and "estimate" not in node:
        raise ScenarioError(
            path,
            "a {value: ...} mapping needs 'source' (a key of iontosim/library/sources.py) "
            "or 'estimate' (why the value was chosen)",
        )
    parts = []
    if "source" in node:
        keys = node["source"] if isinstance(node["source"], list) else [node["source"]]
        if not keys:
            raise ScenarioError(join_path(path, "source"), "empty source list")
        for i, key in enumerate(keys):
            where = join_path(path, "source", i) if isinstance(node["source"], list) else join_path(path, "source")
            try:
                check_source(key) if isinstance(key, str) else check_source(repr(key))
            except KeyError as exc:
                raise ScenarioError(where, exc.args[0]) from None
        parts.append(f"source: {', '.join(keys)}")
    for key in ("estimate", "note"):
        if key in node:
            text = node[key]
            if not isinstance(text, str) or not text.strip():
                raise ScenarioError(join_path(path, key), f"'{key}' must be a non-empty text")
            parts.append(f"{key}: {' '.join(text.split())}")
    provenance[path] = _SEP.join(parts)
    return node["value"]


def parse(text: str) -> dict[str, Any]:
    """Invert the provenance string: ``{"source": "KEY" or [keys], "estimate": ..., "note": ...}``."""
    out: dict[str, Any] = {}
    for part in text.split(_SEP):
        key, _, rest = part.partition(": ")
        if key == "source" and ", " in rest:
            out[key] = rest.split(", ")
        else:
            out[key] = rest
    return out
