"""The code stays readable and typed: ruff (lint, complexity at most 15, format) and mypy, as
configured in pyproject.toml, pass on the package, the tests and the benchmarks."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CHECKED = ["iontosim", "tests", "benchmarks", "docs/hooks"]


def _tool(name: str) -> str:
    path = BIN / name
    if not path.exists() and shutil.which(name) is None:
        pytest.skip(f"{name} is not installed (pip install -e .[test])")
    return str(path) if path.exists() else name


def _run(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=900)


def test_ruff_finds_nothing():
    proc = _run([_tool("ruff"), "check", *CHECKED])
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_code_is_formatted():
    proc = _run([_tool("ruff"), "format", "--check", *CHECKED])
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_mypy_finds_nothing():
    proc = _run([_tool("mypy")])  # the files and settings of pyproject.toml
    assert proc.returncode == 0, proc.stdout + proc.stderr
