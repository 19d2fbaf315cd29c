"""A moving pH (scenario.pH_model: moving): H+ and OH- are transported, the skin's fixed charge
titrates with the local pH, weak electrolytes ionize at it, and every proton is accounted for."""

from __future__ import annotations

import math

import numpy as np
import pytest
from mpi4py import MPI
from scipy.optimize import brentq

from iontosim.physics.fixed_charge import max_charge, titration
from iontosim.physics.water import KW_37C
from iontosim.simulation import simulate
from tests.conftest import membrane_scenario

pytestmark = pytest.mark.slow

PI, X_REF, SALT = 4.8, -100.0, 150.0  # isoelectric point, charge at pH 7.4 [mM], NaCl [mM]


def titrated_donnan(bath_pH: float) -> tuple[float, float, float]:
    """(pH, Na+, Cl-) inside a membrane whose fixed charge titrates about PI, in equilibrium with a
    bath of NaCl at `bath_pH`: ideal Donnan, c_i = c_i,bath exp(-z_i psi) for every ion (H+ and OH-
    too), and X(pH inside) + sum z_i c_i = 0, one equation for psi."""
    h = 1e3 * 10.0**-bath_pH
    oh = KW_37C / h
    x_max = max_charge(PI, X_REF, 7.4)
    cl = SALT + h - oh  # the bath is neutral: Na+ given, Cl- balances (OH- kept apart below)

    def net(psi):
        inside_h = h * math.exp(-psi)
        mobile = SALT * math.exp(-psi) + inside_h - (cl + oh) * math.exp(psi)
        return mobile + float(titration(np.array([inside_h]), PI, x_max)[0])

    psi = brentq(net, -20.0, 20.0, xtol=1e-14)
    return bath_pH + psi / math.log(10.0), SALT * math.exp(-psi), cl * math.exp(psi)


def charged_membrane(**extra) -> list[dict]:
    """A 20 um membrane whose fixed charge titrates about PI (X_REF at pH 7.4), in 20 cells."""
    fixed_charge = {"isoelectric_point": PI, "charge_at_reference_pH": f"{X_REF} mM", "reference_pH": 7.4}
    return [{"name": "membrane", "thickness": "20 um", "pH": 7.4, "cells": 20, **extra, "fixed_charge": fixed_charge}]


def bath_at(pH: float) -> dict:
    h = 1e3 * 10.0**-pH
    return {"Na+": f"{SALT} mM", "H+": f"{h!r} mM", "OH-": f"{KW_37C / h!r} mM", "balance_with": "Cl-"}


@pytest.mark.parametrize("bath_pH", [3.5, 4.8, 6.0])
def test_a_titrated_donnan_membrane(bath_pH):
    """A 20 um membrane that starts at pH 7.4 (X = -100 mM) between two baths at `bath_pH` titrates
    to the Donnan equilibrium of its titration curve. Its groups hold so many protons against the
    bath's few that it takes about 20 min to do so at pH 6 (a retardation of 3e4 on H+'s 0.04 s
    across the membrane); after 6 h only the solver's tolerance is left. Tolerance 1e-6 on the pH
    and 1e-6 relative on Na+ and Cl-, set before the run; the protons are all accounted for (the
    mass balance of H+, its fixed-charge part included, to 1e-7)."""
    data = membrane_scenario(
        layers=charged_membrane(),
        drug="Na+",
        species=["Na+", "Cl-"],
        salt_mM=SALT,
        donor_pH=bath_pH,
        donor_mixing=1e3,
        protocol=[{"rest": "6 h"}],
        profile_times=["6 h"],
        numerics={"dt_max": "5 min"},
        pH_model="moving",
        as_dict=True,
    )
    data["donor"]["contents"] = {"Na+": {"concentration": f"{SALT} mM"}}
    data["interstitial_fluid"] = bath_at(bath_pH)
    from iontosim.scenario.load import scenario_from_dict

    record = simulate(scenario_from_dict(data), MPI.COMM_SELF)
    profile = record.profiles[-1]
    middle = int(np.argmin(np.abs(profile.depth - 10e-6)))
    pH_in = -math.log10(profile.concentration["H+"][middle] * 1e-3)
    expected = titrated_donnan(bath_pH)
    assert pH_in == pytest.approx(expected[0], abs=1e-6)
    assert profile.concentration["Na+"][middle] == pytest.approx(expected[1], rel=1e-6)
    assert profile.concentration["Cl-"][middle] == pytest.approx(expected[2], rel=1e-6)
    assert max(record.series["mass_balance_error/H+"]) < 1e-7


def _eo_after_equilibration(donor_pH: float, bath_pH: float) -> float:
    """Electroosmotic velocity [m/s] through a charged 20 um membrane in a Franz cell at
    0.1 mA/cm^2, after 2 h of equilibration: the donor a reservoir held at `donor_pH` (its H+ and
    OH- included), the receptor's pH held at `bath_pH`."""
    from iontosim.scenario.load import scenario_from_dict

    data = membrane_scenario(
        layers=charged_membrane(diffusivity_factor=0.1),
        drug="Na+",
        species=["Na+", "Cl-"],
        salt_mM=SALT,
        donor_pH=donor_pH,
        protocol=[{"rest": "2 h"}, {"current_density": "0.1 mA/cm^2", "duration": "1 min"}],
        numerics={"dt_max": "5 min"},
        pH_model="moving",
        electroosmosis={"volume_per_charge": "2.1e-9 m^3/C"},
        as_dict=True,
    )
    data["donor"] |= {"kind": "fixed_reservoir", "contents": {"Na+": {"concentration": f"{SALT} mM"}}}
    data["donor"].pop("diffusivity_factor")
    data["setup"] = {
        "kind": "franz_cell",
        "membrane": {"kind": "as_given"},
        "receptor": {"volume": "5 mL", "contents": bath_at(bath_pH)},
    }
    record = simulate(scenario_from_dict(data), MPI.COMM_SELF)
    return float(record.series["electroosmotic_velocity"][-1])


def test_electroosmosis_reverses_at_the_isoelectric_point_of_the_bath():
    """Membrane, donor and receptor all at one pH: the membrane's charge, hence its flow, is zero at
    the isoelectric point and changes sign across it (out of the membrane toward the anode below
    it, into the membrane from the anode above it), set by the pH of the solutions alone."""
    below, at, above = (_eo_after_equilibration(p, p) for p in (PI - 0.5, PI, PI + 0.5))
    assert below < 0 < above
    # zero but for what is left of the membrane's titration after 2 h (7e-5 when first run)
    assert abs(at) < 1e-3 * above


def test_the_donor_pH_alone_turns_the_flow():
    """A receptor at the body's pH 7.4: a donor held well below the isoelectric point titrates the
    membrane's upper part positive, and the anodal flow falls, then reverses; a donor near
    neutral leaves it flowing into the skin."""
    flows = {p: _eo_after_equilibration(p, 7.4) for p in (3.0, 4.0, 6.0)}
    assert flows[6.0] > flows[4.0] > flows[3.0]
    assert flows[6.0] > 0 > flows[3.0]


def test_a_weak_base_crossing_regions_of_different_pH_keeps_every_proton():
    """Lidocaine driven from a gel at pH 4.5 through a membrane buffered at 5.5 into a dermis at
    7.4 loses protons as it deprotonates on the way: with a moving pH they go to H+, the buffers
    and the fixed charge, and the balances close to Newton's tolerance (mass 1e-7 of what moved,
    charge 1e-6 of the current); the shares of the current the species carry add up to one."""
    from iontosim.output.metrics import transport_numbers
    from iontosim.scenario.load import scenario_from_dict

    def buffer(pKa):
        return {"concentration": "300 mM", "pKa": pKa, "acid_charge": 1}

    layers = [
        {
            "name": "membrane",
            "thickness": "20 um",
            "pH": 5.5,
            "cells": 40,
            "diffusivity_factor": 1e-2,
            "buffer": buffer(5.5),
            "fixed_charge": {"isoelectric_point": PI, "charge_at_reference_pH": f"{X_REF} mM", "reference_pH": 7.4},
        },
        {"name": "dermis", "thickness": "300 um", "pH": 7.4, "cells": 30, "buffer": buffer(7.4)},
    ]
    data = membrane_scenario(
        layers=layers,
        drug_mM=10,
        donor_pH=4.5,
        protocol=[{"current_density": "0.3 mA/cm^2", "duration": "10 min"}, {"rest": "10 min"}],
        pH_model="moving",
        numerics={"dt_max": "10 s"},
        as_dict=True,
    )
    data["donor"]["buffer"] = buffer(4.5)
    record = simulate(scenario_from_dict(data), MPI.COMM_SELF)
    assert record.species == ["lidocaine", "Na+", "Cl-", "H+", "OH-"]  # added by the moving pH
    for name in record.species:
        assert max(record.series[f"mass_balance_error/{name}"]) < 1e-7, name
    assert max(record.series["charge_balance_error"]) < 1e-6
    numbers = transport_numbers(record)
    assert sum(numbers.values()) == pytest.approx(1.0, abs=1e-6)
    assert 0.0 < numbers["lidocaine"] < 1.0


def test_a_patch_is_refused_the_moving_pH():
    """On 2D/3D patches the moving pH is not verified (1 vs 2 ranks differed): one clear error."""
    from iontosim.scenario.errors import ScenarioError

    layer = [{"name": "membrane", "thickness": "20 um", "pH": 7.4}]
    geometry = {"kind": "planar", "width": "1 mm", "anode_width": "2 mm"}
    with pytest.raises(ScenarioError) as err:
        membrane_scenario(
            layers=layer,
            protocol=[{"rest": "1 min"}],
            pH_model="moving",
            geometry=geometry,
            species=["lidocaine", "Na+", "Cl-", "H+", "OH-"],
        )
    assert err.value.field == "pH_model" and "1D columns only" in err.value.reason


def _moving_default(on: str, rest: str) -> dict:
    """The default scenario with the moving pH, the bicarbonate buffer and the lipid route (what
    benchmarks/moving_ph_cost.py calls 'lipids'), at half resolution and a short protocol."""
    import yaml

    from tests.conftest import CONFIGS

    data = yaml.safe_load((CONFIGS / "lidocaine_epinephrine.yaml").read_text())
    data["pH_model"] = "moving"
    data["skin"][0]["lipids"] = {"volume_fraction": 0.15}
    for layer in data["skin"][1:]:
        layer["buffer"] = {"concentration": "24 mM", "pKa": 6.1, "acid_charge": 0}
    data["protocol"] = [{"current": "1.77 mA", "duration": on}, {"rest": rest}]
    data["outputs"]["profile_times"] = [on]
    data["numerics"] = {"refinement": 0.5}
    return data


@pytest.mark.mpi
def test_two_ranks_give_the_moving_pH_answer_of_one():
    """1D with the moving pH (the electroneutral potential solved pointwise per rank, the lipid
    route, the buffers): the same dose, plasma and peak voltage on 2 ranks as on 1 (1e-6, as the
    fixed pH's test_cli; the dose agrees to 1e-11, the 32 V peak voltage to 4e-7)."""
    import json

    from iontosim.output.metrics import summarize
    from iontosim.scenario.load import scenario_from_dict
    from tests.conftest import python_on_two_ranks

    keys = ("drug_delivered_ug_per_cm2", "peak_plasma_concentration_ng_per_mL", "peak_voltage_V")
    data = _moving_default("2 min", "1 min")
    sc = scenario_from_dict(data)
    record = simulate(sc, MPI.COMM_SELF)
    one = summarize(record, sc.outputs.penetration_threshold)
    code = (
        "import json, sys\nfrom mpi4py import MPI\n"
        "from iontosim.output.metrics import summarize\nfrom iontosim.scenario.load import scenario_from_dict\n"
        "from iontosim.simulation import simulate\n"
        "sc = scenario_from_dict(json.loads(sys.argv[1]))\n"
        "record = simulate(sc, MPI.COMM_WORLD)\n"
        "if MPI.COMM_WORLD.rank == 0:\n"
        "    s = summarize(record, sc.outputs.penetration_threshold)\n"
        f"    print(json.dumps([s[k] for k in {keys!r}]))\n"
    )
    two = json.loads(python_on_two_ranks(code, json.dumps(data)).strip().splitlines()[-1])
    assert two == pytest.approx([one[k] for k in keys], rel=1e-6)
