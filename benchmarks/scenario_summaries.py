"""Every shipped scenario's summary before and after a change: the proof that a refactor moved no answer.

    python benchmarks/scenario_summaries.py run  DIR [--only NAME ...]   # run each shipped scenario, keep summary.json
    python benchmarks/scenario_summaries.py compare BEFORE AFTER [--rtol 1e-10]

`run` solves each scenario of the shipped catalogue with `iontosim run` (the installed command, or
`python -m iontosim` from $IONTOSIM_PYTHON) into DIR/<name>/ and records its wall time. `compare`
walks both summaries and prints every number whose relative difference exceeds rtol (wall times,
the solver's effort and the version stamp excepted: they are not answers); exit status 1 if any.
The balance errors are round-off estimates, not answers: they are judged by size only (either
below BALANCE_OK, or not grown tenfold).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

#: keys that are not answers of the model (timings, effort): compared only when asked
NOT_ANSWERS = ("wall_time_s", "solver", "mpi_ranks")
#: round-off estimates (mass and charge balance errors): fine below this, whatever their change
BALANCE_OK = 1e-6


def _diagnostic(key: str) -> bool:
    return key.endswith("balance_relative_error")


def _catalogue(configs: Path) -> list[Path]:
    return sorted(p for p in configs.glob("*.yaml"))


def run(out: Path, configs: Path, only: list[str], command: list[str]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    times = {}
    for config in _catalogue(configs):
        name = config.stem
        if only and name not in only:
            continue
        target = out / name
        started = time.perf_counter()
        proc = subprocess.run(
            [*command, "run", str(config), "--out", str(target), "--no-progress", "--overwrite"],
            capture_output=True,
            text=True,
        )
        times[name] = time.perf_counter() - started
        status = "ok" if proc.returncode == 0 else f"exit {proc.returncode}"
        print(f"{name:<32} {times[name]:8.1f} s  {status}", flush=True)
        if proc.returncode != 0:
            print(proc.stderr[-2000:], file=sys.stderr)
    (out / "wall_times.json").write_text(json.dumps(times, indent=2))


def _leaves(data, prefix=""):
    if isinstance(data, dict):
        for k, v in data.items():
            yield from _leaves(v, f"{prefix}/{k}" if prefix else k)
    elif isinstance(data, list):
        for i, v in enumerate(data):
            yield from _leaves(v, f"{prefix}[{i}]")
    else:
        yield prefix, data


def compare(before: Path, after: Path, rtol: float) -> int:
    worst_overall = 0.0
    failures = 0
    for old in sorted(before.glob("*/summary.json")):
        name = old.parent.name
        new = after / name / "summary.json"
        if not new.exists():
            print(f"{name}: missing in {after}")
            failures += 1
            continue
        a = dict(_leaves(json.loads(old.read_text())))
        b = dict(_leaves(json.loads(new.read_text())))
        worst = 0.0
        for key in sorted(set(a) | set(b)):
            if key.split("/")[0] in NOT_ANSWERS:
                continue
            x, y = a.get(key, "<absent>"), b.get(key, "<absent>")
            if _diagnostic(key) and isinstance(x, (int, float)) and isinstance(y, (int, float)):
                if y > max(BALANCE_OK, 10 * x):
                    print(f"{name}: {key}: {x!r} -> {y!r} (a balance error grew)")
                    failures += 1
                continue
            if isinstance(x, (int, float)) and isinstance(y, (int, float)) and not isinstance(x, bool):
                scale = max(abs(x), abs(y))
                diff = 0.0 if scale == 0 else abs(x - y) / scale
                if math.isnan(diff) or diff > rtol:
                    print(f"{name}: {key}: {x!r} -> {y!r} (relative {diff:.2e})")
                    failures += 1
                worst = max(worst, diff)
            elif x != y:
                print(f"{name}: {key}: {x!r} -> {y!r}")
                failures += 1
        worst_overall = max(worst_overall, worst)
        print(f"{name:<32} largest relative difference {worst:.2e}")
    print(f"all scenarios: largest relative difference {worst_overall:.2e}; {failures} difference(s) above {rtol:g}")
    return 1 if failures else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    r = sub.add_parser("run")
    r.add_argument("out", type=Path)
    r.add_argument("--configs", type=Path, default=Path(__file__).resolve().parent.parent / "iontosim" / "scenarios")
    r.add_argument("--only", nargs="*", default=[])
    c = sub.add_parser("compare")
    c.add_argument("before", type=Path)
    c.add_argument("after", type=Path)
    c.add_argument("--rtol", type=float, default=1e-10)
    args = parser.parse_args()
    if args.what == "run":
        python = os.environ.get("IONTOSIM_PYTHON", sys.executable)
        run(args.out, args.configs, args.only, [python, "-c", "from iontosim.cli import main; main()"])
    else:
        sys.exit(compare(args.before, args.after, args.rtol))


if __name__ == "__main__":
    main()
