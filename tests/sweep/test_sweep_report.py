"""The sweep report's labels and lines (iontosim/sweep/report.py)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from iontosim.sweep.report import _lines, parameter_label, quantity_label


def test_labels_typeset_units_and_leave_dimensionless_ones_bare():
    assert quantity_label("drug_delivered_ug_per_cm2", "ug/cm^2") == "drug delivered [µg/cm²]"
    assert quantity_label("mean_drug_transport_number", "1") == "mean drug transport number"
    pI = "skin[stratum_corneum].fixed_charge.isoelectric_point"
    assert parameter_label(pI, "") == "stratum corneum: isoelectric point"
    assert parameter_label("protocol[0].current", "mA") == "protocol step 1: current [mA]"


def test_grid_points_that_share_the_other_values_form_one_line_each():
    pI, current = "skin[stratum_corneum].fixed_charge.isoelectric_point", "protocol[0].current"
    sweep = SimpleNamespace(parameters=(SimpleNamespace(path=pI, unit=""), SimpleNamespace(path=current, unit="mA")))
    # a 3 x 2 grid in the design's order (pI slowest), case 4 failed
    table = SimpleNamespace(
        parameters={pI: np.array([4.0, 4.0, 4.5, 4.5, 5.0, 5.0]), current: np.array([3.0, 1.0, 3.0, 1.0, 3.0, 1.0])}
    )
    rows = np.array([0, 1, 2, 3, 5])
    along_pI = dict(_lines(table, sweep, pI, rows))
    assert set(along_pI) == {"current 3 mA", "current 1 mA"}
    assert list(along_pI["current 3 mA"]) == [0, 2]  # sorted along pI; case 4 is not drawn
    assert list(along_pI["current 1 mA"]) == [1, 3, 5]
    along_current = dict(_lines(table, sweep, current, rows))
    assert list(along_current["isoelectric point 4"]) == [1, 0]  # sorted along the current
    assert "isoelectric point 5" not in along_current  # one case left: a point, not a line
