"""The lipid route (physics/lipid_route.py): a drug's neutral form crosses the stratum corneum's
lipids with the permeability and partition of the Potts-Guy correlation; ions do not."""

from __future__ import annotations

import pytest
from mpi4py import MPI

from iontosim.library.species import get_species
from iontosim.output.permeation import permeation_summary
from iontosim.physics.ionization import partner_ratio
from iontosim.physics.lipid_route import lipid_partition, potts_guy_permeability
from iontosim.scenario.load import scenario_from_dict
from iontosim.simulation import simulate
from tests.conftest import membrane_scenario

pytestmark = pytest.mark.slow

L, POROSITY, PHI, PH, C0 = 18e-6, 0.01, 0.15, 7.4, 10.0  # m, aqueous fraction, lipid fraction, pH, mM
AQUEOUS = 1e-6  # the aqueous route's diffusivity factor: narrow (a membrane cut off entirely has no potential level)


def test_potts_guy_for_lidocaine():
    """log kp = -2.72 + 0.71 x 2.30 - 0.0061 x 234.34 = -2.516: kp = 3.05e-3 cm/h."""
    lido = get_species("lidocaine")
    assert potts_guy_permeability(lido.log_P, lido.molar_mass) * 3600 * 100 == pytest.approx(3.05e-3, rel=2e-3)
    assert lipid_partition(lido.log_P) == pytest.approx(10**1.633, rel=1e-9)


def _through_lipids(lipids: bool):
    layer = {
        "name": "stratum_corneum",
        "thickness": f"{L * 1e6} um",
        "pH": PH,
        "porosity": POROSITY,
        "diffusivity_factor": AQUEOUS,
        "cells": 40,
    }
    if lipids:
        layer["lipids"] = {"volume_fraction": PHI}
    data = membrane_scenario(
        layers=[layer],
        drug_mM=C0,
        donor_pH=PH,
        protocol=[{"rest": "4 h"}],
        numerics={"dt_max": "1 min", "flux": "fitted"},
        as_dict=True,
    )
    data["donor"] |= {"kind": "fixed_reservoir"}
    data["donor"].pop("diffusivity_factor")
    data["setup"] = {"kind": "franz_cell", "membrane": {"kind": "as_given"}, "receptor": {"volume": "50 mL"}}
    return simulate(scenario_from_dict(data), MPI.COMM_SELF)


def _aqueous_permeability(lido) -> float:
    """m/s of the narrow aqueous route, both forms alike (no field: a trace drug in saline)."""
    return AQUEOUS * lido.diffusivity(310.15) / L


def test_a_neutral_form_crosses_the_lipids_as_the_correlation_says():
    """A reservoir of lidocaine at pH 7.4 over 18 um of stratum corneum with a narrow aqueous
    route, into a sink: the steady flux is kp c_n + P_aq c (c_n the neutral form's concentration,
    23.6 % of the total c at pKa 7.91; the aqueous route's share is 2 %), and the lag is L^2 S /
    (6 (kp L f_n + P_aq L)), S = phi K_lip f_n + eps what a unit of tissue holds per unit of c.
    Tolerances set before the run: flux 1 %, lag 3 %."""
    lido = get_species("lidocaine")
    kp, p_aq = potts_guy_permeability(lido.log_P, lido.molar_mass), _aqueous_permeability(lido)
    rho = partner_ratio(PH, lido.pKa, lido.acid_base)
    f_n = rho / (1.0 + rho)
    record = _through_lipids(True)
    figures = permeation_summary(record)
    flux = figures["steady_state_flux_ug_per_cm2_per_h"] * 1e-9 / 1e-4 / 3600 / lido.molar_mass  # mol/m^2/s
    assert flux == pytest.approx((kp * f_n + p_aq) * C0, rel=0.01)
    held = PHI * lipid_partition(lido.log_P) * f_n + POROSITY
    lag = L**2 * held / (6.0 * (kp * f_n + p_aq) * L)
    assert figures["lag_time_h"] * 3600 == pytest.approx(lag, rel=0.03)


def test_without_lipids_only_the_aqueous_route_carries_it():
    lido = get_species("lidocaine")
    figures = permeation_summary(_through_lipids(False))
    flux = figures["steady_state_flux_ug_per_cm2_per_h"] * 1e-9 / 1e-4 / 3600 / lido.molar_mass
    assert flux == pytest.approx(_aqueous_permeability(lido) * C0, rel=0.01)


def test_a_current_through_lipids_needs_the_moving_pH():
    """With a fixed pH the lipids' uptake of the neutral form empties the layer of counter-ions
    under current (the voltage diverged): refused, naming the layer's lipids."""
    from iontosim.scenario.errors import ScenarioError

    layer = {"name": "stratum_corneum", "thickness": "18 um", "pH": 5.9, "lipids": {"volume_fraction": 0.15}}
    with pytest.raises(ScenarioError) as err:
        membrane_scenario(layers=[layer], protocol=[{"current_density": "0.1 mA/cm^2", "duration": "1 min"}])
    assert err.value.field == "skin[0].lipids" and "pH_model: moving" in err.value.reason
    membrane_scenario(layers=[layer], protocol=[{"rest": "1 min"}])  # passive: allowed
    membrane_scenario(
        layers=[layer],
        protocol=[{"current_density": "0.1 mA/cm^2", "duration": "1 min"}],
        species=["lidocaine", "Na+", "Cl-", "H+", "OH-"],
        pH_model="moving",
    )
