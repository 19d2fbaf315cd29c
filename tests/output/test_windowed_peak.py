"""The local current density of the safety check: the largest mean over a lateral window
(output/surface_current.py windowed_peak), against a brute-force search written apart."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from iontosim.output.surface_current import PLATEAU_RTOL, first_maximum, largest_first, windowed_peak


def axis_windows(values, length, extent):
    """(lo, hi) of every window along one axis: starting, centred or ending at a cell centre and
    inside [0, extent], or centred on a mirror plane (0, extent) and cut there."""
    out = []
    for v in values:
        for lo in (v - length / 2, v, v - length):
            if lo >= -1e-12 and lo + length <= extent + 1e-12:
                out.append((lo, lo + length))
    half = min(length / 2, extent)
    return out + [(0.0, half), (extent - half, extent)]


def brute_force(lateral, current, volumes, length, extent):
    spans = [axis_windows(np.unique(lateral[:, k]), length, extent[k]) for k in range(lateral.shape[1])]
    best = 0.0
    for window in itertools.product(*spans):
        inside = np.ones(len(lateral), dtype=bool)
        for k, (lo, hi) in enumerate(window):
            inside &= (lateral[:, k] >= lo - 1e-12) & (lateral[:, k] <= hi + 1e-12)
        if volumes[inside].sum() > 0:
            mean = current[inside].sum() / volumes[inside].sum()
            best = mean if abs(mean) > abs(best) else best
    return best


def crowded(x: np.ndarray, edge: float) -> np.ndarray:
    """Current density under an anode of half width `edge`: 1 inside, an edge spike, 0 outside."""
    return np.where(x <= edge, 1.0 + 2.0 * np.exp(-np.abs(x - edge) / 0.02), 0.0)


def test_one_lateral_axis_finds_the_best_window_at_the_edge():
    rng = np.random.default_rng(1)
    x = np.sort(rng.uniform(0.0, 3.0, 300))  # graded, unordered spacing
    volumes = rng.uniform(0.5, 1.5, x.size)
    current = crowded(x, 1.0) * volumes
    mean, centre = windowed_peak(x[:, None], current, volumes, 0.3, extent=3.0)
    assert mean == pytest.approx(brute_force(x[:, None], current, volumes, 0.3, [3.0]), rel=1e-12)
    assert 0.7 < centre[0] < 1.0  # inside the anode, against its edge


def test_a_block_of_many_cells_is_not_under_reported():
    """The edge holds the densest cells, and windows centred on them are half off the anode: the
    best window lies inside (a review found 38 % too low when only the densest cells' windows were
    tried)."""
    xs = np.linspace(1 / 60, 2 - 1 / 60, 60)
    grid = np.stack(np.meshgrid(xs, xs, indexing="ij"), axis=-1).reshape(-1, 2)
    density = crowded(grid[:, 0], 1.0) * crowded(grid[:, 1], 1.0)
    volumes = np.full(len(grid), (2 / 60) ** 2)
    mean, _ = windowed_peak(grid, density * volumes, volumes, 0.2, extent=[2.0, 2.0])
    assert mean == pytest.approx(brute_force(grid, density * volumes, volumes, 0.2, [2.0, 2.0]), rel=1e-12)
    densest = grid[np.argsort(-density, kind="stable")[:64]]  # the old shortcut: windows centred there
    old = max(density[np.all(np.abs(grid - c) <= 0.1, axis=1)].mean() for c in densest)
    assert mean > 1.05 * old


def test_a_duct_in_a_unit_cell_narrower_than_the_window_reads_the_cell_mean():
    """A sweat duct at r = 0 in a 0.25 mm unit cell with a 1 mm window: no window fits inside, and a
    window hanging past the axis is not a small window around the duct; the mean is the cell's."""
    r = np.linspace(0.0025, 0.2475, 50)
    volumes = 2 * np.pi * r * 0.005  # the 2 pi r weight of an axisymmetric cell
    density = np.where(r < 0.008, 100.0, 0.002)
    mean, _ = windowed_peak(r[:, None], density * volumes, volumes, 1.0, extent=0.25)
    assert mean == pytest.approx((density * volumes).sum() / volumes.sum(), rel=1e-12)


def test_the_order_of_the_cells_does_not_matter():
    rng = np.random.default_rng(2)
    x = rng.uniform(0.0, 2.0, 200)
    volumes = rng.uniform(0.5, 1.5, x.size)
    current = crowded(x, 1.0) * volumes
    shuffled = rng.permutation(x.size)
    one = windowed_peak(x[:, None], current, volumes, 0.25, extent=2.0)
    two = windowed_peak(x[shuffled, None], current[shuffled], volumes[shuffled], 0.25, extent=2.0)
    assert one == two


def test_a_plateau_reports_when_it_was_first_reached():
    """A maximum held over steps (the tap-water plateau) is timed at its first step, whatever its
    round-off: 3e-12 of it once moved the reported time from 8.1e-3 to 2.5e-3 s."""
    plateau = [0.2, -0.9, -1.0, -1.0 * (1 + 3e-12), -1.0 * (1 - 3e-12), 0.5]
    assert largest_first(plateau) == 2
    assert largest_first(plateau[::-1]) == 1  # ties go to the earlier step either way
    rising = [1.0, 1.0 + 2 * PLATEAU_RTOL]  # beyond the tolerance a later step is the maximum
    assert largest_first(rising) == 1
    assert largest_first([0.5, float("nan"), -1.0]) == 2  # a NaN step is skipped
    readings = [(1.0, 0.2, [0.0]), (2.0, -1.0, [3e-4]), (3.0, -1.0 * (1 + 3e-12), [4e-4])]
    assert first_maximum(readings) == (2.0, -1.0, [3e-4])  # its time, value and place together
    assert first_maximum([]) == first_maximum([(1.0, 0.0, [0.0])]) == (0.0, 0.0, [])  # no current
