"""Physical constants (SI, CODATA values as in shared/reference/model_parameters.yaml)."""

FARADAY = 96485.33  # C/mol
GAS_CONSTANT = 8.314462  # J/(mol K)
BOLTZMANN = 1.380649e-23  # J/K


def thermal_voltage(temperature: float) -> float:
    """RT/F [V]: the potential unit of the dimensionless psi = F phi / (R T)."""
    return GAS_CONSTANT * temperature / FARADAY
