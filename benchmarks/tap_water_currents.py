"""Tap-water iontophoresis of a palm at 10, 15 and 20 mA (iontosim/scenarios/tap_water_hyperhidrosis.yaml).

    .venv/bin/python benchmarks/tap_water_currents.py

For each device current: the mean current density over the palm, the share of the current and of
the anode's acid (H+) that cross the stratum corneum through the sweat duct, the H+ that entered
the skin per palm, the lowest pH at the duct's mouth, the local current density there, and the
voltage across the water and the skin (not the device voltage: the other hand and the body are
not modelled). Rank 0 prints.
"""

from __future__ import annotations

import numpy as np
from mpi4py import MPI

from iontosim.mesh.of_scenario import scenario_mesh
from iontosim.scenario.catalogue import SCENARIOS_DIR
from iontosim.scenario.load import load_scenario
from iontosim.simulation import simulate

CONFIG = SCENARIOS_DIR / "tap_water_hyperhidrosis.yaml"


def at_current(scenario, milliamps: float):
    step = scenario.protocol[0].model_copy(
        update={"current_density": milliamps * 1e-3 / scenario.donor.area, "current": None}
    )
    return scenario.model_copy(update={"protocol": [step]})


def main() -> None:
    comm = MPI.COMM_WORLD
    base = load_scenario(CONFIG)
    mesh = scenario_mesh(base, comm)
    rows = []
    for milliamps in (10.0, 15.0, 20.0):
        record = simulate(at_current(base, milliamps), comm, skin_mesh=mesh)
        s, patch = record.series, record.patch
        h_in = s["delivered/H+"][-1] * base.donor.area * 1e6  # umol per palm
        rows.append(
            (
                milliamps,
                milliamps / (base.donor.area * 1e4),
                patch["appendage_current_fraction"],
                patch["appendage_drug_fraction"],
                h_in,
                h_in * patch["appendage_drug_fraction"],
                float(np.min(s["skin_surface_pH"])),
                abs(patch["peak_local_current_density"]) / 10.0,
                float(np.max(s["voltage"])),
            )
        )
    if comm.rank == 0:
        print(
            f"{'mA':>5} {'mA/cm2':>7} {'duct I':>7} {'duct H+':>8} {'H+ in':>9} {'via duct':>9} "
            f"{'pH min':>7} {'duct mA/cm2':>12} {'V skin+water':>13}"
        )
        print(f"{'':>5} {'':>7} {'share':>7} {'share':>8} {'umol':>9} {'umol':>9}")
        for r in rows:
            print(
                f"{r[0]:5.0f} {r[1]:7.3f} {r[2]:7.3f} {r[3]:8.3f} {r[4]:9.3g} {r[5]:9.3g} {r[6]:7.2f} "
                f"{r[7]:12.3g} {r[8]:13.3g}"
            )


if __name__ == "__main__":
    main()
