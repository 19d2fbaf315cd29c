"""The protocol language becomes the schedule the solver steps through."""

import pytest

from iontosim.scenario.schema import Step
from iontosim.solver.protocol import build_schedule


def steps(*items):
    return [Step.model_validate(item) for item in items]


def test_cathode_polarity_makes_the_current_negative():
    s = build_schedule(steps({"current_density": "0.4 mA/cm^2", "duration": "10 min"}), "cathode")
    assert [iv.current_density for iv in s.intervals] == [-4.0]
    assert s.charge() == pytest.approx(4.0 * 600)


def test_polarity_reversal_alternates_from_the_donor_polarity():
    s = build_schedule(steps({"current_density": "1 A/m^2", "duration": "20 min", "reverse_every": "5 min"}))
    assert [iv.current_density for iv in s.intervals] == [1.0, -1.0, 1.0, -1.0]
    assert [iv.end for iv in s.intervals] == [300.0, 600.0, 900.0, 1200.0]


def test_slow_pulses_are_resolved_and_fast_ones_averaged_with_a_note():
    slow = build_schedule(
        steps({"current_density": "2 A/m^2", "duration": "10 s", "pulse": {"frequency": "0.25 Hz", "duty_cycle": 0.5}})
    )
    got = [(iv.start, iv.end, iv.current_density) for iv in slow.intervals][:3]
    assert got == [pytest.approx(x) for x in [(0.0, 2.0, 2.0), (2.0, 4.0, 0.0), (4.0, 6.0, 2.0)]]
    assert slow.intervals[-1].end == pytest.approx(10.0) and slow.notes == []
    fast = build_schedule(
        steps({"current_density": "2 A/m^2", "duration": "10 s", "pulse": {"frequency": "1 kHz", "duty_cycle": 0.25}})
    )
    assert [iv.current_density for iv in fast.intervals] == [0.5]
    assert len(fast.notes) == 1 and "mean current" in fast.notes[0]
    assert fast.charge() == pytest.approx(2.0 * 0.25 * 10)
    assert slow.charge() == pytest.approx(2.0 * 6.0)  # on 0-2, 4-6 and 8-10 s


def test_neighbours_of_equal_current_merge_and_lookup_finds_each_interval():
    s = build_schedule(
        steps(
            {"current_density": "1 A/m^2", "duration": "60 s", "pulse": {"frequency": "1/min", "duty_cycle": 0.5}},
            {"rest": "60 s"},
            {"current_density": "1 A/m^2", "duration": "60 s"},
        )
    )
    got = [(iv.start, iv.end, iv.current_density) for iv in s.intervals]
    assert got == [pytest.approx(x) for x in [(0.0, 30.0, 1.0), (30.0, 120.0, 0.0), (120.0, 180.0, 1.0)]]
    assert s.current_at(29.0, 30.0) == 1.0 and s.current_at(30.0, 31.0) == 0.0
    assert s.current_at(170.0, 180.0) == 1.0 and s.current_at(180.0, 181.0) == 0.0


@pytest.mark.parametrize(
    "item, field",
    [
        ({"rest": "1 min", "pulse": {"frequency": "1 Hz", "duty_cycle": 0.5}}, "rest"),
        ({"current_density": "-1 A/m^2", "duration": "1 min"}, "current_density"),
        (
            {"current_density": "1 A/m^2", "duration": "1 min", "pulse": {"frequency": "1 Hz", "duty_cycle": 1.5}},
            "duty_cycle",
        ),
        ({"current_density": "1 A/m^2", "duration": "1 min", "reverse_every": "-1 min"}, "reverse_every"),
    ],
)
def test_bad_steps_name_the_field(item, field):
    with pytest.raises(Exception) as err:
        Step.model_validate(item)
    assert field in str(err.value)
