"""Sweep tests: a tiny base scenario (a membrane under a NaCl gel, solved in a fraction of a second)
written as a scenario file, sweep files around it, and the sweep command on a Typer app of its own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

from iontosim.sweep.command import sweep


def tiny_scenario() -> dict:
    """The mapping of tests/conftest.py's membrane_scenario: a trace of lidocaine in a NaCl gel over
    one 20 um membrane, 1 min at 0.5 mA/cm^2; quantities written with units as in a config."""
    return {
        "name": "tiny_membrane",
        "drug": "lidocaine",
        "species": ["lidocaine", "Na+", "Cl-"],
        "donor": {
            "area": "1 cm^2",
            "thickness": "1 mm",
            "pH": 7.4,
            "contents": {"lidocaine": {"concentration": "1 mM"}, "Na+": {"concentration": "150 mM"}},
            "balance_with": "Cl-",
        },
        "interstitial_fluid": {"Na+": "150 mM", "balance_with": "Cl-"},
        "skin": [
            {
                "name": "membrane",
                "thickness": {"value": "20 um", "estimate": "a test membrane"},
                "pH": 7.4,
                "diffusivity_factor": 1e-3,
                "cells": 16,
            }
        ],
        "clearance": {"counter_ion": "Cl-"},
        "protocol": [{"current_density": "0.5 mA/cm^2", "duration": "1 min"}],
        "numerics": {"dt_max": "30 s", "donor_cells": 8},
        "outputs": {"profile_times": ["1 min"], "penetration_threshold": "1 uM"},
    }


#: summary.json quantities the tiny scenario has (no capillaries, so no plasma peak to speak of)
TINY_OUTPUTS = ["drug_delivered_ug_per_cm2", "penetration_depth_um", "peak_voltage_V"]


def write_sweep(
    folder: Path, parameters: dict, design: dict, outputs=None, name: str = "sweep.yaml", base: dict | None = None
) -> Path:
    (folder / "base.yaml").write_text(yaml.safe_dump(base or tiny_scenario()))
    data = {"base": "base.yaml", "parameters": parameters, "design": design, "outputs": outputs or TINY_OUTPUTS}
    path = folder / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


GRID = {
    "protocol[0].current_density": {"values": ["0.2 mA/cm^2", "0.5 mA/cm^2"]},
    "skin[membrane].thickness": {"range": ["15 um", "25 um"], "levels": 2},
}


def without_levels(parameters: dict) -> dict:
    """The parameters for a random design: only a grid takes a range's levels."""
    return {path: {k: v for k, v in spec.items() if k != "levels"} for path, spec in parameters.items()}


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer(add_completion=False)
    app.command()(sweep)

    @app.command()
    def version() -> None:  # a second command, so that `sweep` is a subcommand as in iontosim's CLI
        typer.echo("test")

    return app


def invoke(app, *args: str):
    return CliRunner().invoke(app, ["sweep", *map(str, args)])


def summary(case_dir: Path) -> dict:
    return json.loads((case_dir / "summary.json").read_text())
