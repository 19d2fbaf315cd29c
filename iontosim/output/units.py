"""Unit conversions used by the output layer, in one place.

Every factor converts a value in SI (as stored in a RunRecord) into the
reporting unit named in the function or constant.
"""

from __future__ import annotations

import numpy as np

from iontosim.physics.constants import FARADAY  # noqa: F401 - the output layer's conversions use it too

SECONDS_PER_MINUTE = 60.0
SECONDS_PER_HOUR = 3600.0
UM_PER_M = 1e6
A_PER_M2_TO_MA_PER_CM2 = 1e3 / 1e4  # 1 A/m^2 = 1e3 mA / 1e4 cm^2
C_PER_M2_TO_MC_PER_CM2 = 1e3 / 1e4  # 1 C/m^2 = 1e3 mC / 1e4 cm^2
OHM_M2_TO_KOHM_CM2 = 1e4 / 1e3  # 1 ohm m^2 = 1e4 ohm cm^2 = 10 kohm cm^2


def mol_per_m2_to_ug_per_cm2(value, molar_mass: float):
    """mol/m^2 -> ug/cm^2: x M [kg/mol] x 1e9 ug/kg / 1e4 cm^2/m^2."""
    return np.asarray(value, dtype=float) * molar_mass * 1e9 / 1e4


def mol_per_m2_to_ug_per_m2(value, molar_mass: float):
    """mol/m^2 -> ug/m^2 (multiply by an area in m^2 for a total in ug)."""
    return np.asarray(value, dtype=float) * molar_mass * 1e9


def mol_per_m3_to_ng_per_ml(value, molar_mass: float):
    """mol/m^3 -> ng/mL: x M [kg/mol] x 1e12 ng/kg / 1e6 mL/m^3."""
    return np.asarray(value, dtype=float) * molar_mass * 1e12 / 1e6


def mol_per_m3_to_ug_per_ml(value, molar_mass: float):
    """mol/m^3 -> ug/mL: x M [kg/mol] x 1e9 ug/kg / 1e6 mL/m^3."""
    return np.asarray(value, dtype=float) * molar_mass * 1e9 / 1e6


def kg_per_m3_to_ng_per_ml(value):
    """kg/m^3 -> ng/mL: x 1e12 ng/kg / 1e6 mL/m^3."""
    return np.asarray(value, dtype=float) * 1e12 / 1e6
