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


# ---------------------------------------------------------------- Darcy flow on a 2D/3D patch
#: Hydraulic permeability of regions that offer "no hydraulic resistance" (gel pads, uncharged
#: layers, open channels), relative to the most permeable charged layer: a numerical stand-in
#: for infinity, not a tissue value. The relative error it leaves in the flow is about
#: (thickness of open regions / thickness of charged ones) / factor: 4.5e-4 for the default skin
#: at 1e6, 4.5e-7 at 1e9 (tests/physics/test_electroosmosis_darcy.py). The pressure system is
#: solved by LU, which such a contrast does not trouble.
OPEN_PERMEABILITY_FACTOR = 1e9


def darcy_velocity(pressure, permeability, fixed, psi, thermal_voltage):
    """Superficial velocity v = -(kappa/mu) (grad p - F X grad phi) [m/s], phi = psi * thermal_voltage.

    The same law as the column's: the mobile space charge -F X feels the field."""
    from iontosim._fenics import ufl

    return -permeability * (ufl.grad(pressure) - FARADAY * thermal_voltage * fixed * ufl.grad(psi))


def pressure_equation(pressure, test, permeability, fixed, psi, thermal_voltage, dx):
    """Bilinear and linear forms of div v = 0 for the pressure (trial `pressure`, test `test`):
    int k grad p . grad q = int k F X grad phi . grad q; v.n = 0 where nothing is prescribed."""
    from iontosim._fenics import ufl

    a = permeability * ufl.inner(ufl.grad(pressure), ufl.grad(test)) * dx
    L = permeability * FARADAY * thermal_voltage * fixed * ufl.inner(ufl.grad(psi), ufl.grad(test)) * dx
    return a, L
