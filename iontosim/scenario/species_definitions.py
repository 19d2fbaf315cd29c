"""User-defined species: a scenario's ``species_definitions`` turned into library Species.

A drug that is not built in is written in the config language, each number bare (``300 g/mol``, then
labelled an estimate) or as ``{value, source | estimate, note}``::

    species_definitions:
      my_drug:
        charge: +1                          # of the ionized form; a non-zero integer
        pKa: 8.1                            # optional, needs acid_base
        acid_base: base                     # "base" or "acid"
        molar_mass: {value: 300 g/mol, source: SOMEKEY}
        diffusivity: {value: 6e-10 m^2/s, estimate: "..."}   # optional, free solution at 25 C
        salts: {HCl: 336.5 g/mol}           # optional
        partition: 1                        # optional tissue/water partition (default 1)
        binding: 0                          # optional fraction bound in tissue, 0 <= b < 1 (default 0)
        log_P: 2.3                          # optional octanol/water log P of the neutral form (lipid route)

Units are read by the scenario layer's own parser (pint), so a definition is checked exactly like
every other quantity, and the result is a plain Species whose ``__post_init__`` checks it exactly
like a built-in one. ``partition`` and ``binding`` are not Species fields: they stay on the
definition for the caller to apply. Every error is a ScenarioError naming the field path.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, PrivateAttr, ValidationError, model_validator

from ..library.species import LIBRARY, Species, get_species
from . import provenance as prov
from .errors import ScenarioError, from_validation, join_path
from .quantities import SI

PATH = "species_definitions"

#: Water viscosity (cP) at 25 and 37 C: the values the built-in drugs use in Hayduk-Laudie
#: (docs/derivations.md#drug-diffusivities).
MU_25C, MU_37C = 0.890, 0.692
#: Le Bas molar volume per gram of solute (cm^3/g), so that a molar mass alone gives a volume: the mean
#: of V/M for the three built-in drugs (lidocaine-H+ 307.5/234.34 = 1.31,
#: fentanyl-H+ 416.9/336.48 = 1.24, epinephrine-H+ 204.2/183.21 = 1.11).
LE_BAS_PER_GRAM = 1.22
#: D(37 C) / D(25 C) in Hayduk-Laudie: (0.890/0.692)^1.14 = 1.33.
HL_37_OVER_25 = (MU_25C / MU_37C) ** 1.14

_HL_FROM_M = (
    "estimate: Hayduk-Laudie from molar mass (docs/derivations.md#drug-diffusivities: D = 13.26e-5/(mu^1.14 "
    "V^0.589) cm^2/s, V = 1.22 cm^3/g x M, mu = {mu} cP), +/-30 %"
)
_HL_37 = "estimate: D(25 C) x 1.33, the Hayduk-Laudie viscosity ratio (0.890/0.692)^1.14 (docs/derivations.md)"


def hayduk_laudie(molar_mass: float, viscosity_cP: float) -> float:
    """Free-solution diffusivity (m^2/s) of a solute of ``molar_mass`` (kg/mol) in water.

    Hayduk-Laudie as the built-in drugs use it (docs/derivations.md#drug-diffusivities), with the Le Bas volume
    estimated as LE_BAS_PER_GRAM x M because a user gives a molar mass, not a structure. Expect +/-30 %.
    """
    volume = LE_BAS_PER_GRAM * molar_mass * 1e3  # cm^3/mol (molar mass in g/mol)
    return 13.26e-5 / (viscosity_cP**1.14 * volume**0.589) * 1e-4


def _charge(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value == 0:
        raise ValueError(f"charge must be a non-zero integer such as +1 or -2 (of the ionized form), got {value!r}")
    return value


MolarMass = Annotated[float, SI("molar_mass", gt=0, what="molar mass")]
Diffusivity = Annotated[float, SI("diffusivity", gt=0, what="diffusivity")]
#: a pKa on water's scale, as a buffer's (schema.Buffer): outside it one form holds at every pH a
#: scenario can set, so leave the pKa out (a strong electrolyte) instead
PKa = Annotated[float, SI("dimensionless", ge=0, le=14, what="pKa")]
Partition = Annotated[float, SI("dimensionless", gt=0, what="partition coefficient")]
BoundFraction = Annotated[float, SI("dimensionless", ge=0, lt=1, what="bound fraction")]


class SpeciesDefinition(BaseModel):
    """One user-defined species, SI floats (molar masses kg/mol, diffusivity m^2/s at 25 C)."""

    model_config = ConfigDict(extra="forbid")

    charge: Annotated[int, BeforeValidator(_charge)]
    pKa: PKa | None = None
    acid_base: Literal["base", "acid"] | None = None
    molar_mass: MolarMass
    diffusivity: Diffusivity | None = None
    salts: dict[str, MolarMass] = {}
    #: tissue/water partition coefficient; the caller decides where it applies
    partition: Partition = 1.0
    #: fraction bound in tissue (immobile); the caller decides how it slows transport
    binding: BoundFraction = 0.0
    #: log10 octanol/water partition of the neutral form: it takes the stratum corneum's lipid
    #: route where a layer has one (physics/lipid_route.py)
    #: bounded where measured drugs lie (about -5 to 8) with room: K_lip = K_ow^0.71 overflows past ~400
    log_P: Annotated[float, SI("dimensionless", ge=-10, le=10, what="log P")] | None = None

    #: provenance of {value: ...} fields given to this model directly, keyed by field ("salts.HCl");
    #: empty when the scenario loader unwrapped them first (it keeps them in Scenario.provenance)
    _provenance: dict[str, str] = PrivateAttr(default_factory=dict)

    @model_validator(mode="wrap")
    @classmethod
    def _unwrap(cls, data: Any, handler: Any) -> SpeciesDefinition:
        found: dict[str, str] = {}
        if isinstance(data, Mapping):
            data = prov.unwrap(dict(data), "", found)
        model = handler(data)
        if found:
            model._provenance = found
        return model

    @model_validator(mode="after")
    def _acid_base_pair(self) -> SpeciesDefinition:
        if self.pKa is not None and self.acid_base is None:
            raise ScenarioError("pKa", "a pKa needs acid_base ('base' or 'acid') to say which form is charged")
        if self.acid_base is not None and self.pKa is None:
            raise ScenarioError("acid_base", "acid_base needs a pKa")
        return self


def parse_definition(name: str, data: Any, path: str = PATH) -> SpeciesDefinition:
    """Validate one definition (config language or a SpeciesDefinition); ScenarioError at ``path.name...``."""
    if isinstance(data, SpeciesDefinition):
        return data
    try:
        return SpeciesDefinition.model_validate(data)
    except ValidationError as exc:
        raise _scenario_error(exc, join_path(path, name)) from None
    except ScenarioError as exc:  # raised outside pydantic's wrapping
        raise ScenarioError(join_path(path, name, exc.field), exc.reason) from None


def to_species(
    name: str,
    definition: SpeciesDefinition | Mapping[str, Any],
    provenance: Mapping[str, str] | None = None,
    path: str = PATH,
) -> Species:
    """The library Species (role "drug") for a user definition, every number with its source.

    ``provenance`` is the loader's mapping (Scenario.provenance), read at ``path.name.<field>``;
    provenance given inside the definition itself is used too. A bare value becomes
    "estimate: user-supplied ...". A missing diffusivity is estimated from the molar mass
    (hayduk_laudie); 37 C follows from 25 C by the Hayduk-Laudie viscosity ratio.
    """
    where = join_path(path, name)
    d = parse_definition(name, definition, path)

    def source(field: str) -> str:
        text = d._provenance.get(field) or (provenance or {}).get(join_path(where, field))
        return (
            _species_source(text) if text else f"estimate: user-supplied in {join_path(where, field)}, no source given"
        )

    sources = {"charge": source("charge"), "molar_mass": source("molar_mass")}
    sources |= {f"salts.{salt}": source(f"salts.{salt}") for salt in d.salts}
    if d.pKa is not None:
        sources["pKa"] = source("pKa")
    if d.log_P is not None:
        sources["log_P"] = source("log_P")
    if d.diffusivity is None:
        d25, d37 = hayduk_laudie(d.molar_mass, MU_25C), hayduk_laudie(d.molar_mass, MU_37C)
        sources["diffusivity_25C"] = _HL_FROM_M.format(mu=MU_25C)
        sources["diffusivity_37C"] = _HL_FROM_M.format(mu=MU_37C)
    else:
        d25, d37 = d.diffusivity, d.diffusivity * HL_37_OVER_25
        sources["diffusivity_25C"], sources["diffusivity_37C"] = source("diffusivity"), _HL_37
    try:
        return Species(
            name,
            d.charge,
            d.molar_mass,
            d25,
            d37,
            pKa=d.pKa,
            acid_base=d.acid_base,
            salts=dict(d.salts),
            role="drug",
            sources=sources,
            log_P=d.log_P,
        )
    except ValueError as exc:
        raise ScenarioError(where, str(exc)) from None


def register(
    definitions: Mapping[str, Any] | None, provenance: Mapping[str, str] | None = None, path: str = PATH
) -> list[Species]:
    """Species for every user definition, in order; a name that clashes with a built-in is an error.

    Names are compared case-insensitively with the built-ins too ("Lidocaine" would shadow
    "lidocaine" in a reader's eye), so a user drug never silently replaces a library value.
    """
    if definitions is None:
        return []
    if not isinstance(definitions, Mapping):
        raise ScenarioError(path, f"must be a mapping of name -> definition, got {type(definitions).__name__}")
    builtin = {n.lower(): n for n in LIBRARY}
    out = []
    for name, data in definitions.items():
        if not isinstance(name, str) or not name.strip():
            raise ScenarioError(join_path(path, str(name)), "a species name must be a non-empty text")
        if name.lower() in builtin:
            raise ScenarioError(
                join_path(path, name),
                f"{name!r} clashes with the built-in species {builtin[name.lower()]!r}; "
                "use the built-in one or choose another name",
            )
        out.append(to_species(name, data, provenance, path))
    return out


def resolve(name: str, user: Iterable[Species] = ()) -> Species:
    """Built-in species first, then the user's; KeyError naming both lists when neither has ``name``."""
    if name in LIBRARY:
        return LIBRARY[name]
    for species in user:
        if species.name == name:
            return species
    try:
        return get_species(name)  # raises with close matches among the built-ins
    except KeyError as exc:
        names = [s.name for s in user]
        raise KeyError(f"{exc.args[0]}; user-defined: {', '.join(names) or 'none'}") from None


def _species_source(text: str) -> str:
    """Loader provenance ("source: A, B | note: n" or "estimate: why | note: n") -> a Species source."""
    parts = prov.parse(text)
    if "source" in parts:
        keys = parts["source"]
        return ", ".join(keys) if isinstance(keys, list) else keys
    note = f" (note: {parts['note']})" if "note" in parts else ""
    return f"estimate: {parts.get('estimate', 'user-supplied')}{note}"


def _scenario_error(exc: ValidationError, where: str) -> ScenarioError:
    """The first pydantic error as a ScenarioError at ``where`` + its location (as the loader reports it)."""
    err = exc.errors(include_url=False)[0]
    return from_validation(err, join_path(where, *err["loc"]), list(SpeciesDefinition.model_fields))
