"""Skin-surface pH under inert and Ag/AgCl electrodes at the same current (metal_electrode_saline.yaml).

    .venv/bin/python benchmarks/electrode_ph.py

Prints, for each electrode kind, the pH range at the skin surface under the anode and under the
cathode, when it first leaves the safe range, and the peak device voltage.
"""

from __future__ import annotations

import numpy as np
import yaml
from mpi4py import MPI

from iontosim.output.safety import safety_report
from iontosim.scenario.catalogue import SCENARIOS_DIR
from iontosim.scenario.load import scenario_from_dict
from iontosim.simulation import simulate

CONFIG = SCENARIOS_DIR / "metal_electrode_saline.yaml"


def first_outside(record, low: float, high: float) -> str:
    ph = np.asarray(record.series["skin_surface_pH"])
    out = np.flatnonzero((ph < low) | (ph > high))
    return f"{record.times[out[0]] / 60:.2f} min" if out.size else "never"


def main():
    data = yaml.safe_load(CONFIG.read_text())
    print(f"{'electrode':>9} {'column':>8} {'pH min':>7} {'pH max':>7} {'leaves 4-10.5':>14} {'device V peak':>14}")
    for kind in ("inert", "Ag/AgCl"):
        data["donor"]["electrode"] = data["return_electrode"]["electrode"] = kind
        record = simulate(scenario_from_dict(data), MPI.COMM_WORLD)
        volts = safety_report(record)["peak_voltage_V"]
        for label, rec in (("anode", record), ("cathode", record.return_record)):
            ph = np.asarray(rec.series["skin_surface_pH"])
            low, high = rec.skin_pH_range
            print(
                f"{kind:>9} {label:>8} {ph.min():7.2f} {ph.max():7.2f} {first_outside(rec, low, high):>14} "
                f"{volts:14.2f}"
            )


if __name__ == "__main__":
    main()
