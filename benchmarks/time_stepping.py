"""Time schemes and step controls on a shipped scenario: steps, Newton iterations, wall time and
the answers, each variant against the first (the reference), in one run.

    python benchmarks/time_stepping.py lidocaine_epinephrine \\
        "dt_max=1 s,time_scheme=bdf2" - "time_scheme=bdf2,step_control=error"

A variant is a comma-separated list of numerics fields (`field=value`, values as in a scenario
file), `-` the scenario as shipped. Prints one line per variant: steps (rejected), Newton
iterations, wall time of the solve, and the delivered dose, the penetration depth, the plasma
peak, the effective and 90 %-of-dose depths with their relative difference from the reference.
"""

from __future__ import annotations

import argparse
import time

import iontosim

ANSWERS = {
    "dose": "drug_delivered_ug_per_cm2",
    "front": "penetration_depth_um",
    "plasma": "peak_plasma_concentration_ng_per_mL",
    "effective": "effective_depth_um",
    "90%": "depth_90pct_tissue_dose_um",
}


def _variant(text: str) -> dict[str, object]:
    if text == "-":
        return {}
    fields = (item.split("=", 1) for item in text.split(","))
    return {f"numerics.{key.strip()}": value.strip() for key, value in fields}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario")
    parser.add_argument("variants", nargs="+", help="the first is the reference")
    args = parser.parse_args()
    reference: dict | None = None
    for text in args.variants:
        scenario = iontosim.load(args.scenario, **_variant(text))
        started = time.perf_counter()
        summary = iontosim.run(scenario, plots=False).summary
        wall = time.perf_counter() - started
        effort = summary["solver"]
        answers = {k: summary.get(key) for k, key in ANSWERS.items()}
        reference = reference or answers
        parts = [
            f"{name} {value:.6g} ({value / reference[name] - 1:+.2e})"
            for name, value in answers.items()
            if isinstance(value, float) and isinstance(reference[name], float) and value == value and reference[name]
        ]
        print(
            f"{text:<55} steps {effort['time_steps']:5d} ({effort['rejected_steps']} rejected), "
            f"Newton {effort['newton_iterations']:5d}, {wall:7.1f} s | " + ", ".join(parts),
            flush=True,
        )


if __name__ == "__main__":
    main()
