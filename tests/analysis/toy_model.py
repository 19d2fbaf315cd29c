"""A toy 'simulation' with exactly known elasticities, for the sensitivity tests.

It reads its parameters from the scenario mapping of iontosim/scenarios/lidocaine_epinephrine.yaml, as a
worker gets it, and returns a summary with the keys of metrics.summarize. Module level, so that
'spawn' workers can import it; only the standard library, so that they start quickly.
"""

from __future__ import annotations

import math
import multiprocessing
import os

#: d ln(plasma) / d pI of the toy
PLASMA_PER_PH = -0.7


def _number(node) -> float:
    """The number of a value as the file writes it ({value: "18 um", source: ...}, "18 um", 4.8)."""
    value = node["value"] if isinstance(node, dict) else node
    return float(str(value).split()[0])


def toy_summary(data: dict) -> dict:
    """dose = 100 I D^0.5 / L (Faraday-like: elasticity 1 to the current I), depth = 1000 sqrt(D / k),
    plasma = 2 exp(-0.7 (pI - 4.8)), 90 % depth = 1 + (L / 18 um)^8 (curved: e = 4 at the base,
    one-sided estimates 0.8 apart); D, L, pI of the stratum corneum, k of the papillary dermis.
    Above 320 K the toy solver gives up; a gel thicker than 2.05 mm kills a worker process
    outright (as a crash in compiled code would)."""
    skin = {layer["name"]: layer for layer in data["skin"]}
    sc = skin["stratum_corneum"]
    if _number(data["temperature"]) > 320.0:
        raise RuntimeError("toy solver: time step fell below its minimum")
    if _number(data["donor"]["thickness"]) > 2.05 and multiprocessing.parent_process() is not None:
        os._exit(3)  # only in a worker: inline, it would end the test itself
    current = _number(data["protocol"][0]["current"])
    diffusivity, thickness = _number(sc["diffusivity_factor"]), _number(sc["thickness"])
    isoelectric = _number(sc["fixed_charge"]["isoelectric_point"])
    return {
        "drug_delivered_ug": 100.0 * current * math.sqrt(diffusivity) / thickness,
        "penetration_depth_um": 1000.0 * math.sqrt(diffusivity / _number(skin["papillary_dermis"]["clearance_rate"])),
        "peak_plasma_concentration_ng_per_mL": 2.0 * math.exp(PLASMA_PER_PH * (isoelectric - 4.8)),
        "depth_90pct_tissue_dose_um": 1.0 + (thickness / 18.0) ** 8,
        "warnings": [],
    }
