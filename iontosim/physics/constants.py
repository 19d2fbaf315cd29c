"""Physical constants, SI, in one place.

F and R follow from the exact defining constants of the SI (2019; CODATA 2018): the elementary
charge, the Avogadro and the Boltzmann constant. psi = F phi / (R T) is the dimensionless
potential of the whole model.
"""

ELEMENTARY_CHARGE = 1.602176634e-19  # C, exact
AVOGADRO = 6.02214076e23  # 1/mol, exact
BOLTZMANN = 1.380649e-23  # J/K, exact
FARADAY = ELEMENTARY_CHARGE * AVOGADRO  # C/mol: 96485.33212...
GAS_CONSTANT = BOLTZMANN * AVOGADRO  # J/(mol K): 8.314462618...


def thermal_voltage(temperature: float) -> float:
    """RT/F [V]: the potential unit of the dimensionless psi = F phi / (R T)."""
    return GAS_CONSTANT * temperature / FARADAY


#: Viscosity of water [Pa s] at 25 and 37 C, the values used with Hayduk-Laudie diffusivities and
#: the Stokes-Einstein radius (estimate: textbook values, 0.890 and 0.692 cP).
WATER_VISCOSITY_25C = 0.890e-3
WATER_VISCOSITY_37C = 0.692e-3
