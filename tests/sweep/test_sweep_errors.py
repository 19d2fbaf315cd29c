"""Bad sweep files and arguments: one line naming the field and the reason, exit status 2, no
traceback, and nothing written."""

from __future__ import annotations

import pytest
import yaml

from tests.sweep.conftest import GRID, invoke, write_sweep

BAD = {
    "unknown design": ({"design": {"kind": "factorial"}}, "design.kind", "grid, random, latin_hypercube, sobol"),
    "samples for a grid": ({"design": {"kind": "grid", "samples": 4}}, "design.samples", "product"),
    "no samples": ({"design": {"kind": "random"}}, "design.samples", "required"),
    "sobol not a power of 2": ({"design": {"kind": "sobol", "samples": 10}}, "design.samples", "8 or 16"),
    "unknown field": ({"seeds": 3}, "seeds", "unknown field"),
    "path not in the base": (
        {"parameters": {"skin[dermis].thickness": {"values": ["1 mm"]}}},
        "parameters[skin[dermis].thickness]",
        "no entry named 'dermis'",
    ),
    "values and range": (
        {"parameters": {"donor.pH": {"values": [6], "range": [5, 6]}}},
        "parameters[donor.pH]",
        "either values",
    ),
    "mixed dimensions": (
        {"parameters": {"skin[membrane].thickness": {"range": ["15 um", "2 mA"], "levels": 2}}},
        "parameters[skin[membrane].thickness].range[1]",
        "same dimension",
    ),
    "value the scenario refuses": (
        {"parameters": {"donor.pH": {"values": [7, 15]}}},
        "parameters[donor.pH].values[1]",
        "donor.pH",
    ),
    "wrong unit for the field": (
        {"parameters": {"skin[membrane].thickness": {"values": ["1 mA"]}}},
        "parameters[skin[membrane].thickness].values[0]",
        "length",
    ),
    "grid range without levels": (
        {"parameters": {"donor.pH": {"range": [6, 7]}}},
        "parameters[donor.pH].levels",
        "number of levels",
    ),
    "low above high": (
        {"parameters": {"donor.pH": {"range": [7, 6], "levels": 2}}},
        "parameters[donor.pH].range",
        "below",
    ),
    "output without a unit": ({"outputs": ["drug_delivered"]}, "outputs[0]", "unit in its name"),
    "missing base": ({"base": "nowhere.yaml"}, "base", "cannot read"),
    "one value under two names": (
        {"parameters": {"skin[membrane].thickness": {"values": ["15 um"]}, "skin[0].thickness": {"values": ["25 um"]}}},
        # (the file's keys come sorted: skin[0] first)
        "parameters[skin[membrane].thickness]",
        "names the same value as skin[0].thickness",
    ),
    "an output twice": (
        {"outputs": ["drug_delivered_ug_per_cm2", "drug_delivered_ug_per_cm2"]},
        "outputs[1]",
        "given twice",
    ),
    "a range over a whole number": (
        {"parameters": {"skin[membrane].cells": {"range": [10, 40], "levels": 2}}},
        "parameters[skin[membrane].cells].range",
        "whole number",
    ),
    "levels outside a grid": (
        {"design": {"kind": "random", "samples": 4}},
        "parameters[skin[membrane].thickness].levels",
        "only a grid",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_sweep_file_one_message_exit_2(app, tmp_path, case):
    change, field, reason = BAD[case]
    path = write_sweep(tmp_path, GRID, {"kind": "grid"})
    data = yaml.safe_load(path.read_text()) | change
    path.write_text(yaml.safe_dump(data))
    result = invoke(app, path, "--out", tmp_path / "out")
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), result.output
    assert field in lines[0] and reason in lines[0], lines[0]
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "args, field",
    [
        (["--ranks-per-case", "2"], "--ranks-per-case"),  # one rank only: 2 does not divide it
        (["--cases-per-task", "0"], "--cases-per-task"),
        (["--array-index", "9"], "--array-index"),  # 4 cases, one per task: tasks 0 to 3
        (["--emit-slurm", "--array-index", "0"], "--emit-slurm"),
    ],
)
def test_bad_arguments_exit_2(app, tmp_path, args, field):
    path = write_sweep(tmp_path, GRID, {"kind": "grid"})
    result = invoke(app, path, "--out", tmp_path / "out", *args)
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"error: {field}"), result.output
    assert not (tmp_path / "out").exists()


def test_an_existing_folder_that_is_no_sweep_is_left_alone(app, tmp_path):
    path = write_sweep(tmp_path, GRID, {"kind": "grid"})
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    result = invoke(app, path, "--out", mine)
    assert result.exit_code == 2 and "not a sweep directory" in result.output
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]


def test_report_of_a_sweep_not_run_yet(app, tmp_path):
    path = write_sweep(tmp_path, GRID, {"kind": "grid"})
    result = invoke(app, path, "--out", tmp_path / "out", "--report")
    assert result.exit_code == 2 and "holds no sweep yet" in result.output
    assert not (tmp_path / "out").exists()


def test_a_parameter_written_twice_is_refused(app, tmp_path):
    path = write_sweep(tmp_path, GRID, {"kind": "grid"})
    text = path.read_text().replace(
        "parameters:\n", "parameters:\n  donor.pH: {values: [6]}\n  donor.pH: {values: [7]}\n"
    )
    path.write_text(text)
    result = invoke(app, path, "--out", tmp_path / "out")
    assert result.exit_code == 2 and "duplicate key 'donor.pH'" in result.output, result.output
