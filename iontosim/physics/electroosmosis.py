"""Electroosmotic solvent flow in charged layers, MODEL.md sections 3-4 and reference section 8.4.

Darcy flow with the electrical body force on the mobile space charge rho_e = -F X:

    v = -(kappa/mu) (dp/dx + rho_e dphi/dx)

In a 1D column the volume flux is the same at every depth; with the pressure equal at the
electrode and in deep tissue, and the uncharged layers offering no hydraulic resistance,

    v = F * sum_l int_l X dphi/dx dx / sum_l (L_l / (kappa_l/mu))

summed over the charged layers. kappa/mu of each layer is calibrated so that at the reference
pH and salt the flow per unit charge equals the measured one: v/i = (kappa/mu) F |X| / sigma.
"""

from __future__ import annotations

from iontosim.physics.constants import FARADAY, GAS_CONSTANT
from iontosim.physics.fixed_charge import donnan_salt


def reference_conductivity(fixed: float, salt: float, d_cation: float, d_anion: float, temperature: float) -> float:
    """Conductivity [S/m] of a charged layer in Donnan equilibrium with a 1:1 salt (ideal TMS)."""
    c_plus, c_minus = donnan_salt(fixed, salt)
    return FARADAY**2 / (GAS_CONSTANT * temperature) * (d_cation * c_plus + d_anion * c_minus)


def hydraulic_coefficient(volume_per_charge: float, conductivity: float, fixed: float) -> float:
    """kappa/mu [m^2/(Pa s)] giving `volume_per_charge` [m^3/C] at `fixed` [mol/m^3] and `conductivity`."""
    return volume_per_charge * conductivity / (FARADAY * abs(fixed))


def column_velocity(drives: list[float], thicknesses: list[float], coefficients: list[float]) -> float:
    """Superficial velocity [m/s], positive into the skin.

    drives[l] = int_l X dphi/dx dx [mol/m^3 V] over each charged layer l.
    """
    resistance = sum(length / k for length, k in zip(thicknesses, coefficients))
    if resistance == 0.0:
        return 0.0
    return FARADAY * sum(drives) / resistance
