"""Shared test helpers: small scenarios built in the config language."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import pytest
from mpi4py import MPI

from iontosim.physics.constants import thermal_voltage
from iontosim.scenario.load import scenario_from_dict

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "iontosim" / "scenarios"


def membrane_scenario(
    *,
    drug_mM=1.0,
    salt_mM=150.0,
    donor_mm=10.0,
    layers,
    protocol,
    species=None,
    profile_times=None,
    numerics=None,
    donor_mixing=1.0,
    donor_pH=7.4,
    drug="lidocaine",
    polarity="anode",
    as_dict=False,
    **extra,
):
    """A donor gel of NaCl plus a trace drug over `layers` (dicts in the config language); the
    config itself with `as_dict`.

    `donor_mixing` multiplies the gel's diffusivities: a large value makes it a well-mixed reservoir.
    """
    species = species or [drug, "Na+", "Cl-"]
    data = {
        "name": "test_membrane",
        "drug": drug,
        "species": species,
        "donor": {
            "area": "1 cm^2",
            "thickness": f"{donor_mm} mm",
            "pH": donor_pH,
            "contents": {drug: {"concentration": f"{drug_mM} mM"}, "Na+": {"concentration": f"{salt_mM} mM"}},
            "balance_with": "Cl-",
            "diffusivity_factor": donor_mixing,
            "polarity": polarity,
        },
        "interstitial_fluid": {"Na+": f"{salt_mM} mM", "balance_with": "Cl-"},
        "skin": copy.deepcopy(layers),
        "clearance": {"counter_ion": "Cl-"},
        "protocol": protocol,
        "numerics": numerics or {},
        "outputs": {"profile_times": profile_times or [], "penetration_threshold": "1 uM"},
        **extra,  # any other top-level field (temperature, species_definitions, ...)
    }
    return data if as_dict else scenario_from_dict(data)


def goldman_error(
    cells: int, flux: str = "lumped", donor_mm: float = 100.0, donor_mixing: float = 1e3, pH: float = 4.0
):
    """Steady flux enhancement of trace lidocaine (a weak base) through a 20 um uncharged
    membrane at 1.2 mA/cm2, relative to the exact constant-field (Goldman) value.

    Only the ionized fraction f migrates, so the total moves with Pe_eff = f Pe and the
    enhancement over passive diffusion of the total is Pe_eff / (1 - exp(-Pe_eff)), Pe from the
    potential drop the solver computed. At pH 4 lidocaine is fully ionized (f = 0.9999).

    Returns (relative error, Pe_eff). The default gel is large and well mixed, which keeps the
    quasi-steady offset from its slow depletion near 4e-4 at any resolution.
    """
    from iontosim.simulation import simulate

    layer = [{"name": "membrane", "thickness": "20 um", "pH": pH, "diffusivity_factor": 1e-3, "cells": cells}]
    sc = membrane_scenario(
        layers=layer,
        donor_mm=donor_mm,
        donor_mixing=donor_mixing,
        donor_pH=pH,
        protocol=[{"current_density": "1.2 mA/cm^2", "duration": "40 min"}],
        profile_times=["40 min"],
        numerics={"dt_max": "60 s", "donor_cells": 40, "flux": flux},
    )
    rec = simulate(sc, MPI.COMM_SELF)
    prof = rec.profiles[-1]
    top = np.flatnonzero(prof.depth == 0.0)[-1]  # membrane side of the surface
    c_top = prof.concentration["lidocaine"][top]
    drug = sc.species_objects()[0]
    pe = (prof.potential[top] - prof.potential[-1]) / thermal_voltage(sc.temperature)
    pe *= drug.ionized_fraction(pH)
    d = 1e-3 * drug.diffusivity(sc.temperature)
    enhancement = rec.series["surface_flux/lidocaine"][-1] / (d * c_top / 20e-6)
    return enhancement / (pe / (1.0 - math.exp(-pe))) - 1.0, pe


def default_short_data(current: str = "1.77 mA", on: str = "2 min", rest: str = "2 min") -> dict:
    """The default scenario (lidocaine with epinephrine) as a config dict, with a short protocol
    and the lumped flux (first order, the cheapest): small enough for 2D tests."""
    import yaml

    data = yaml.safe_load((CONFIGS / "lidocaine_epinephrine.yaml").read_text())
    data["protocol"] = [{"current": current, "duration": on}] + ([{"rest": rest}] if rest else [])
    data["outputs"]["profile_times"] = [on if not rest else "4 min"] if rest == "2 min" else [on]
    data["numerics"] = {"flux": "lumped"}
    return data


def with_return_electrode(data: dict, kind: str = "planar", resolution: float = 0.5, **geometry) -> dict:
    """`data` on a 2D/3D patch with a saline return pad beside the anode (estimates for a test),
    its area the one the geometry gives it (Scenario._check_return_area)."""
    from iontosim.mesh.geometry import Geometry
    from iontosim.scenario.units import to_si

    data = copy.deepcopy(data)
    kind = geometry.get("kind", kind)
    data["geometry"] = {
        "kind": kind,
        "width": "6 mm",
        "anode_width": "1 mm" if kind == "axisymmetric" else "2 mm",
        "return_gap": "1 mm",
        "return_width": "2 mm",
        "resolution": resolution,
    } | geometry
    lengths = ("width", "anode_width", "return_gap", "return_width")
    try:
        si = Geometry(
            **{k: to_si(v, "length") if k in lengths else v for k, v in data["geometry"].items() if k != "appendages"}
        )
        anode, inner, outer = si.edges
        ratio = (outer**2 - inner**2) / anode**2 if kind == "axisymmetric" else (outer - inner) / anode
    except ValueError:  # a geometry a test means to be refused: the loader will say why
        ratio = 1.0
    donor_area = data["donor"]["area"]
    donor_area = to_si(donor_area["value"] if isinstance(donor_area, dict) else donor_area, "area")
    data["return_electrode"] = {
        "kind": "finite_gel",
        "area": f"{ratio * donor_area} m^2",
        "thickness": "1 mm",
        "pH": 7.0,
        "contents": {"Na+": {"concentration": "154 mM"}},
        "balance_with": "Cl-",
    }
    return data


@pytest.fixture(scope="session")
def default_scenario_short():
    return scenario_from_dict(default_short_data())


def python_on_two_ranks(code: str, *args: str, timeout: float = 600) -> str:
    """Run Python `code` under `mpirun -n 2` from the repository root; its standard output.
    Skips the test when this Python has no mpirun beside it."""
    import shutil
    import subprocess
    import sys

    mpirun = Path(sys.executable).parent / "mpirun"
    if shutil.which(str(mpirun)) is None:
        pytest.skip("no mpirun beside this Python")
    proc = subprocess.run(
        [str(mpirun), "-n", "2", sys.executable, "-c", code, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout
