"""The report writer on results built by hand (no solving): table rows, markdown, JSON and pictures
(iontosim/validation/report.py)."""

from __future__ import annotations

import json

from iontosim.validation.case import Check
from iontosim.validation.comparison import judge
from iontosim.validation.report import markdown_table, rows, write_report
from iontosim.validation.suite import CaseResult, CheckResult, Series


def _check(simulated: float, explanation: str | None = None) -> CheckResult:
    check = Check.model_validate(
        {
            "id": "dose",
            "what": "drug delivered by 10 min",
            "quantity": "drug_delivered",
            "scenario": "s",
            "unit": "ug",
            "published": {"value": "40 ug", "source": "IONSYS_LABEL", "tag": "QUOTE"},
            "compare": "relative",
            "tolerance": {"relative": 0.25, "basis": "an estimate for the test"},
        }
    )
    verdict = judge(check, simulated)
    return CheckResult(
        "dose",
        check.what,
        check.quantity,
        "ug",
        "prediction",
        simulated,
        verdict,
        "pass" if verdict.passed else "fail",
        basis="an estimate for the test",
        miss_explanation=explanation,
        published_source="IONSYS_LABEL",
        published_tag="QUOTE",
        x_label="time [min]",
        y_label="drug_delivered [ug]",
        published_on_y=True,
        marker_x=10.0,
        series=[Series([0.0, 10.0, 20.0], [0.0, simulated, simulated * 1.1], "delivered")],
    )


def _case(check: CheckResult) -> CaseResult:
    return CaseResult(
        "demo_case",
        "A demonstration",
        "prediction",
        [],
        "Someone 2026",
        ["IONSYS_LABEL"],
        "10 min at 170 uA",
        None,
        [check],
        1,
        1.5,
        {"s": "s.yaml"},
    )


def test_rows_say_published_simulated_error_tolerance_and_result():
    (row,) = rows([_case(_check(117.0, "the gel has no competing ions"))])
    assert row == ("demo_case", "prediction", "dose", "40 ug", "117 ug", "+192 %", "±25 %", "FAIL")
    assert markdown_table([_case(_check(41.0))]).splitlines()[-1].endswith("| PASS |")


def test_write_report_makes_markdown_json_and_a_picture(tmp_path):
    failed = _case(_check(117.0, "the gel has no competing ions"))
    path = write_report([failed], tmp_path / "r", command="iontosim validate demo_case", machine="here", date="today")
    text = path.read_text()
    assert "Command: `iontosim validate demo_case`" in text and "Date: today" in text
    assert "*Not matched.* the gel has no competing ions" in text
    data = json.loads((tmp_path / "r" / "report.json").read_text())
    assert data["summary"] == {"pass": 0, "fail": 1, "n/a": 0, "error": 0}
    check = data["cases"][0]["checks"][0]
    assert check["simulated"] == 117.0 and check["published_value"] == 40.0
    assert check["miss_explanation"] == "the gel has no competing ions"
    assert (tmp_path / "r" / "demo_case.png").stat().st_size > 5_000


def test_non_finite_numbers_become_null_in_json(tmp_path):
    write_report([_case(_check(float("nan")))], tmp_path)
    check = json.loads((tmp_path / "report.json").read_text())["cases"][0]["checks"][0]
    assert check["simulated"] is None and check["status"] == "fail"
