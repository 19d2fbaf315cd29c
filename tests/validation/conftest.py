"""Helpers for the validation tests: case files copied into a temporary cases folder, so a test
may break or change one without touching iontosim/validation/cases/."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from iontosim.validation import CASES_DIR


def copy_case(tmp_path: Path, name: str, change=None) -> Path:
    """The shipped cases copied to tmp_path/cases/ (scenario files name shipped scenarios, or
    ../<other case>/x.yaml); `change(data)` edits the case.yaml of `name`. Returns the copied
    cases folder."""
    root = tmp_path / "cases"
    root.mkdir(parents=True, exist_ok=True)
    for other in CASES_DIR.iterdir():
        if other.is_dir() and not (root / other.name).exists():
            shutil.copytree(other, root / other.name)
    if change is not None:
        path = root / name / "case.yaml"
        data = yaml.safe_load(path.read_text())
        change(data)
        path.write_text(yaml.safe_dump(data, sort_keys=False))
    return root


@pytest.fixture
def cases_copy(tmp_path):
    return lambda name, change=None: copy_case(tmp_path, name, change)
