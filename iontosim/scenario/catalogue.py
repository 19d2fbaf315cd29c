"""The shipped scenarios: YAML files inside the package (iontosim/scenarios/), found by name.

A scenario is named by its file's stem (``fentanyl_ionsys``). Wherever a scenario file is asked for
(the command line, ``iontosim.load``, ``extends:`` in a scenario file, a validation case), a path
to a file is taken as it is, and a bare name that is no file is looked up here.
"""

from __future__ import annotations

import difflib
from pathlib import Path

from .errors import ScenarioError

#: the shipped scenarios (package data)
SCENARIOS_DIR = Path(__file__).resolve().parent.parent / "scenarios"
#: the shipped sweep files
SWEEPS_DIR = SCENARIOS_DIR / "sweeps"
#: the scenario `iontosim run` solves when none is given
DEFAULT = "lidocaine_epinephrine"


def names() -> list[str]:
    """Names of the shipped scenarios, sorted."""
    return sorted(p.stem for p in SCENARIOS_DIR.glob("*.yaml"))


def is_name(text: str | Path) -> bool:
    """Whether `text` reads as a bare scenario name (no folder, no .yaml suffix)."""
    text = str(text)
    return "/" not in text and "\\" not in text and not text.endswith((".yaml", ".yml"))


def locate(name_or_path: str | Path, field: str = "<file>", base: Path | None = None) -> Path:
    """The file of a scenario given by path (relative to `base` when given) or by shipped name.
    A name that is neither gets one ScenarioError on `field`, with the close matches."""
    path = Path(name_or_path)
    if base is not None and not path.is_absolute():
        path = base / path
    if path.is_file() or not is_name(name_or_path):
        return path
    if str(name_or_path) in names():
        return SCENARIOS_DIR / f"{name_or_path}.yaml"
    close = difflib.get_close_matches(str(name_or_path), names(), n=3, cutoff=0.5)
    hint = f"did you mean {', '.join(close)}? " if close else ""
    raise ScenarioError(
        field,
        f"{str(name_or_path)!r} is neither a file nor a shipped scenario; {hint}"
        f"shipped: {', '.join(names())} (iontosim scenarios)",
    )


def describe(name: str) -> str:
    """The first line of a shipped scenario's description (its `description` field)."""
    import yaml

    try:
        data = yaml.safe_load((SCENARIOS_DIR / f"{name}.yaml").read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return ""
    text = str(data.get("description", "") or "").strip()
    return text.splitlines()[0] if text else ""
