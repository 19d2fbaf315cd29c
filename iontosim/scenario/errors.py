"""The single error type raised while loading a scenario."""

from __future__ import annotations


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
