"""The ``validate`` command end to end on a typer app of its own (iontosim/validation/command.py):
one cheap case solved and reported, a deliberately wrong published value failing, bad input
refused with one line and exit status 2."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from iontosim.validation.command import validate

CHEAP = "sodium_transport_number"  # one 10-min 1D run, about 2 s


@pytest.fixture
def invoke():
    app = typer.Typer()
    app.command()(validate)
    runner = CliRunner()
    return lambda *args: runner.invoke(app, [str(a) for a in args])


def test_list_names_every_case_with_its_role(invoke):
    result = invoke("--list")
    assert result.exit_code == 0, result.output
    assert "ionsys_fentanyl_dose" in result.output and "prediction" in result.output
    assert "sodium_transport_number" in result.output and "calibration" in result.output


def test_one_case_end_to_end(invoke, tmp_path):
    out = tmp_path / "report"
    result = invoke(CHEAP, "--out", out)
    assert result.exit_code == 0, result.output
    assert "t_na_in_published_range" in result.output and "PASS" in result.output
    report = json.loads((out / "report.json").read_text())
    (case,) = report["cases"]
    (check,) = case["checks"]
    assert case["name"] == CHEAP and case["role"] == "calibration" and check["status"] == "pass"
    assert 0.46 <= check["simulated"] <= 0.60
    assert (out / f"{CHEAP}.png").stat().st_size > 10_000
    markdown = (out / "report.md").read_text()
    assert "| case | role | check |" in markdown and f"![{CHEAP}]({CHEAP}.png)" in markdown


def test_a_wrong_published_value_fails(invoke, cases_copy, tmp_path):
    """A check that cannot fail is a defect: the same simulation against a range it misses."""

    def wrong(data):
        data["checks"][0]["published"].update(low=0.9, high=1.0)

    root = cases_copy(CHEAP, wrong)
    result = invoke(CHEAP, "--cases-dir", root, "--out", tmp_path / "report")
    assert result.exit_code == 0, result.output  # a miss is a finding, reported, not a crash
    assert "FAIL" in result.output and "misses" in result.output
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert report["summary"] == {"pass": 0, "fail": 1, "n/a": 0, "error": 0}


@pytest.mark.parametrize(
    "args, words",
    [
        (["no_such_case"], "unknown case 'no_such_case'"),
        (["ionsys_fentanyl_dos"], "did you mean ionsys_fentanyl_dose"),
    ],
)
def test_unknown_case_is_one_line_and_exit_2(invoke, args, words):
    result = invoke(*args)
    assert result.exit_code == 2
    assert words in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_broken_case_file_names_file_field_and_reason(invoke, cases_copy, tmp_path):
    def broken(data):
        data["checks"][0]["compare"] = "roughly"

    root = cases_copy(CHEAP, broken)
    result = invoke(CHEAP, "--cases-dir", root, "--out", tmp_path / "r")
    assert result.exit_code == 2
    line = result.output.strip()
    assert f"{CHEAP}/case.yaml: checks[0].compare:" in line and "Traceback" not in line
    assert not (tmp_path / "r").exists()  # refused before anything ran


def test_broken_scenario_names_the_scenario_field(invoke, cases_copy, tmp_path):
    root = cases_copy(CHEAP)
    scenario = root / CHEAP / "saline_skin.yaml"
    scenario.write_text(scenario.read_text().replace("value: 0.36 mA/cm^2", "value: 0.36 mA"))
    result = invoke(CHEAP, "--cases-dir", root)
    assert result.exit_code == 2
    assert "scenarios.saline.file: saline_skin.yaml: protocol[0].current_density" in result.output


def test_out_that_is_a_file_is_refused(invoke, tmp_path):
    (tmp_path / "taken").write_text("")
    result = invoke(CHEAP, "--out", tmp_path / "taken")
    assert result.exit_code == 2 and "--out" in result.output


def test_an_existing_folder_is_never_replaced_unasked(invoke, tmp_path):
    """Refused before any solve; --overwrite replaces only a finished report, never a user's folder."""
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("my notes")
    for args in ([], ["--overwrite"]):
        result = invoke(CHEAP, "--out", mine, *args)
        assert result.exit_code == 2, result.output
        assert "already exists" in result.output and "running" not in result.output
    assert (mine / "notes.txt").read_text() == "my notes" and len(list(mine.iterdir())) == 1
