"""A synthetic RunRecord whose summary numbers are known in closed form."""

from __future__ import annotations

import numpy as np
import pytest

from iontosim.output import LayerSpan, Profile, RunRecord
from iontosim.physics.constants import FARADAY as F  # C/mol

M_G_PER_MOL = 234.34  # lidocaine, g/mol
L = 1e-3  # skin thickness [m]
C0 = 40.0  # drug pore-fluid concentration at the surface, last profile [mol/m^3]
PHI = 0.3  # porosity x partition in all skin layers
I_ON = 3.5  # A/m^2 = 0.35 mA/cm^2
T_ON = 600.0  # s, current on over [0, 600]
T_END = 1200.0  # s
T_D = 0.1  # drug transport number imposed by the flux
J_ON = T_D * I_ON / F  # mol/m^2/s while current on
J_OFF = 1e-9  # mol/m^2/s passive flux after switch-off
SPECIES = ["lidocaine+", "Na+", "Cl-"]
LAYER_END_AMOUNT = {"stratum_corneum": 1e-5, "viable_epidermis": 2e-5, "dermis": 3e-5}  # mol/m^2


def skin_depths() -> np.ndarray:
    """Donor, then skin with every interface depth duplicated; no node at L/2, L/4 or 3L/4."""
    donor = np.linspace(-1e-3, 0.0, 5)
    sc = np.linspace(0.0, 20e-6, 5)
    ve = np.linspace(20e-6, 100e-6, 5)
    dermis = np.linspace(100e-6, L, 7)  # step 150 um
    return np.concatenate([donor, sc, ve, dermis])


def linear_profile(time: float, surface: float, reach: float) -> Profile:
    """Drug c = surface (1 - x / reach)^+ in the skin, 10 x C0 in the donor."""
    x = skin_depths()
    n_donor = 5
    c = np.where(x >= 0, surface * np.clip(1.0 - x / reach, 0.0, None), 10 * C0)
    c[:n_donor] = 10 * C0  # donor side of the depth-0 interface too
    tissue = np.where(np.arange(x.size) < n_donor, 0.5 * c, PHI * c)
    na = np.full_like(x, 100.0)
    return Profile(
        time=time,
        depth=x,
        concentration={"lidocaine+": c, "Na+": na, "Cl-": na + c},
        tissue_concentration={"lidocaine+": tissue, "Na+": PHI * na, "Cl-": PHI * (na + c)},
        potential=-0.01 * x / L,
    )


def make_record() -> RunRecord:
    times = np.linspace(0.0, T_END, 21)  # 60 s steps
    on = (times > 0) & (times <= T_ON)
    current = np.where(on, I_ON, 0.0)
    delivered = J_ON * np.minimum(times, T_ON) + J_OFF * np.maximum(times - T_ON, 0.0)
    flux = np.where(on, J_ON, J_OFF)
    flux[0] = 0.0
    ramp = times / T_END
    series = {
        "current_density": current,
        "voltage": np.where(on, 5.0 + 3.0 * times / T_ON, 0.2),
        "skin_resistance": np.where(on, 2.0, np.nan),
        "charge_balance_error": np.array([0.0, 1e-12, -5e-12] + [2e-12] * 18),
    }
    for s in SPECIES:
        drug = s == "lidocaine+"
        series[f"surface_flux/{s}"] = flux if drug else 0.5 * flux
        series[f"delivered/{s}"] = delivered if drug else 0.5 * delivered
        series[f"donor_amount/{s}"] = (1e-2 - delivered) if drug else np.full_like(times, 5e-3)
        series[f"cleared/{s}"] = 4e-5 * ramp
        series[f"deep_outflow/{s}"] = 1e-7 * ramp
        series[f"plasma_concentration/{s}"] = 2e-4 * np.sin(np.pi * times / T_END) ** 2
        for layer, amount in LAYER_END_AMOUNT.items():
            series[f"layer_amount/{layer}/{s}"] = amount * ramp
        series[f"mass_balance_error/{s}"] = np.full_like(times, -3e-9 if drug else 1e-10)
    unit_of = {
        "current_density": "A/m^2",
        "voltage": "V",
        "skin_resistance": "ohm m^2",
        "charge_balance_error": "1",
        "surface_flux": "mol/m^2/s",
        "plasma_concentration": "mol/m^3",
        "mass_balance_error": "1",
    }
    units = {key: unit_of.get(key.split("/")[0], "mol/m^2") for key in series} | {"time": "s"}
    return RunRecord(
        scenario_name="synthetic linear",
        drug="lidocaine",
        species=list(SPECIES),
        charges={"lidocaine+": 1, "Na+": 1, "Cl-": -1},
        molar_mass={"lidocaine+": M_G_PER_MOL / 1000, "Na+": 0.02299, "Cl-": 0.03545},
        area=5e-4,  # 5 cm^2
        layers=[
            LayerSpan("donor", -1e-3, 0.0),
            LayerSpan("stratum_corneum", 0.0, 20e-6),
            LayerSpan("viable_epidermis", 20e-6, 100e-6),
            LayerSpan("dermis", 100e-6, L),
        ],
        times=times,
        series=series,
        units=units,
        descriptions={key: f"synthetic {key}" for key in units},
        sign_conventions={
            key: "positive into the skin" for key in units if key.startswith(("surface_flux/", "delivered/"))
        },
        profiles=[
            linear_profile(0.0, 0.0, L),
            linear_profile(300.0, C0, L / 2),  # threshold C0/2 reached at L/4
            linear_profile(600.0, 2 * C0, L),  # deepest reach: 3L/4
            linear_profile(T_END, C0, L),  # last: L/2
        ],
        protocol_end=T_END,
        current_on_intervals=[(0.0, T_ON)],
        applied_charge=I_ON * T_ON,
    )


@pytest.fixture
def record() -> RunRecord:
    return make_record()
