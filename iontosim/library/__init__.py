"""Species library and parameter source keys."""

from .sources import SOURCES, check_source
from .species import LIBRARY, Species, get_species, known_species

__all__ = ["LIBRARY", "SOURCES", "Species", "check_source", "get_species", "known_species"]
