"""Helpers for the validation tests: case files copied into a temporary cases folder, so a test
may break or change one without touching benchmarks/validation/."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from iontosim.validation import CASES_DIR


def copy_case(tmp_path: Path, name: str, change=None) -> Path:
    """The cases of benchmarks/validation/ copied to tmp_path/benchmarks/validation/ (the layout of
    the repository, so that ../../../configs/x.yaml reaches a link to configs/); `change(data)`
    edits the case.yaml of `name`. Returns the copied cases folder."""
    root = tmp_path / "benchmarks" / "validation"
    root.mkdir(parents=True, exist_ok=True)
    # scenario files say ../../../configs/x.yaml and ../<other case>/x.yaml
    for other in CASES_DIR.iterdir():
        if other.is_dir() and not (root / other.name).exists():
            shutil.copytree(other, root / other.name)
    if not (tmp_path / "configs").exists():
        (tmp_path / "configs").symlink_to(CASES_DIR.parent.parent / "configs")
    if change is not None:
        path = root / name / "case.yaml"
        data = yaml.safe_load(path.read_text())
        change(data)
        path.write_text(yaml.safe_dump(data, sort_keys=False))
    return root


@pytest.fixture
def cases_copy(tmp_path):
    return lambda name, change=None: copy_case(tmp_path, name, change)
