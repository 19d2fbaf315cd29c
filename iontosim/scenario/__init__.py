"""Scenario layer: the YAML config language, units, validation and provenance."""

from .errors import ScenarioError
from .load import load_scenario, scenario_from_dict
from .schema import (
    Clearance,
    Donor,
    DonorContent,
    Electroosmosis,
    FixedCharge,
    Fluid,
    Layer,
    Numerics,
    Outputs,
    Pharmacokinetics,
    Scenario,
    Step,
)
from .units import parse_quantity, ureg

__all__ = [
    "Clearance",
    "Donor",
    "DonorContent",
    "Electroosmosis",
    "FixedCharge",
    "Fluid",
    "Layer",
    "Numerics",
    "Outputs",
    "Pharmacokinetics",
    "Scenario",
    "ScenarioError",
    "Step",
    "load_scenario",
    "parse_quantity",
    "scenario_from_dict",
    "ureg",
]
