"""Physical constants (SI, CODATA values as in shared/reference/model_parameters.yaml)."""

FARADAY = 96485.33  # C/mol
GAS_CONSTANT = 8.314462  # J/(mol K)
BOLTZMANN = 1.380649e-23  # J/K


def thermal_voltage(temperature: float) -> float:
    """RT/F [V]: the potential unit of the dimensionless psi = F phi / (R T)."""
    return GAS_CONSTANT * temperature / FARADAY


#: Viscosity of water [Pa s] at 25 and 37 C, the values used with Hayduk-Laudie diffusivities and
#: the Stokes-Einstein radius (estimate: textbook values, 0.890 and 0.692 cP).
WATER_VISCOSITY_25C = 0.890e-3
WATER_VISCOSITY_37C = 0.692e-3
