"""Depth as the literature measures it (output/metrics.py): a concentration at a sampling depth,
the depth an effective concentration reaches, on profiles whose answers are known exactly."""

from __future__ import annotations

import math

import numpy as np
import pytest

from iontosim.output.metrics import concentration_at, depth_measures
from iontosim.output.record import Profile
from iontosim.scenario.errors import ScenarioError
from tests.conftest import membrane_scenario

# a gel above the skin (negative depths), then two layers with a jump at 100 um
DEPTH = np.array([-50e-6, 0.0, 0.0, 100e-6, 100e-6, 1100e-6])
CONC = np.array([9.0, 9.0, 4.0, 2.0, 1.0, 0.0])  # mol/m^3 of pore fluid


def test_concentration_at_a_depth_is_the_piecewise_linear_profile():
    assert concentration_at(DEPTH, CONC, 50e-6) == pytest.approx(3.0, rel=1e-14)
    assert concentration_at(DEPTH, CONC, 600e-6) == pytest.approx(0.5, rel=1e-14)
    assert concentration_at(DEPTH, CONC, 0.0) == pytest.approx(4.0)  # the skin's side of the surface
    assert concentration_at(DEPTH, CONC, 100e-6) == pytest.approx(1.0)  # below the interface
    assert concentration_at(DEPTH, CONC, 1100e-6) == pytest.approx(0.0)
    assert math.isnan(concentration_at(DEPTH, CONC, 2e-3))  # below the modelled skin


class _Record:
    """What depth_measures reads of a run record."""

    def __init__(self, scale: list[float]):
        self.drug, self.species, self.molar_mass = "lidocaine", ["lidocaine"], {"lidocaine": 0.2343}
        self.profiles = [
            Profile(60.0 * (k + 1), DEPTH, {"lidocaine": s * CONC}, {}, DEPTH * 0) for k, s in enumerate(scale)
        ]


def test_sampling_depths_report_peak_and_last_values_in_ug_per_ml():
    out = depth_measures(_Record([1.0, 2.0, 0.5]), [50e-6, 600e-6], None)
    table = out["concentration_at_depth_ug_per_mL"]
    # mol/m^3 x g/mol = ug/mL: 3 mM of lidocaine is 3 x 234.3 ug/mL
    assert table["50_um"]["peak"] == pytest.approx(2 * 3.0 * 234.3, rel=1e-12)
    assert table["50_um"]["end"] == pytest.approx(0.5 * 3.0 * 234.3, rel=1e-12)
    assert table["600_um"]["peak"] == pytest.approx(2 * 0.5 * 234.3, rel=1e-12)
    assert "effective_depth_um" not in out


def test_effective_depth_is_where_the_concentration_crosses_the_effective_one():
    # 0.25 mM: crossed at 850 um in the first profile (1 - x/1000um from 100 um: 1 - 0.75), at
    # 975 um with twice the concentration, above the interface at 0.25 x the first
    out = depth_measures(_Record([1.0, 2.0, 0.25]), [], 0.25)
    assert out["effective_depth_um"] == pytest.approx(100 + 1000 * (1 - 0.125), rel=1e-12)
    assert out["effective_depth_end_um"] == pytest.approx(100.0, rel=1e-12)
    assert out["effective_concentration_ug_per_mL"] == pytest.approx(0.25 * 234.3, rel=1e-12)


LAYER = [{"name": "membrane", "thickness": "20 um", "pH": 7.4}]
PROTOCOL = [{"current_density": "0.1 mA/cm^2", "duration": "1 min"}]


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"sampling_depths": ["-1 mm"]}, "outputs.sampling_depths[0]"),
        ({"effective_concentration": "0 ug/mL"}, "outputs.effective_concentration"),
    ],
)
def test_bad_depth_outputs_name_the_field(extra, field):
    outputs = {"profile_times": [], "penetration_threshold": "1 uM", **extra}
    with pytest.raises(ScenarioError) as err:
        membrane_scenario(layers=LAYER, protocol=PROTOCOL, outputs=outputs)
    assert err.value.field == field


def test_a_mass_concentration_is_converted_with_the_drug_molar_mass():
    outputs = {"profile_times": [], "penetration_threshold": "1 uM", "effective_concentration": "234.3 ug/mL"}
    scenario = membrane_scenario(layers=LAYER, protocol=PROTOCOL, outputs=outputs)
    assert scenario.outputs.effective_concentration == pytest.approx(1.0, rel=1e-3)  # mol/m^3


def test_a_sampling_depth_below_the_modelled_skin_is_nan_without_warnings(recwarn):
    out = depth_measures(_Record([1.0, 2.0]), [5e-3], None)
    assert math.isnan(out["concentration_at_depth_ug_per_mL"]["5000_um"]["peak"])
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]
