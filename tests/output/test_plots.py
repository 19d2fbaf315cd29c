"""Figures are written as non-empty PNG files."""

from __future__ import annotations

from iontosim.output import plot_all

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_plot_all_writes_pngs(record, tmp_path):
    paths = plot_all(record, tmp_path / "figs")
    assert [p.name for p in paths] == ["profiles.png", "delivery.png", "voltage.png"]
    for p in paths:
        data = p.read_bytes()
        assert data.startswith(PNG_MAGIC)
        assert len(data) > 10_000
