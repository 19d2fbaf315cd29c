"""Why the lipid route raises the stratum corneum's resistance under a moving pH.

    .venv/bin/python benchmarks/lipid_route_diagnosis.py [SCENARIO]   (default lidocaine_only)

Runs 2 min of the scenario's first current (its label current) with the `moving` and `lipids`
variants of moving_ph_cost.py, and prints the peak voltage and the pore-fluid concentrations
(mol/m3 = mM) through the stratum corneum (every 16th point of its profile, surface first) and the
first viable-epidermis value, at 1 s, 10 s and 2 min.
"""

from __future__ import annotations

import sys
from pathlib import Path

import iontosim

sys.path.insert(0, str(Path(__file__).parent))
from moving_ph_cost import variants  # noqa: E402


def main(name: str) -> None:
    shipped = iontosim.load(name)
    stratum_corneum = shipped.skin[0].thickness  # m
    for variant in ("moving", "lipids"):
        overrides = variants(name)[variant] | {
            "protocol": [{"current": f"{shipped.protocol[0].current} A", "duration": "2 min"}],
            "outputs.profile_times": ["1 s", "10 s", "2 min"],
        }
        result = iontosim.run(iontosim.load(name, **overrides))
        peak = abs(result.series("voltage", "V").magnitude).max()
        print(f"{variant}: peak voltage {peak:.1f} V")
        for profile in result.profiles:
            print(f"  t = {profile.time:~P}   stratum corneum, surface -> base | viable epidermis")
            for species in result.species:
                depth, c = profile.of(species)
                inside = depth.to("m").magnitude <= stratum_corneum * (1 + 1e-9)
                values = c.magnitude
                row = " ".join(f"{v:9.3g}" for v in values[inside][::16])
                print(f"    {species:10s} {row} | {values[~inside][0]:9.3g}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "lidocaine_only")
