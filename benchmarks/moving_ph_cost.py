"""What the moving pH and the lipid route would change in the shipped scenarios, and what the moving pH costs.

    .venv/bin/python benchmarks/moving_ph_cost.py [--repeats 3] [--only NAME ...]

For each shipped 1D scenario whose drug is a weak electrolyte, three variants run in this process,
interleaved `--repeats` times (the machine is shared: the ratios of one run are what to quote):

- fixed:   the scenario as shipped (each layer's pH a parameter);
- moving:  `pH_model: moving`, with the interstitial bicarbonate as every viable layer's buffer
           (24 mM, pKa 6.1: BICARBONATE_HH; immobile, an estimate);
- lipids:  the moving pH and the stratum corneum's lipids (volume fraction 0.15: SC_CORNEOCYTES).

Prints, per variant, the dose delivered, the drug's transport number, the depth of 90 % of the
tissue dose, the penetration front, the plasma peak, the skin resistance, the peak voltage, the
flux the run used, and the median wall time with its ratio to the fixed variant.
"""

from __future__ import annotations

import argparse
import statistics
import time

import iontosim

KEYS = (
    ("drug_delivered_ug_per_cm2", "dose ug/cm2", "{:.1f}"),
    ("mean_drug_transport_number", "t_drug", "{:.3f}"),
    ("depth_90pct_tissue_dose_um", "d90 um", "{:.0f}"),
    ("penetration_depth_um", "front um", "{:.0f}"),
    ("peak_plasma_concentration_ng_per_mL", "Cmax ng/mL", "{:.3g}"),
    ("skin_resistance_kohm_cm2", "R kOhm cm2", "{:.1f}"),
    ("peak_voltage_V", "peak V", "{:.1f}"),
)
BICARBONATE = {"concentration": "24 mM", "pKa": 6.1, "acid_charge": 0}


def variants(name: str) -> dict[str, dict]:
    """Overrides that give the shipped scenario a moving pH, and then the lipid route."""
    shipped = iontosim.load(name)
    moving = {"pH_model": "moving"}
    moving |= {f"skin[{layer.name}].buffer": BICARBONATE for layer in shipped.skin[1:] if layer.buffer is None}
    lipids = moving | {f"skin[{shipped.skin[0].name}].lipids": {"volume_fraction": 0.15}}
    return {"fixed": {}, "moving": moving, "lipids": lipids}


def weak_drug(scenario) -> bool:
    return any(sp.name == scenario.drug and sp.pKa is not None for sp in scenario.species_objects())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", nargs="*", default=[])
    args = parser.parse_args()
    loaded = {n: iontosim.load(n) for n in iontosim.scenarios()}
    # 1D columns only: the moving pH is refused on a 2D/3D patch
    names = [n for n, s in loaded.items() if weak_drug(s) and s.geometry is None and s.pH_model == "fixed"]
    names = [n for n in names if not args.only or n in args.only]
    header = "".join(f"{label:>12}" for _, label, _ in KEYS)
    print(f"{'scenario':<24}{'variant':>9}{header}{'flux':>8}{'run s':>8}{'x fixed':>9}")
    for name in names:
        runs = variants(name)
        walls: dict[str, list[float]] = {v: [] for v in runs}
        summaries = {}
        for _ in range(args.repeats):
            for variant, overrides in runs.items():
                started = time.perf_counter()
                try:
                    summaries[variant] = iontosim.run(iontosim.load(name, **overrides)).summary
                except Exception as exc:  # a variant that fails is a finding, not an end
                    summaries[variant] = {"error": str(exc)[:80]}
                walls[variant].append(time.perf_counter() - started)
        base = statistics.median(walls["fixed"])
        for variant, summary in summaries.items():
            if "error" in summary:
                print(f"{name:<24}{variant:>9}  failed: {summary['error']}", flush=True)
                continue
            values = "".join(
                f"{(fmt.format(summary[key]) if summary.get(key) == summary.get(key) else '-'):>12}"
                for key, _, fmt in KEYS
            )
            wall = statistics.median(walls[variant])
            flux = summary.get("flux_discretization", "-")
            print(f"{name:<24}{variant:>9}{values}{flux:>8}{wall:8.2f}{wall / base:9.2f}", flush=True)


if __name__ == "__main__":
    main()
