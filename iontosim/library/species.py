"""Built-in species: charge, molar mass, aqueous diffusivity, acid-base data, each with its source."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Literal

from .sources import SOURCES

T25 = 298.15  #: K, reference temperature of diffusivity_25C
T37 = 310.15  #: K, reference temperature of diffusivity_37C


@dataclass(frozen=True)
class Species:
    """A dissolved species.

    Units: molar_mass kg/mol, diffusivities m^2/s (free aqueous solution). ``charge`` is the
    charge of the ionized form; ``pKa`` and ``acid_base`` give the fraction in that form.
    ``salts`` maps a salt name to its molar mass (kg/mol), e.g. lidocaine {"HCl": 0.27080}.
    ``sources`` maps a field name (or "salts.<name>") to a source key of
    iontosim.library.sources or to "estimate: <why>".
    """

    name: str
    charge: int
    molar_mass: float
    diffusivity_25C: float
    diffusivity_37C: float
    pKa: float | None = None
    acid_base: Literal["base", "acid"] | None = None
    salts: dict[str, float] = field(default_factory=dict)
    role: Literal["drug", "background"] = "background"
    sources: dict[str, str] = field(default_factory=dict)
    #: log10 of the octanol/water partition coefficient of the neutral form (the lipid route's input)
    log_P: float | None = None

    def __post_init__(self) -> None:
        if self.molar_mass <= 0 or self.diffusivity_25C <= 0 or self.diffusivity_37C <= 0:
            raise ValueError(f"{self.name}: molar mass and diffusivities must be positive")
        if (self.pKa is None) != (self.acid_base is None):
            raise ValueError(f"{self.name}: give both pKa and acid_base, or neither")
        for key, src in self.sources.items():
            # one key, several keys joined by ", " (a value read from more than one source), or an estimate
            if not (src.startswith("estimate:") or all(k in SOURCES for k in src.split(", "))):
                raise ValueError(f"{self.name}.{key}: {src!r} is neither a source key nor 'estimate: ...'")

    def diffusivity(self, T_kelvin: float) -> float:
        """Free-solution diffusivity (m^2/s) at ``T_kelvin``: ln D linear in T through the 25 and 37 C values."""
        if T_kelvin <= 0:
            raise ValueError(f"temperature must be positive kelvin, got {T_kelvin}")
        w = (T_kelvin - T25) / (T37 - T25)
        # D25^(1-w) * D37^w is exact at both reference temperatures (w = 0 and w = 1)
        return self.diffusivity_25C ** (1.0 - w) * self.diffusivity_37C**w

    def ionized_fraction(self, pH: float) -> float:
        """Fraction in the charged form (Henderson-Hasselbalch); 1.0 for strong electrolytes."""
        from iontosim.physics.ionization import ionized_fraction

        return ionized_fraction(pH, self.pKa, self.acid_base)

    def describe(self) -> list[tuple[str, str, str]]:
        """(field, value with unit, source) for every number, in a fixed order.

        For listings such as ``iontosim species``: each value is printed beside the source it came
        from, so an unsourced number stands out ("-" where no source is recorded, e.g. an ion's charge).
        """
        rows = [
            ("charge", f"{self.charge:+d}"),
            ("molar_mass", f"{self.molar_mass * 1e3:.6g} g/mol"),
            ("diffusivity_25C", f"{self.diffusivity_25C:.4g} m^2/s"),
            ("diffusivity_37C", f"{self.diffusivity_37C:.4g} m^2/s"),
        ]
        if self.pKa is not None:
            rows.append(("pKa", f"{self.pKa:g} ({self.acid_base})"))
        if self.log_P is not None:
            rows.append(("log_P", f"{self.log_P:g}"))
        rows += [(f"salts.{salt}", f"{mass * 1e3:.6g} g/mol") for salt, mass in self.salts.items()]
        return [(name, value, self.sources.get(name, "-")) for name, value in rows]

    def salt_molar_mass(self, salt: str | None) -> float:
        """Molar mass (kg/mol) of ``salt`` (None: the species itself); KeyError for unknown salts."""
        if salt is None:
            return self.molar_mass
        if salt not in self.salts:
            known = ", ".join(self.salts) or "none"
            raise KeyError(f"{self.name} has no salt {salt!r} (known salts: {known})")
        return self.salts[salt]


#: the working of the derived and estimated values: docs/derivations.md (section named in each string)
_HL = "estimate: Hayduk-Laudie correlation, +/-30 % (docs/derivations.md#drug-diffusivities)"
_ATOMIC = "estimate: standard atomic weight (textbook value; no primary source retrieved)"
_DEX = "estimate: no published value found"
#: 37 C from 25 C for ions: x 1.3 (CRC_VANYSEK: +2-3 %/K above 25 C, over 12 K)
_ION37 = "estimate: 25 C value x 1.3, the ion rule of docs/derivations.md#ion-diffusivities-37c (CRC_VANYSEK +2-3 %/K)"
#: the ions' 37 C diffusivities: their 25 C value (KIRK_TABLE, CRC_VANYSEK) x 1.3 (CRC_VANYSEK)
_ION37_KIRK = "DERIVED, KIRK_TABLE, CRC_VANYSEK"
_ION37_CRC = "DERIVED, CRC_VANYSEK"

LIBRARY: dict[str, Species] = {
    s.name: s
    for s in [
        Species(
            "lidocaine",
            charge=1,
            molar_mass=0.23434,
            diffusivity_25C=5.2e-10,
            diffusivity_37C=6.9e-10,
            pKa=7.91,
            acid_base="base",
            salts={"HCl": 0.27080},
            role="drug",
            log_P=2.30,
            sources={
                "log_P": "SIRIUS_LOGP",
                "charge": "LIDOSITE_LABEL",
                "molar_mass": "SMOLECULE",
                "salts.HCl": "DERIVED",  # 234.34 + 36.46 (docs/derivations.md#molar-masses)
                "diffusivity_25C": _HL,
                "diffusivity_37C": _HL,
                "pKa": "CLINICALGATE_LA",
            },
        ),  # pKa at 25 C; 7.9 commonly used
        Species(
            "fentanyl",
            charge=1,
            molar_mass=0.33648,
            diffusivity_25C=4.3e-10,
            diffusivity_37C=5.8e-10,
            pKa=8.4,
            acid_base="base",
            salts={"HCl": 0.37293},
            role="drug",
            log_P=4.05,
            sources={
                "log_P": "FENTANYL_LOGP",
                "charge": "DERIVED, IONSYS_LABEL",  # a base, pKa 8.4, as HCl in the anode gel
                "molar_mass": "DERIVED",  # C22H28N2O (docs/derivations.md#molar-masses)
                "salts.HCl": "IONSYS_LABEL",
                "diffusivity_25C": _HL,
                "diffusivity_37C": _HL,
                "pKa": "IONSYS_LABEL",
            },
        ),
        Species(
            "epinephrine",
            charge=1,
            molar_mass=0.18321,
            diffusivity_25C=6.6e-10,
            diffusivity_37C=8.8e-10,
            pKa=8.749,
            acid_base="base",
            salts={"bitartrate": 0.3333},
            role="drug",
            sources={
                "charge": "LIDOSITE_LABEL",
                "molar_mass": "DERIVED",  # C9H13NO3 (docs/derivations.md#molar-masses)
                "salts.bitartrate": "DERIVED, LIDOSITE_LABEL",  # 1.91 mg bitartrate = 1.05 mg base
                "diffusivity_25C": _HL,
                "diffusivity_37C": _HL,
                "pKa": "BRETTI2015",
            },
        ),  # pKa1 at 37 C (log K2, infinite dilution)
        # The disodium salt is what physiotherapists use (4 mg/mL dexamethasone phosphate = 4.37 mg/mL of the
        # salt, DEXSP_LABEL). No published pKa or aqueous diffusivity was found: those stay estimates.
        Species(
            "dexamethasone_phosphate",
            charge=-2,
            molar_mass=0.4724,
            diffusivity_25C=4.0e-10,
            diffusivity_37C=5.4e-10,
            pKa=6.4,
            acid_base="acid",
            salts={"disodium": 0.51641},
            role="drug",
            sources={
                "charge": _DEX + " (dianion of the phosphate monoester; an anion, delivered from the "
                "cathode: SYLVESTRE2008)",
                "molar_mass": "estimate: computed from the formula C22H30FO8P (free acid), 472.4; "
                "no published value found (DEXSP_LABEL's 4.37 mg salt = 4 mg acid gives 472.7)",
                "salts.disodium": "DEXSP_LABEL",
                "diffusivity_25C": _DEX + " (size-scaled like fentanyl, Hayduk-Laudie form)",
                "diffusivity_37C": _DEX + " (25 C value x 1.35 as for the other drugs)",
                "pKa": _DEX + " (second phosphate pKa, dianion)",
            },
        ),
        # Acetate from a 5 % acetic acid cathode for calcific deposits (PERRON1997). Molar mass is that of
        # the free acid, as for dexamethasone_phosphate, so "5 % acetic acid" converts directly.
        Species(
            "acetate",
            charge=-1,
            molar_mass=0.060052,
            diffusivity_25C=1.09e-9,
            diffusivity_37C=1.42e-9,
            pKa=4.76,
            acid_base="acid",
            role="drug",
            sources={
                "charge": "LANGE_T832",  # listed there as a -1 ion
                "molar_mass": "estimate: computed from the formula C2H4O2 (acetic acid) with standard atomic weights",
                "diffusivity_25C": "LANGE_T832",  # D = RT lambda / F^2 with lambda = 41e-4 m^2 S/mol
                "diffusivity_37C": _ION37,
                "pKa": "AQION_PKA",
            },
        ),
        Species(
            "Na+",
            charge=1,
            molar_mass=0.022990,
            diffusivity_25C=1.33e-9,
            diffusivity_37C=1.73e-9,
            sources={"molar_mass": _ATOMIC, "diffusivity_25C": "KIRK_TABLE", "diffusivity_37C": _ION37_KIRK},
        ),
        Species(
            "Cl-",
            charge=-1,
            molar_mass=0.035453,
            diffusivity_25C=2.03e-9,
            diffusivity_37C=2.64e-9,
            sources={"molar_mass": _ATOMIC, "diffusivity_25C": "KIRK_TABLE", "diffusivity_37C": _ION37_KIRK},
        ),
        Species(
            "H+",
            charge=1,
            molar_mass=0.0010080,
            diffusivity_25C=9.311e-9,
            diffusivity_37C=1.21e-8,
            sources={"molar_mass": _ATOMIC, "diffusivity_25C": "CRC_VANYSEK", "diffusivity_37C": _ION37_CRC},
        ),
        Species(
            "OH-",
            charge=-1,
            molar_mass=0.017007,
            diffusivity_25C=5.27e-9,
            diffusivity_37C=6.85e-9,
            sources={"molar_mass": _ATOMIC, "diffusivity_25C": "KIRK_TABLE", "diffusivity_37C": _ION37_KIRK},
        ),
    ]
}


def get_species(name: str) -> Species:
    """The built-in species ``name``; KeyError naming it, close matches and all known species."""
    try:
        return LIBRARY[name]
    except (KeyError, TypeError):
        pass
    close = difflib.get_close_matches(str(name), LIBRARY, n=3, cutoff=0.6)
    hint = f"did you mean {', '.join(close)}? " if close else ""
    raise KeyError(f"unknown species {name!r}; {hint}known species: {', '.join(LIBRARY)}")


def known_species() -> list[str]:
    """Names of the built-in species."""
    return list(LIBRARY)
