"""The single error type raised while loading a scenario."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


class ScenarioError(ValueError):
    """A problem in a scenario, located by a dotted field path.

    ``field`` is a path such as ``skin[2].thickness`` or ``donor.contents.lidocane``
    (``<file>`` for problems with the file itself); ``reason`` says what is wrong.
    It subclasses ValueError so that pydantic validators may raise it and the loader
    can recover the path it carries.
    """

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}"

    def __reduce__(self):
        return (type(self), (self.field, self.reason))


def join_path(*parts: str | int) -> str:
    """Join path parts: strings with '.', integers as '[i]' (``join_path('skin', 2, 'pH')``)."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part != "":
            out = f"{out}.{part}" if out else str(part)
    return out


def from_validation(err: Mapping[str, Any], path: str, allowed: Sequence[str] = ()) -> ScenarioError:
    """The ScenarioError for one pydantic error `err` (from ValidationError.errors()) located at
    `path`; `allowed` lists the fields of the model an unknown field was found in."""
    inner = (err.get("ctx") or {}).get("error")
    if isinstance(inner, ScenarioError):
        if inner.field:
            path = f"{path}{inner.field}" if not path or inner.field.startswith("[") else f"{path}.{inner.field}"
        return ScenarioError(path, inner.reason)
    if isinstance(inner, Exception):
        return ScenarioError(path, str(inner))
    if err["type"] == "missing":
        return ScenarioError(path, "required field is missing")
    if err["type"] == "extra_forbidden":
        listed = f"; allowed: {', '.join(allowed)}" if allowed else ""
        return ScenarioError(path, f"unknown field {err['loc'][-1]!r}{listed}")
    return ScenarioError(path, f"{err['msg']} (got {err.get('input')!r})")
