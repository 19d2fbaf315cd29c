"""iontosim: finite-element simulation of drug transport through layered skin under iontophoresis."""

__version__ = "0.1.0"
