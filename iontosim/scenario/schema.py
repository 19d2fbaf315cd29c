"""Scenario data model (pydantic v2). Attributes hold SI floats; see iontosim/scenarios/*.yaml for the language.

Units: lengths m, areas m^2, volumes m^3, times s, masses kg, concentrations mol/m^3,
currents A, current densities A/m^2, rates 1/s, temperature K.
"""

from __future__ import annotations

import copy
import difflib
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    model_validator,
)

from ..library.species import Species, get_species
from ..mesh import tagged
from ..mesh.geometry import Geometry
from ..physics.electrodes import NEEDS as ELECTRODE_NEEDS
from . import provenance as prov
from .errors import ScenarioError, join_path
from .membrane import membrane_layers
from .quantities import SI, Dim, dimension_of, parser
from .species_definitions import PKa, SpeciesDefinition, register, resolve
from .units import DIMENSIONS, duration_text, format_si, parse_text, to_si

# ---------------------------------------------------------------- field types

#: cells of a 1D column beyond which a run is refused: a guard against a typo, far above the few
#: hundred cells at which the shipped scenarios' doses converge (benchmarks/RESULTS.md)
MAX_COLUMN_CELLS = 200_000

Length = Annotated[float, SI("length", gt=0, what="length")]
Area = Annotated[float, SI("area", gt=0, what="area")]
Volume = Annotated[float, SI("volume", gt=0, what="volume")]
Duration = Annotated[float, SI("time", gt=0, what="duration")]
Mass = Annotated[float, SI("mass", ge=0, what="amount")]
Concentration = Annotated[float, SI("concentration", ge=0, what="concentration")]
PositiveConcentration = Annotated[float, SI("concentration", gt=0, what="concentration")]
SignedConcentration = Annotated[float, SI("concentration")]
Current = Annotated[float, SI("current")]
CurrentDensity = Annotated[float, SI("current_density")]
VolumePerCharge = Annotated[float, SI("volume_per_charge")]
Rate = Annotated[float, SI("rate", ge=0, what="rate")]
Temperature = Annotated[float, SI("temperature", gt=0, what="temperature")]
Frequency = Annotated[float, SI("rate", gt=0, what="frequency")]
Voltage = Annotated[float, SI("voltage", gt=0, what="voltage")]
Charge = Annotated[float, SI("charge", gt=0, what="charge")]
PHValue = Annotated[float, SI("dimensionless", ge=0, le=14, what="pH")]
PH = Annotated[float, SI("dimensionless", ge=0, le=14, what="pH")]
Fraction = Annotated[float, SI("dimensionless", gt=0, le=1, what="fraction")]
UnitInterval = Annotated[float, SI("dimensionless", ge=0, le=1, what="value")]
PositiveNumber = Annotated[float, SI("dimensionless", gt=0, what="value")]
Growth = Annotated[float, SI("dimensionless", ge=1, what="growth factor")]
ProfileTime = Annotated[float, SI("time", gt=0, what="profile time")]


def _user_species(info: ValidationInfo | None) -> list[Species]:
    """The scenario's user-defined species, handed to validation by the loader (load.py)."""
    return list(((info.context if info is not None else None) or {}).get("user_species", []))


def _known_species(name: str, info: ValidationInfo) -> str:
    try:
        resolve(name, _user_species(info))
    except KeyError as exc:
        raise ValueError(exc.args[0]) from None
    return name


SpeciesName = Annotated[str, AfterValidator(_known_species)]


def _partition(value: object) -> float | dict[str, float] | None:
    """A positive number for every species, a mapping species -> positive number, or None (each
    species' own default: 1, or its species_definitions partition)."""
    check = parser("dimensionless", gt=0, what="partition coefficient")
    if value is None:
        return None
    if isinstance(value, dict):
        out = {}
        for key, v in value.items():
            try:
                out[str(key)] = check(v)
            except ValueError as exc:
                raise ScenarioError(str(key), str(exc)) from None
        return out
    return check(value)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------- parts


class FixedCharge(_Model):
    """Skin fixed charge: sign flips at the isoelectric point; value (mol/m^3, signed) at reference_pH."""

    isoelectric_point: PH
    charge_at_reference_pH: SignedConcentration
    reference_pH: PH = 7.4


#: the built-in mesher's fields of the geometry section, which a mesh file replaces
_EXTRUDER_FIELDS = (
    "width",
    "anode_width",
    "return_gap",
    "return_width",
    "surface_cells",
    "surface_grading",
    "growth",
    "max_size",
    "appendages",
)


class GeometrySection(_Model):
    """The ``geometry`` section: the 2D/3D skin patch under a finite electrode (iontosim/mesh/geometry.py
    says what each field means). Lengths with units here; the mesh layer gets SI floats."""

    class AppendageLayout(_Model):
        """Where sweat ducts and hair follicles cross the stratum corneum: a channel radius and either
        a lattice spacing or the channel centres (iontosim.mesh.geometry.Appendages)."""

        @staticmethod
        def _positions(value: object) -> object:
            """Each centre to SI: a length, or a list of them (an [x, y] pair; the mesh checks the shape)."""
            read = parser("length", ge=0, what="position")
            if not isinstance(value, list):
                return value  # the type check reports it
            return [[read(c) for c in p] if isinstance(p, list) else read(p) for p in value]

        radius: Length
        spacing: Length | None = None
        #: a length per channel (planar, axisymmetric), or an [x, y] pair of lengths (block)
        positions: Annotated[list[float | list[float]], BeforeValidator(_positions), Dim("length")] | None = None

    kind: Literal["column", "planar", "axisymmetric", "block"] = "planar"
    width: Length | None = None
    anode_width: Length | None = None
    return_gap: Length | None = None
    return_width: Length | None = None
    resolution: PositiveNumber = 1.0
    surface_cells: Annotated[int, Field(gt=0)] = 6
    surface_grading: PositiveNumber = 1.0
    growth: Annotated[float, BeforeValidator(parser("dimensionless", gt=1, le=2, what="growth factor"))] = 1.3
    max_size: Length | None = None
    appendages: AppendageLayout | None = None  # not the module's Appendages: their transport
    #: How each electrode passes its current (physics/electrodes.py): "uniform_current", the same
    #: current density everywhere on its face; or "equipotential", a metal of one potential over
    #: its face with the total current imposed, the current distributing itself (Ag/AgCl
    #: electrodes only: an inert one's reaction changes with polarity). Under the shipped gels the
    #: two agree to 1e-9, and under a 20 um one to 4e-6 (the skin's resistance dominates and the
    #: gel spreads the current; benchmarks/RESULTS.md); equipotential costs 15-50 % more time. It
    #: would matter where the gel's resistance nears the skin's (a dilute gel, broken skin).
    electrodes: Literal["uniform_current", "equipotential"] = "uniform_current"
    #: a tagged gmsh file meshing the patch instead of the built-in mesher: a .geo source (meshed
    #: with its sizes divided by `resolution`) or a .msh mesh; relative to the scenario file, the
    #: working directory or (meshes/NAME) the meshes of record (iontosim/mesh/tagged.py)
    mesh: str | None = None
    #: the length unit of the mesh file's coordinates (gmsh has none): m, mm, um
    mesh_unit: str = "m"
    #: region or boundary name -> the mesh file's physical group (its name or number), or a list
    #: of them that together make it; each defaults to its own name
    tags: dict[str, str | int | list[str | int]] = {}

    def to_geometry(self) -> Geometry:
        if self.mesh is None:
            return Geometry(**self.model_dump(exclude={"electrodes", "mesh", "mesh_unit", "tags"}))
        scale = self.mesh_scale()
        path = tagged.locate(self.mesh)
        tags = {k: tuple(str(g) for g in (v if isinstance(v, list) else [v])) for k, v in self.tags.items()}
        width, anode_width, return_gap, return_width = tagged.patch_shape(tagged.read(path, scale), tags, self.kind)
        return Geometry(
            kind=self.kind,
            resolution=self.resolution,
            mesh=str(path),
            mesh_scale=scale,
            tags=tags,
            width=width,
            anode_width=anode_width,
            return_gap=return_gap,
            return_width=return_width,
        )

    def places_appendages(self) -> bool:
        """Whether the patch has appendage channels: placed by `appendages`, or an appendages
        group in the mesh file."""
        if self.mesh is None:
            return self.appendages is not None
        geometry = self.to_geometry()
        return tagged.has_region(geometry, "appendages")

    def mesh_scale(self) -> float:
        """Metres per unit of the mesh file's coordinates (ScenarioError on mesh_unit)."""
        try:
            scale = to_si(f"1 {self.mesh_unit}", "length")
        except ValueError:
            raise ScenarioError("mesh_unit", f"{self.mesh_unit!r} is not a length unit (give m, mm or um)") from None
        if not scale > 0:
            raise ScenarioError("mesh_unit", f"{self.mesh_unit!r} is not a length unit")
        return scale

    @model_validator(mode="after")
    def _fits(self) -> GeometrySection:
        if self.mesh is not None:
            self.mesh_scale()
            for name in _EXTRUDER_FIELDS:  # given a value of its own (a resolved scenario writes defaults)
                if getattr(self, name) != type(self).model_fields[name].default:
                    raise ScenarioError(
                        name, "the mesh file sets the patch's shape and cells: leave this out with mesh"
                    )
            if self.kind == "column":
                raise ScenarioError("kind", "a mesh file makes a planar, axisymmetric or block patch")
        elif self.tags or self.mesh_unit != "m":
            raise ScenarioError("tags" if self.tags else "mesh_unit", "describes a mesh file: give geometry.mesh")
        try:
            self.to_geometry()
        except tagged.MeshFileError as exc:  # its field from the scenario's top, this one's from the section
            raise ScenarioError(exc.field.removeprefix("geometry."), exc.reason) from None
        except (ValueError, ValidationError) as exc:
            reason = exc.errors(include_url=False)[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
            raise ScenarioError("", reason.removeprefix("Value error, ")) from None
        return self


class Buffer(_Model):
    """An immobile buffer of a layer or pad, HB (charge acid_charge) <-> B + H+ at pKa; it takes up
    or gives protons where H+ is a species (inert electrodes)."""

    concentration: PositiveConcentration  # total, per pore volume
    pKa: PKa
    acid_charge: int = 0


class Lipids(_Model):
    """The intercellular lipids of a layer (the stratum corneum's): the neutral form of every drug
    with a log P takes a route through them, parallel to the aqueous one (physics/lipid_route.py)."""

    #: volume fraction of the layer the lipids fill
    volume_fraction: Fraction


class Layer(_Model):
    """One skin layer, top (electrode side) first."""

    name: str
    thickness: Length
    pH: PH
    porosity: Fraction = 1.0
    diffusivity_factor: PositiveNumber = 1.0
    pore_radius: Length | None = None
    partition: Annotated[float | dict[str, float] | None, BeforeValidator(_partition)] = None
    fixed_charge: FixedCharge | None = None
    clearance_rate: Rate = 0.0
    buffer: Buffer | None = None
    #: the lipid route of neutral drug forms (the stratum corneum's lipids)
    lipids: Lipids | None = None
    cells: Annotated[int, Field(gt=0)] | None = None
    grading: PositiveNumber = 1.0

    def partition_of(self, species_name: str, default: float = 1.0) -> float:
        """Tissue/water partition coefficient of ``species_name``; `default` (the species' own, 1.0
        unless a user definition says otherwise) where the layer does not give one."""
        if isinstance(self.partition, dict):
            return self.partition.get(species_name, default)
        return default if self.partition is None else self.partition


#: names of regions that are not skin layers (model.py); a skin layer may not take them
RESERVED_REGION_NAMES = ("donor", "return_electrode", "appendages")


class Appendages(_Model):
    """Transport in the channels that appendages (sweat ducts, hair follicles) open through the
    top skin layer; where they are is geometry.appendages. Left out, a property is that of an
    open aqueous channel (porosity 1, free diffusion, no fixed charge, the top layer's pH): a
    modelling assumption, not a measured duct property."""

    name: Literal["appendages"] = "appendages"
    pH: PH | None = None
    porosity: Fraction = 1.0
    diffusivity_factor: PositiveNumber = 1.0
    pore_radius: Length | None = None
    partition: Annotated[float | dict[str, float] | None, BeforeValidator(_partition)] = None
    fixed_charge: FixedCharge | None = None

    def as_layer(self, top: Layer) -> Layer:
        """A layer as thick as the `top` skin layer it crosses, with these properties."""
        return Layer.model_construct(
            name=self.name,
            thickness=top.thickness,
            pH=top.pH if self.pH is None else self.pH,
            porosity=self.porosity,
            diffusivity_factor=self.diffusivity_factor,
            pore_radius=self.pore_radius,
            partition=self.partition,
            fixed_charge=self.fixed_charge,
            clearance_rate=0.0,
            buffer=None,
            lipids=None,
            cells=None,
            grading=1.0,
        )


class DonorContent(_Model):
    """What is put in the donor gel: an amount (kg, of the salt if given) or a concentration (mol/m^3)."""

    amount: Mass | None = None
    concentration: Concentration | None = None
    salt: str | None = None

    @model_validator(mode="after")
    def _one_of(self) -> DonorContent:
        if (self.amount is None) == (self.concentration is None):
            raise ScenarioError("", "give exactly one of 'amount' or 'concentration'")
        return self


class Donor(_Model):
    """The drug reservoir under its electrode: a gel (`finite_gel`, the patch's), a stirred solution
    of given volume (a Franz cell's donor chamber), or a reservoir whose composition is held
    (`fixed_reservoir`: replenished as fast as it is used, an "infinite dose"). Give its
    `thickness`, or for a solution its `volume` (the thickness is then volume / area)."""

    kind: Literal["finite_gel", "stirred_solution", "fixed_reservoir"] = "finite_gel"
    area: Area
    thickness: Length
    #: a stirred solution (or fixed reservoir) is mixed over its depth in this time; unset: 10 s,
    #: an estimate (magnetic stirring of a Franz cell's chamber of a few mL mixes it in seconds)
    mixing_time: Duration | None = None
    pH: PH
    diffusivity_factor: PositiveNumber = 1.0
    contents: dict[str, DonorContent]
    balance_with: str | None = None
    #: "Ag/AgCl" (reversible: Cl- out at the anode, in at the cathode) or "inert" (water
    #: electrolysis: H+ at the anode, OH- at the cathode; the species need H+ and OH-)
    electrode: Literal["Ag/AgCl", "inert"] = "Ag/AgCl"
    #: The donor electrode's role: "anode" drives cations into the skin, "cathode" anions. A
    #: step with reverse_every starts with this polarity.
    polarity: Literal["anode", "cathode"] = "anode"
    buffer: Buffer | None = None
    cells: Annotated[int, Field(gt=0)] | None = None

    @model_validator(mode="before")
    @classmethod
    def _thickness_from_volume(cls, data: Any) -> Any:
        if not isinstance(data, dict) or "volume" not in data:
            return data
        if "thickness" in data:
            raise ScenarioError("volume", "give the thickness or the volume, not both")
        values = {}
        for name in ("volume", "area"):
            try:
                values[name] = parser(name, gt=0, what=name)(data.get(name))
            except (ValueError, TypeError) as exc:
                raise ScenarioError(name, str(exc)) from None
        volume, area = values["volume"], values["area"]
        return {**{k: v for k, v in data.items() if k != "volume"}, "thickness": f"{volume / area!r} m"}

    @model_validator(mode="after")
    def _mixing(self) -> Donor:
        if self.kind == "finite_gel" and self.mixing_time is not None:
            raise ScenarioError("mixing_time", "a gel is not stirred: mixing_time is for a stirred_solution")
        if self.kind != "finite_gel" and self.mixing_time is None:
            self.mixing_time = 10.0
        return self

    def gel_volume(self) -> float:
        """Volume of the gel or solution, m^3."""
        return self.area * self.thickness

    def concentrations(self, species_by_name=get_species) -> dict[str, float]:
        """Initial mol/m^3 of each listed content (amount / molar mass of salt or species / volume).

        `species_by_name`: name -> Species (Scenario.species_by_name knows the user species too)."""
        out = {}
        for name, item in self.contents.items():
            if item.concentration is not None:
                out[name] = item.concentration
            else:
                out[name] = item.amount / species_by_name(name).salt_molar_mass(item.salt) / self.gel_volume()
        return out


class Fluid(_Model):
    """Interstitial fluid; YAML lists species directly (``Na+: 140 mM``) plus ``balance_with``."""

    concentrations: dict[str, Concentration] = {}
    balance_with: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _flat_form(cls, data: Any) -> Any:
        if isinstance(data, dict) and "concentrations" not in data:
            return {
                "concentrations": {k: v for k, v in data.items() if k != "balance_with"},
                **({"balance_with": data["balance_with"]} if "balance_with" in data else {}),
            }
        return data


class Electroosmosis(_Model):
    """Electroosmotic volume flow per charge (m^3/C) measured at reference_pH and reference_salt (mol/m^3)."""

    volume_per_charge: VolumePerCharge
    reference_pH: PH = 7.4
    reference_salt: PositiveConcentration = 154.0


class Clearance(_Model):
    """Dermal clearance; k = k_layer * (1 - max_effect * C_v/(C_v + EC50)) with hill exponent on C_v."""

    counter_ion: str | None = None
    vasoconstrictor: str | None = None
    max_effect: UnitInterval = 0.0
    EC50: PositiveConcentration = 1.0
    hill: PositiveNumber = 1.0


class Pharmacokinetics(_Model):
    """One-compartment systemic kinetics of a species: volume (m^3) and half-life (s)."""

    volume_of_distribution: Volume
    elimination_half_life: Duration


class Membrane(_Model):
    """What a Franz cell holds between its chambers, cut from the scenario's skin (top first):

    - stratum_corneum: the top layer alone (trypsin-separated stratum corneum);
    - heat_separated_epidermis: the layers above the first dermis layer (a layer whose name
      contains 'dermis' but not 'epidermis');
    - dermatomed: the skin down to `thickness`, the layer there cut short;
    - full_thickness: every layer but a hypodermis (excised skin freed of its fat: layers
      named 'hypodermis' or 'subcutis' are left out);
    - as_given: the skin section as written (a synthetic membrane, or skin already cut)."""

    #: stratum_corneum, heat_separated_epidermis, dermatomed, full_thickness or as_given (above)
    kind: Literal["stratum_corneum", "heat_separated_epidermis", "dermatomed", "full_thickness", "as_given"]
    #: a dermatomed membrane's thickness (the dermatome's setting), m
    thickness: Length | None = None

    @model_validator(mode="after")
    def _thickness(self) -> Membrane:
        if self.kind == "dermatomed" and self.thickness is None:
            raise ScenarioError("thickness", "a dermatomed membrane needs its thickness (e.g. 500 um)")
        if self.kind != "dermatomed" and self.thickness is not None:
            raise ScenarioError("thickness", f"a {self.kind} membrane takes its thickness from the skin layers")
        return self


class Sampling(_Model):
    """Receptor samples: at `times`, or `every` interval up to the end of the protocol, `volume` is
    withdrawn and replaced by fresh receptor fluid."""

    #: volume withdrawn at each sampling and replaced by fresh receptor fluid, m^3
    volume: Volume
    #: sample at this interval from the start, up to the protocol's end, s
    every: Duration | None = None
    #: or at these times, s
    times: list[ProfileTime] | None = None

    @model_validator(mode="after")
    def _one_schedule(self) -> Sampling:
        if (self.every is None) == (self.times is None):
            raise ScenarioError("", "give the sampling 'times' or 'every', one of them")
        return self


class Receptor(_Model):
    """A Franz cell's receptor chamber: well stirred, of given volume, at ground potential. Its fluid
    is the interstitial fluid's composition unless `contents` gives another."""

    #: the receptor chamber's volume, m^3
    volume: Volume
    #: its fluid, written like interstitial_fluid (left out: the interstitial fluid's composition)
    contents: Fluid | None = None
    #: samples taken with volume replacement
    sampling: Sampling | None = None


class Gel(_Model):
    """A gel phantom in place of the skin: a slab of agarose (or another fibre gel) soaked in the
    interstitial fluid's composition, without fixed charge, blood flow or systemic uptake. Its
    fibres obstruct diffusion: D_gel = D (1 - alpha phi) / (1 - phi) (GELTHEORY), phi the fibres'
    volume fraction, alpha 5/3 for randomly oriented rods."""

    #: the gel fibres' volume fraction phi (a 2 % w/v agarose gel is about 0.02 by mass)
    fibre_fraction: Fraction
    #: the slab's depth below the donor
    thickness: Length
    #: the gel's pH
    pH: PH = 7.4
    #: the obstruction coefficient alpha: 5/3 for randomly oriented rods (GELTHEORY)
    obstruction: PositiveNumber = 5.0 / 3.0
    #: numerics: cells across the slab (unset: the default cell size)
    cells: Annotated[int, Field(gt=0)] | None = None
    #: numerics: how much the cells grow from the top of the slab to its bottom
    grading: PositiveNumber = 1.0


class Setup(_Model):
    """The experiment the scenario reproduces.

    - in_vivo_patch (default): a patch on living skin; below the modelled skin the tissue holds
      the interstitial fluid; capillaries clear, a systemic model may follow the plasma.
    - franz_cell: a donor chamber (donor.kind), a membrane cut from the skin, a stirred receptor
      sampled on a schedule; no blood flow, so no clearance and no systemic model.
    - gel_phantom: the donor on a gel slab (`gel`) instead of skin: the drug's front in the gel
      against time (the penetration depth at every profile time).
    With `passive_control`, the run is repeated without current, and the enhancement reported.
    """

    #: in_vivo_patch (a patch on living skin), franz_cell (a diffusion cell in vitro) or
    #: gel_phantom (a gel slab in place of the skin)
    kind: Literal["in_vivo_patch", "franz_cell", "gel_phantom"] = "in_vivo_patch"
    #: a Franz cell's membrane, cut from the skin section
    membrane: Membrane | None = None
    #: a Franz cell's receptor chamber
    receptor: Receptor | None = None
    #: a gel phantom's gel
    gel: Gel | None = None
    #: run the experiment again without current and report the enhancement
    passive_control: bool = False

    @model_validator(mode="after")
    def _parts(self) -> Setup:
        if (self.kind == "gel_phantom") != (self.gel is not None):
            raise ScenarioError(
                "gel",
                "a gel_phantom needs its gel (fibre_fraction, thickness)"
                if self.gel is None
                else f"only a gel_phantom has a gel, not a {self.kind}",
            )
        if self.kind == "franz_cell":
            if self.receptor is None:
                raise ScenarioError("receptor", "a Franz cell needs its receptor (volume, and its sampling if any)")
            if self.membrane is None:
                raise ScenarioError(
                    "membrane",
                    "a Franz cell needs its membrane kind: stratum_corneum, heat_separated_epidermis, "
                    "dermatomed (with thickness), full_thickness or as_given",
                )
        else:
            for name in ("membrane", "receptor"):
                if getattr(self, name) is not None:
                    raise ScenarioError(name, f"only a franz_cell has a {name}, not an {self.kind}")
        return self


class Pulse(_Model):
    """Pulsed direct current: the step's current flows for duty_cycle of every period, then none."""

    frequency: Frequency
    duty_cycle: Fraction


#: protocol items that change the patch (no duration): take it off, put a fresh one on
PATCH_CHANGES = ("remove_patch", "new_patch")


def _step_text(step: Step) -> str:
    """One protocol step for people: "1.77 mA × 10 min", "50 min passive", "patch removed"."""
    if step.kind == "remove_patch":
        return "patch removed"
    if step.kind == "new_patch":
        return "new patch"
    current = step.current if step.current is not None else (step.current_density or 0.0) * 1e-4
    amps = f"{current * 1e3:.3g} mA" if step.current is not None else f"{current * 1e3:.3g} mA/cm²"
    extra = []
    if step.pulse is not None:
        extra.append(f"pulsed {step.pulse.duty_cycle:.0%}")
    if step.reverse_every is not None:
        extra.append(f"reversed every {duration_text(step.reverse_every)}")
    return f"{amps} × {duration_text(step.duration)}" + (f" ({', '.join(extra)})" if extra else "")


class Step(_Model):
    """One protocol step. YAML: {current: 1.77 mA, duration: 10 min}, {current_density: ..., duration: ...},
    {rest: 50 min}; a current step may add pulse: {frequency: 1 kHz, duty_cycle: 0.5} (current is
    then the on-current) and reverse_every: 5 min (polarity reversal).
    current_density (A/m^2, magnitude) is always set once the scenario is validated.

    Two items change the patch at an instant (duration 0): ``remove_patch`` takes the donor (and
    a meshed return pad) off the skin, which then has no flux across its surface and no current;
    ``new_patch`` puts on a fresh one, as the donor section describes it (replacing the one on)."""

    @staticmethod
    def _duration(value: object) -> float:
        """A time, positive (0 only for the patch changes, set by their short form)."""
        x = to_si(value, "time")
        if x < 0:
            raise ValueError(f"duration must be positive, got {value!r}")
        return x

    kind: Literal["current", "rest", "remove_patch", "new_patch"]
    duration: Annotated[float, BeforeValidator(_duration), Dim("time")]
    current: Current | None = None
    current_density: CurrentDensity | None = None
    pulse: Pulse | None = None
    reverse_every: Duration | None = None

    @property
    def changes_patch(self) -> bool:
        return self.kind in PATCH_CHANGES

    @model_validator(mode="before")
    @classmethod
    def _short_forms(cls, data: Any) -> Any:
        if isinstance(data, str) and data in PATCH_CHANGES:
            return {"kind": data, "duration": "0 s", "current_density": "0 A/m^2"}
        if not isinstance(data, dict) or "kind" in data:
            return data
        if "rest" in data:
            extra = sorted(str(k) for k in data if k != "rest")
            if extra:
                raise ScenarioError(extra[0], "a rest step is written {rest: <duration>} alone")
            try:
                seconds = parser("time", gt=0, what="duration")(data["rest"])
            except ValueError as exc:
                raise ScenarioError("rest", str(exc)) from None
            return {"kind": "rest", "duration": f"{seconds!r} s", "current_density": "0 A/m^2"}
        if "current" in data or "current_density" in data:
            return {"kind": "current", **data}
        raise ScenarioError(
            "",
            "a protocol step needs 'current' or 'current_density' (with 'duration'), 'rest', "
            "'repeat' with 'steps', or is one of " + ", ".join(repr(k) for k in PATCH_CHANGES),
        )

    @model_validator(mode="after")
    def _consistent(self) -> Step:
        if self.changes_patch:
            self.duration = 0.0
        elif not self.duration > 0:
            raise ScenarioError("duration", f"duration must be positive, got {self.duration!r} s")
        if self.kind != "current":
            for name in ("current", "current_density"):
                if getattr(self, name) not in (None, 0.0):
                    raise ScenarioError(name, f"a {self.kind.replace('_', ' ')} step carries no current")
            for name in ("pulse", "reverse_every"):
                if getattr(self, name) is not None:
                    raise ScenarioError(name, f"a {self.kind.replace('_', ' ')} step carries no current")
            self.current_density = 0.0
        elif self.current is None and self.current_density is None:
            raise ScenarioError("", "a current step needs 'current' or 'current_density'")
        for name in ("current", "current_density"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ScenarioError(
                    name, "give the magnitude; the sign comes from donor.polarity (anode or cathode) and reverse_every"
                )
        return self


class Numerics(_Model):
    """Discretisation and solver settings."""

    refinement: PositiveNumber = 1.0
    default_cells: Annotated[int, Field(gt=0)] = 24
    donor_cells: Annotated[int, Field(gt=0)] = 24
    dt_initial: Duration = 1e-3
    #: Longest time step. Unset: 30 s with step_control "iterations"; with "error", none beyond
    #: the protocol's own breakpoints (the error sets the step).
    dt_max: Duration | None = None
    dt_growth: Growth = 1.5
    #: How the time step is sized (solver/stepping.py): "iterations" grows it by dt_growth after
    #: easy Newton solves; "error" sizes it from an estimate of its local error in every species'
    #: amount in every region (not the profile: the penetration depth is not controlled),
    #: relative to step_tolerance, and takes a step again, shorter, when its error is above it.
    step_control: Literal["iterations", "error"] = "iterations"
    #: With step_control "error": the largest local error of a step, relative to each amount
    #: (plus 1e-3 of the species' whole amount).
    step_tolerance: Annotated[float, Field(gt=0, lt=1)] = 1e-3
    #: Time discretization: "backward_euler" (first order) or "bdf2" (second order, variable
    #: step; after a start, a switch of the current or a protocol event its first four steps are
    #: backward Euler, from numerics.dt_initial). The balances close to round-off with either.
    #: BDF2 is not monotone: on scenarios with H+ as a species it failed (benchmarks/RESULTS.md);
    #: with step_control "iterations" it is refused there, and past a patch taken off.
    time_scheme: Literal["backward_euler", "bdf2"] = "backward_euler"
    newton_tol: PositiveNumber = 1e-6
    newton_max_iter: Annotated[int, Field(gt=0)] = 25
    concentration_floor: Concentration = 1e-9
    #: Linear solver of each Newton step (iontosim/solver/newton.py; measured in
    #: benchmarks/RESULTS.md, "Linear solvers"):
    #: - direct LU: "petsc" (PETSc's own, one rank only: fastest for a 1D band), "mumps",
    #:   "superlu_dist". Exact, but their cost grows faster than the unknowns (2D ~N^1.5, 3D ~N^2).
    #: - "gmres_gamg": psi eliminated exactly (its block is diagonal: electroneutrality at the
    #:   vertices), the species rewritten as charge + composition per vertex so that the
    #:   potential's conductance Laplacian is a block of its own, then GMRES with algebraic
    #:   multigrid (GAMG) in two stages. Krylov iterations per Newton iteration 4.0 / 4.6 / 6.1
    #:   as a 2D patch's cells halve twice, 3.1 / 3.0 in 3D; LU's answers to 1e-10.
    #: - "gmres_asm": the same reduced system, GMRES with additive Schwarz/ILU(0): no multigrid
    #:   set-up, but its iterations grow with refinement (63 at 8 000 unknowns; more than 200 at
    #:   28 000): a fallback for small meshes only.
    #: - "auto": direct up to `direct_solver_limit` global unknowns ("petsc" for a 1D column on
    #:   one rank, as before; "mumps" on 2D/3D meshes, where it took half PETSc's LU time from
    #:   28 000 unknowns up, and on several ranks), "gmres_gamg" above.
    linear_solver: Literal["auto", "petsc", "mumps", "superlu_dist", "gmres_gamg", "gmres_asm"] = "auto"
    #: Global unknowns up to which "auto" factorizes. Unset: by mesh dimension, from the measured
    #: cost of MUMPS against gmres_gamg: 1D no limit (a band factorizes in O(N)); 2D 200 000
    #: (MUMPS was faster at every size measured, up to 103 000 unknowns, gamg taking 1.2x its
    #: time); 3D 20 000 (gamg took 0.72x MUMPS's time at 23 000 unknowns).
    direct_solver_limit: Annotated[int, Field(gt=0)] | None = None
    #: Krylov solvers: relative reduction of the residual asked of each solve (unset: 1e-8 for
    #: gmres_gamg, 1e-11 for gmres_asm: both kept the LU run's time steps and dose; asm at 1e-10
    #: did not, since Newton stops on the size of its update), and the iterations after which a solve
    #: counts as failed (the time step is then retried shorter, as after a Newton failure).
    krylov_rtol: Annotated[float, Field(gt=0, lt=1)] | None = None
    krylov_max_iter: Annotated[int, Field(gt=0)] = 200
    #: Krylov solvers: keep each preconditioner (and the change of variables it was built in)
    #: across Newton iterations and time steps, and build a new one only when a solve needs more
    #: than twice the Krylov iterations of the first solve with it (that solve is then done
    #: again). The answers are the same to the Krylov tolerance. Measured on a 3D block
    #: (88 000-302 000 unknowns, 1-2 ranks): a third to a half of the set-ups, twice the Krylov
    #: iterations, and 0.92-1.17x the time: no clear gain, so it is off (benchmarks/RESULTS.md).
    reuse_preconditioner: bool = False
    #: Flux between nodes: "fitted" (exact Scharfetter-Gummel flux along each edge, on the 1D
    #: column and on 2D/3D meshes: exact for a constant field; the default scenario is converged to
    #: 0.05 % at 128 stratum-corneum cells),
    #: "lumped" (arithmetic-mean concentration, first order: +1.6 % at 128 cells, but its Newton
    #: solves never failed), or "auto": fitted, and if its Newton solves fail (coarse meshes at
    #: strong fields, e.g. 4x the LidoSite current) the run is redone with lumped, with a warning.
    flux: Literal["auto", "fitted", "lumped"] = "auto"
    #: Pulses with a shorter period act as their mean current (solver/protocol.py says why).
    min_resolved_pulse_period: Duration = 1.0

    @model_validator(mode="after")
    def _dt_order(self) -> Numerics:
        if self.dt_max is not None and self.dt_max < self.dt_initial:
            raise ScenarioError("dt_max", f"must be >= dt_initial ({self.dt_initial!r} s)")
        return self

    def max_step(self, protocol_end: float) -> float:
        """The longest time step [s] of a run whose protocol ends at `protocol_end` [s]."""
        if self.dt_max is not None:
            return self.dt_max
        return 30.0 if self.step_control == "iterations" else max(protocol_end, self.dt_initial)


def _threshold(value: object) -> float:
    try:
        x = to_si(value, "concentration")
    except ValueError as exc:
        if "expected a concentration" in str(exc):
            raise ValueError(
                f"expected a concentration such as '5 uM' or a mass concentration such as '1 ug/mL', got {value!r}"
            ) from None
        raise
    if not x > 0:
        raise ValueError(f"threshold must be positive, got {value!r}")
    return x


class Outputs(_Model):
    """What to record: profile times (s) and the drug concentration (mol/m^3) defining penetration depth."""

    profile_times: list[ProfileTime]
    penetration_threshold: Annotated[float, BeforeValidator(_threshold), Dim("concentration")]
    #: depths at which to report the drug's interstitial concentration over time, where a
    #: microdialysis probe or a biopsy slice samples it (summary: concentration_at_depth_ug_per_mL)
    sampling_depths: list[Length] = []
    #: the concentration the drug acts above (an anaesthetic's nerve-blocking one): the summary
    #: reports the deepest skin depth it reaches (effective_depth_um)
    effective_concentration: Annotated[float, BeforeValidator(_threshold), Dim("concentration")] | None = None


# ---------------------------------------------------------------- protocol repeat


#: protocol steps after repeats are expanded: far above any clinical protocol, and a guard
#: against a typo (repeat: 1000000000 built a billion steps before any other check)
MAX_PROTOCOL_STEPS = 10_000


def expand_protocol(steps: Any, path: str = "protocol") -> tuple[Any, list[str]]:
    """Expand ``{repeat: N, steps: [...]}`` items in place; also return each step's original path."""
    if not isinstance(steps, list):
        return steps, []
    out: list[Any] = []
    origins: list[str] = []
    for i, item in enumerate(steps):
        where = join_path(path, i)
        if isinstance(item, dict) and "repeat" in item:
            extra = sorted(str(k) for k in item if k not in ("repeat", "steps"))
            if extra:
                raise ScenarioError(join_path(where, extra[0]), "a repeat block has only 'repeat' and 'steps'")
            n = item["repeat"]
            if isinstance(n, bool) or not isinstance(n, int) or n < 1:
                raise ScenarioError(join_path(where, "repeat"), f"must be a positive integer, got {n!r}")
            if not isinstance(item.get("steps"), list) or not item["steps"]:
                raise ScenarioError(join_path(where, "steps"), "a repeat block needs a non-empty list of steps")
            inner, inner_origins = expand_protocol(item["steps"], join_path(where, "steps"))
            if len(out) + n * len(inner) > MAX_PROTOCOL_STEPS:
                raise ScenarioError(
                    join_path(where, "repeat"),
                    f"{n} repeats make more than {MAX_PROTOCOL_STEPS} protocol steps; give fewer",
                )
            for _ in range(n):
                out.extend(copy.deepcopy(inner))
                origins.extend(inner_origins)
        else:
            out.append(item)
            origins.append(where)
    return out, origins


class Safety(_Model):
    """Limits the run is checked against (summary.json "safety" and the terminal)."""

    #: 0.5 mA/cm^2: "a continuous direct current of 0.5 mA/cm2 or less" (MYLES_OCULAR)
    max_current_density: Annotated[float, SI("current_density", gt=0, what="current density limit")] = 5.0
    #: 10 V: "low voltage (10 V or less)" (MYLES_OCULAR); set it to the device's compliance voltage
    device_voltage_limit: Voltage = 10.0
    #: the dose the protocol is meant to give (e.g. 40 mA.min); the run reports its own charge against it
    stated_dose: Charge | None = None
    #: pH range at the skin surface that buffered solutions of pH 4.0 to 10.5 kept free of
    #: significant irritation (MURAHATA1988); checked when the scenario has H+
    skin_pH_range: tuple[PHValue, PHValue] = (4.0, 10.5)
    #: On a 2D/3D patch the local current density is checked as its mean over this lateral length
    #: (a window of this width, a square of this side on a block), where it is largest. The peak
    #: of single cells grows as the mesh is refined at an electrode edge or a duct; the mean over a
    #: stated length converges. 1 mm is an estimate, not a standard (none found states an
    #: averaging area): about the thickness of the dermis the current spreads through
    #: (docs/derivations.md#estimates). A window as wide as the modelled patch sees only the mean
    #: density; the run says so.
    local_averaging_length: Length = 1e-3


# ---------------------------------------------------------------- scenario


class Scenario(_Model):
    """A complete, validated simulation scenario (SI floats). Build it with iontosim.scenario.load_scenario."""

    name: str
    description: str = ""
    temperature: Temperature = 310.15
    #: drugs that are not built in, in the config language (scenario/species_definitions.py)
    species_definitions: dict[str, SpeciesDefinition] = {}
    drug: SpeciesName
    species: list[SpeciesName]
    donor: Donor
    #: The pad under the return electrode (its polarity is the donor's opposite). On a 2D/3D
    #: patch it sits on the skin at geometry.return_gap and takes the current back; in 1D it is
    #: solved as a column of its own with the opposite current. Without it the deep tissue is
    #: the return.
    return_electrode: Donor | None = None
    interstitial_fluid: Fluid
    skin: Annotated[list[Layer], Field(min_length=1)]
    electroosmosis: Electroosmosis | None = None
    #: the 2D/3D patch (`iontosim mesh`); the 1D solver uses the column under the anode
    geometry: GeometrySection | None = None
    #: transport in the appendage channels of geometry.appendages
    appendages: Appendages = Field(default_factory=lambda: Appendages())
    #: Weak acids and bases (Henderson-Hasselbalch): "weak_electrolyte" transports both forms, each
    #: layer's buffered pH fixing their ratio; "strong_electrolyte" transports the ionized form alone.
    ionization: Literal["weak_electrolyte", "strong_electrolyte"] = "weak_electrolyte"
    #: "fixed": each region keeps its pH (a parameter; fastest). "moving": H+ and OH- are
    #: transported (added to species when not listed), every region's pH is its own outcome, held
    #: by its buffers: the fixed charge titrates about the isoelectric point with the local pH,
    #: weak electrolytes ionize at the local pH, and the formulation's pH reaches the skin.
    pH_model: Literal["fixed", "moving"] = "fixed"
    safety: Safety = Field(default_factory=lambda: Safety())
    clearance: Clearance
    systemic: dict[str, Pharmacokinetics] = {}
    protocol: Annotated[list[Step], Field(min_length=1)]
    #: the experiment: a patch in vivo (default) or a Franz diffusion cell
    setup: Setup = Field(default_factory=lambda: Setup())
    numerics: Numerics = Field(default_factory=Numerics)
    outputs: Outputs
    provenance: dict[str, str] = {}

    # -- derived views

    _user_species: list[Species] = PrivateAttr(default_factory=list)

    def species_by_name(self, name: str) -> Species:
        """A built-in species or one of this scenario's species_definitions."""
        return resolve(name, self._user_species)

    def species_objects(self) -> list[Species]:
        """Species for ``self.species`` (built-in or user-defined), in the same order."""
        return [self.species_by_name(name) for name in self.species]

    def definition_of(self, name: str) -> SpeciesDefinition | None:
        return self.species_definitions.get(name)

    def _check_return_area(self, geometry) -> None:
        """On a patch the mesh fixes the two electrodes' area ratio; the pads' areas must agree."""
        if self.return_electrode is None:
            return
        anode, inner, outer = geometry.edges
        # planar and block model a mirrored section: a strip (square) anode between two return strips
        ratio = (outer**2 - inner**2) / anode**2 if geometry.kind == "axisymmetric" else (outer - inner) / anode
        expected = ratio * self.donor.area
        if abs(self.return_electrode.area - expected) > 1e-3 * expected:
            shape = {
                "axisymmetric": "a ring around the disc anode",
                "planar": "two strips, one on each side of the strip anode",
                "block": "two pads, one on each side of the square anode",
            }[geometry.kind]
            raise ScenarioError(
                "return_electrode.area",
                f"the geometry makes the return electrode {shape}, "
                f"{expected * 1e4:.4g} cm^2 for a {self.donor.area * 1e4:.4g} cm^2 anode, "
                f"not {self.return_electrode.area * 1e4:.4g} cm^2: make the two agree",
            )

    def appendage_layer(self) -> Layer:
        """The appendage channels as a layer across the top skin layer (model.py)."""
        return self.appendages.as_layer(self.skin[0])

    def protocol_end(self) -> float:
        """Total protocol duration, s."""
        return sum(step.duration for step in self.protocol)

    def protocol_text(self, most: int = 3) -> str:
        """The protocol for people, as titles and the terminal show it: "1.77 mA × 10 min, then
        50 min passive"; repeated step pairs are counted, and past `most` parts the rest is summed."""
        parts: list[str] = []
        passive = 0.0  # adjacent passive steps (rests, zero currents) read as one
        for step in self.protocol:
            if step.kind == "rest" or (step.kind == "current" and not step.current_density):
                passive += step.duration
                continue
            if passive:
                parts.append(f"{duration_text(passive)} passive")
                passive = 0.0
            parts.append(_step_text(step))
        if passive:
            parts.append(f"{duration_text(passive)} passive")
        grouped: list[str] = []
        i = 0
        while i < len(parts):
            pair, n = parts[i : i + 2], 1
            while len(pair) == 2 and parts[i + 2 * n : i + 2 * n + 2] == pair:
                n += 1
            if n > 1:
                grouped.append(f"{n} × ({', '.join(pair)})")
                i += 2 * n
            else:
                grouped.append(parts[i])
                i += 1
        if len(grouped) > most:
            grouped = grouped[:most] + [f"… ({duration_text(self.protocol_end())} in all)"]
        return ", then ".join(grouped)

    def resolved_dict(self) -> dict[str, Any]:
        """Plain nested dict (YAML-dumpable) with defaults filled in, quantities as SI strings
        ("1.8e-05 m") and {value, source/estimate, note} kept where the config gave them.
        Loading it again gives an equal Scenario."""
        return _dump_model(self, "", self.provenance)

    # -- validation

    @model_validator(mode="before")
    @classmethod
    def _prepare(cls, data: Any, info: ValidationInfo) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if "protocol" in data:
            data["protocol"], _ = expand_protocol(data["protocol"])
        if data.get("pH_model") == "moving" and isinstance(data.get("species"), list):
            data["species"] = data["species"] + [n for n in ("H+", "OH-") if n not in data["species"]]
        out = data.get("outputs")
        if isinstance(out, dict):
            out = dict(out)
            for key in ("penetration_threshold", "effective_concentration"):  # ug/mL -> mol/m^3
                if isinstance(out.get(key), str):
                    out[key] = _molar_threshold(out[key], data.get("drug"), _user_species(info))
            data["outputs"] = out
        return data

    @model_validator(mode="after")
    def _cross_checks(self, info: ValidationInfo) -> Scenario:
        # the loader registered the definitions with their sources; a direct model_validate did not
        self._user_species = _user_species(info) or register(self.species_definitions)
        for i, name in enumerate(self.species):
            if name in self.species[:i]:
                raise ScenarioError(f"species[{i}]", f"{name!r} is listed twice")
        self._need(self.drug, "drug", "drug")
        self._check_pads()
        self._check_water()
        self._check_return_electrode()
        low, high = self.safety.skin_pH_range
        if low >= high:
            raise ScenarioError("safety.skin_pH_range", "give [lowest, highest] with lowest < highest")
        self._check_tissue()
        self._check_geometry()
        self._need(self.clearance.vasoconstrictor, "clearance.vasoconstrictor")
        for name in self.systemic:
            self._need(name, f"systemic.{name}")
        self._check_protocol()
        self._check_profile_times()
        self._check_setup()
        self._check_time_scheme()
        self._check_column_size()
        return self

    def column_cells(self) -> list[tuple[str, int]]:
        """Cells of the 1D column's donor, then of each skin layer, with the field that sets each:
        the part's own `cells` or the numerics default, times numerics.refinement (at least 1)."""
        num = self.numerics
        given = [("donor.cells", self.donor.cells) if self.donor.cells else ("numerics.donor_cells", num.donor_cells)]
        for i, layer in enumerate(self.skin):
            given.append(
                (f"skin[{i}].cells", layer.cells) if layer.cells else ("numerics.default_cells", num.default_cells)
            )
        return [(field, max(1, round(n * num.refinement))) for field, n in given]

    def _check_time_scheme(self) -> None:
        """BDF2 needs every stored amount on the same time levels: a receptor's is not yet. With
        the iterations rule it is refused where it was measured to fail (benchmarks/RESULTS.md,
        "Time steps: BDF2 and error control"): not monotone at the stiff switch-on layers of H+,
        and the first step after a patch is taken off failed at every step size."""
        num = self.numerics
        if num.time_scheme != "bdf2":
            return
        if self.setup.kind == "franz_cell":
            raise ScenarioError(
                "numerics.time_scheme", "bdf2 is not available with a Franz cell's receptor yet: use backward_euler"
            )
        if num.step_control != "iterations":
            return
        if "H+" in self.species:
            raise ScenarioError(
                "numerics.time_scheme",
                "bdf2 with step_control 'iterations' is not monotone where H+ is a species (on "
                "acetic_acid_cathodal its charge balance was off by 0.004): use backward_euler",
            )
        removed = [k for k, step in enumerate(self.protocol) if step.kind == "remove_patch"]
        if removed:
            raise ScenarioError(
                "numerics.step_control",
                f"bdf2's first step after the patch is taken off (protocol[{removed[0]}]) fails at every step "
                "size with the 'iterations' rule: use step_control 'error', or backward_euler",
            )

    def _check_column_size(self) -> None:
        """The 1D column's cell count stays under MAX_COLUMN_CELLS, before any mesh is built."""
        if self.geometry is not None and self.geometry.kind != "column":
            return  # a patch's mesh: geometry.resolution, checked against --max-cells
        counts = self.column_cells()
        total = sum(n for _, n in counts)
        if total > MAX_COLUMN_CELLS:
            field = "numerics.refinement" if self.numerics.refinement > 1 else max(counts, key=lambda item: item[1])[0]
            raise ScenarioError(
                field,
                f"the 1D column would have {total} cells, more than {MAX_COLUMN_CELLS} "
                "(the shipped scenarios converge to 0.05 % with a few hundred)",
            )

    def _check_setup(self) -> None:
        """A Franz cell or a gel phantom: a 1D column; a Franz cell's membrane within the skin, its
        samples within the run."""
        setup = self.setup
        if setup.passive_control and self.protocol_charge() == 0:
            raise ScenarioError("setup.passive_control", "the protocol passes no current: there is nothing to compare")
        if setup.kind != "in_vivo_patch" and self.geometry is not None and self.geometry.kind != "column":
            what = {"franz_cell": "a Franz cell", "gel_phantom": "a gel phantom"}[setup.kind]
            raise ScenarioError("geometry", f"{what} is modelled as a 1D column: leave the geometry out")
        if setup.kind != "franz_cell":
            for where, pad in self._pads():
                if pad.kind != "finite_gel":
                    raise ScenarioError(f"{where}.kind", f"a {pad.kind} is a Franz cell's donor: set setup.kind")
            return
        if self.return_electrode is not None:
            raise ScenarioError(
                "return_electrode", "a Franz cell's return electrode sits in its receptor: leave the section out"
            )
        assert setup.membrane is not None  # Setup._parts
        try:
            membrane_layers(self.skin, setup.membrane)
        except ValueError as exc:
            where = "thickness" if setup.membrane.kind == "dermatomed" else "kind"
            raise ScenarioError(f"setup.membrane.{where}", str(exc)) from None
        receptor = setup.receptor
        assert receptor is not None  # Setup._parts
        for name in receptor.contents.concentrations if receptor.contents is not None else ():
            self._need(name, f"setup.receptor.contents.{name}")
        if receptor.contents is not None:
            self._need(receptor.contents.balance_with, "setup.receptor.contents.balance_with")
        sampling = receptor.sampling
        if sampling is None:
            return
        if sampling.volume >= receptor.volume:
            raise ScenarioError(
                "setup.receptor.sampling.volume",
                f"{sampling.volume * 1e6:.4g} mL is not less than the receptor's {receptor.volume * 1e6:.4g} mL",
            )
        for i, t in enumerate(sampling.times or []):
            if t > self.protocol_end() * (1 + 1e-12):
                raise ScenarioError(
                    f"setup.receptor.sampling.times[{i}]",
                    f"{t!r} s is after the end of the protocol ({self.protocol_end()!r} s)",
                )
            if i and t <= sampling.times[i - 1]:  # type: ignore[index]
                raise ScenarioError(f"setup.receptor.sampling.times[{i}]", "sampling times must be strictly increasing")

    def protocol_charge(self) -> float:
        """Charge the protocol passes per donor area, C/m^2 (magnitudes)."""
        return sum(step.duration * (step.current_density or 0.0) for step in self.protocol)

    def sampling_times(self) -> list[float]:
        """When the receptor is sampled [s] (none outside a Franz cell)."""
        receptor = self.setup.receptor
        if receptor is None or receptor.sampling is None:
            return []
        sampling = receptor.sampling
        if sampling.times is not None:
            return list(sampling.times)
        assert sampling.every is not None
        n = int(self.protocol_end() / sampling.every * (1 + 1e-12))
        return [sampling.every * (k + 1) for k in range(n)]

    def _need(self, name: str | None, where: str, what: str = "species") -> None:
        """`name` must be one of the scenario's species (ScenarioError at `where` otherwise)."""
        known = self.species
        if name is not None and name not in known:
            close = difflib.get_close_matches(str(name), known, n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ScenarioError(where, f"{what} {name!r} is not in species [{', '.join(known)}]{hint}")

    def _pads(self) -> list[tuple[str, Donor]]:
        return [
            (where, pad)
            for where, pad in (("donor", self.donor), ("return_electrode", self.return_electrode))
            if pad is not None
        ]

    def _check_pads(self) -> None:
        """The gels' contents and salts are known, and each electrode has the species its reaction needs."""
        for where, pad in self._pads():
            for name, item in pad.contents.items():
                self._need(name, f"{where}.contents.{name}")
                if item.salt is not None:
                    try:
                        self.species_by_name(name).salt_molar_mass(item.salt)
                    except KeyError as exc:
                        raise ScenarioError(f"{where}.contents.{name}.salt", exc.args[0]) from None
        self._need(self.donor.balance_with, "donor.balance_with")
        for where, pad in self._pads():
            for name in ELECTRODE_NEEDS[pad.electrode]:
                if name not in self.species:
                    raise ScenarioError(
                        f"{where}.electrode",
                        f"a{'n' if pad.electrode == 'inert' else ''} "
                        f"{pad.electrode} electrode needs {name!r} in species",
                    )
            self._check_neutral(where, pad.concentrations(self.species_by_name), pad.pH, pad.balance_with, pad)

    def _check_neutral(self, where: str, totals: dict[str, float], pH: float, balance_with: str | None, part) -> None:
        """A fluid must be electroneutral as filled: its `balance_with` species makes it so (and may
        not come out negative), or its contents must already be. The same charges as the model's
        starting compositions (model/compositions.py): each species' mean charge at the fluid's pH,
        H+ and OH- from the pH where they are species, an immobile buffer's charge where H+ is one."""
        from iontosim.physics.buffers import buffer_charge, region_buffer
        from iontosim.physics.ionization import effective_charge
        from iontosim.physics.water import neutral_pair

        totals = dict(totals)
        if "H+" in self.species and "OH-" in self.species:
            for name, value in zip(("H+", "OH-"), neutral_pair(pH)):
                totals.setdefault(name, value)
        weak = self.ionization == "weak_electrolyte"

        def charge(name: str) -> float:
            sp = self.species_by_name(name)
            return effective_charge(sp.charge, pH, sp.pKa, sp.acid_base) if weak else float(sp.charge)

        net = sum(charge(name) * c for name, c in totals.items() if name != balance_with)
        if "H+" in self.species:
            net += buffer_charge(totals.get("H+", 0.0), *region_buffer(part))
        scale = sum(abs(charge(name)) * c for name, c in totals.items()) or 1.0
        if balance_with is None:
            if abs(net) > 1e-6 * scale:
                raise ScenarioError(
                    f"{where}.balance_with",
                    f"the {where.replace('_', ' ')}'s contents carry a net charge of {net:+.4g} mol/m^3 at pH "
                    f"{pH:g}: name the counter-ion that makes it neutral (balance_with) or give it in contents",
                )
        elif charge(balance_with) == 0 or -net / charge(balance_with) < 0:
            raise ScenarioError(
                f"{where}.balance_with",
                f"{balance_with!r} cannot balance the {where.replace('_', ' ')}'s net charge of {net:+.4g} mol/m^3 "
                f"at pH {pH:g}: it would need a {'zero charge' if charge(balance_with) == 0 else 'negative amount'}; "
                "balance it with an ion of the opposite sign",
            )

    def _check_water(self) -> None:
        """Buffers need water's ions; H+ without OH- must be given in every fluid."""
        known = set(self.species)
        buffered = self._pads() + [(f"skin[{i}]", layer) for i, layer in enumerate(self.skin)]
        for where, part in buffered:
            if part.buffer is not None and not {"H+", "OH-"} <= known:
                raise ScenarioError(
                    f"{where}.buffer", "a buffer exchanges protons with water: add 'H+' and 'OH-' to species"
                )
        if "H+" not in known or "OH-" in known:
            return
        # without water, H+ comes only from what is given
        fluids: list[tuple[str, Fluid | Donor]] = [("interstitial_fluid", self.interstitial_fluid), *self._pads()]
        for where, fluid in fluids:
            written = fluid.concentrations if isinstance(fluid, Fluid) else fluid.contents
            if "H+" not in written and fluid.balance_with != "H+":
                raise ScenarioError(where, "give its H+ (or add 'OH-' to species: then H+ and OH- follow from its pH)")

    def _check_return_electrode(self) -> None:
        if self.return_electrode is None:
            return
        self._need(self.return_electrode.balance_with, "return_electrode.balance_with")
        opposite: Literal["anode", "cathode"] = "cathode" if self.donor.polarity == "anode" else "anode"
        if "polarity" in self.return_electrode.model_fields_set and self.return_electrode.polarity != opposite:
            raise ScenarioError(
                "return_electrode.polarity", f"must be the donor's opposite ({opposite}); or leave it out"
            )
        self.return_electrode.polarity = opposite

    def _check_tissue(self) -> None:
        """The interstitial fluid's and the layers' species are known; layer names are distinct and free."""
        for name in self.interstitial_fluid.concentrations:
            self._need(name, f"interstitial_fluid.{name}")
        self._need(self.interstitial_fluid.balance_with, "interstitial_fluid.balance_with")
        fluid = self.interstitial_fluid  # balanced at the deepest layer's pH, as the model does
        self._check_neutral("interstitial_fluid", fluid.concentrations, self.skin[-1].pH, fluid.balance_with, None)
        names: set[str] = set()
        for i, layer in enumerate(self.skin):
            if layer.name in names:
                raise ScenarioError(f"skin[{i}].name", f"duplicate layer name {layer.name!r}")
            if layer.name in RESERVED_REGION_NAMES:
                raise ScenarioError(
                    f"skin[{i}].name",
                    f"{layer.name!r} names a region of its own (the "
                    f"{layer.name.replace('_', ' ')}): call the layer otherwise",
                )
            names.add(layer.name)
            for name in layer.partition if isinstance(layer.partition, dict) else ():
                self._need(name, f"skin[{i}].partition.{name}")
            if layer.lipids is not None and self.pH_model == "fixed" and self.protocol_charge() > 0:
                # measured: lidocaine_only with SC lipids and a fixed pH reached 149 V after 0.7 s
                # (6.4 V without lipids): with the forms' ratio pinned and no H+ transported, the
                # lipids' uptake of the neutral form empties the layer of mobile counter-ions
                raise ScenarioError(
                    f"skin[{i}].lipids",
                    "under a current the lipid route needs pH_model: moving (with a fixed pH the "
                    "lipids' uptake of the neutral form empties the layer of counter-ions and the "
                    "voltage diverges)",
                )
        self._need(self.clearance.counter_ion, "clearance.counter_ion")
        for name in self.appendages.partition if isinstance(self.appendages.partition, dict) else ():
            self._need(name, f"appendages.partition.{name}")

    def _check_geometry(self) -> None:
        geometry = self.geometry
        if geometry is not None and geometry.electrodes == "equipotential":
            pads = [("donor", self.donor)] + (
                [("return_electrode", self.return_electrode)] if self.return_electrode else []
            )
            for where, pad in pads:
                if pad.electrode != "Ag/AgCl":
                    raise ScenarioError(
                        "geometry.electrodes",
                        f"equipotential needs Ag/AgCl electrodes, and {where}.electrode is {pad.electrode} (its "
                        "reaction changes with polarity); use uniform_current",
                    )
        if geometry is not None and geometry.mesh is not None:  # a MeshFileError names its field
            tagged.check(geometry.to_geometry(), [(la.name, la.thickness) for la in self.skin], self.donor.thickness)
        if self.appendages != Appendages() and (geometry is None or not geometry.places_appendages()):
            where = (
                "the mesh file has no appendages group (geometry.tags.appendages)"
                if geometry is not None and geometry.mesh is not None
                else "geometry.appendages does not place (radius and spacing or positions)"
            )
            raise ScenarioError("appendages", f"describes channels that {where}")
        if geometry is not None and geometry.kind != "column" and self.pH_model == "moving":
            # measured: a planar patch's surface current differs by 0.5 % between 1 and 2 ranks,
            # and with the lipid route and electroosmosis its first steps fail
            raise ScenarioError(
                "pH_model",
                f"the moving pH is verified on 1D columns only; a {geometry.kind} patch needs pH_model: fixed",
            )
        if geometry is None or geometry.return_gap is None:
            return
        if geometry.kind != "column":
            self._check_return_area(geometry.to_geometry())
        if self.return_electrode is None:
            raise ScenarioError(
                "return_electrode",
                "the geometry places a return electrode on the skin: "
                "describe its pad here (area, thickness, pH, contents)",
            )

    def _check_patch_changes(self) -> None:
        """A patch is on at the start; it must be on to carry a current or to be removed."""
        removed_at: int | None = None
        for k, step in enumerate(self.protocol):
            if step.kind == "remove_patch" and removed_at is not None:
                raise ScenarioError(f"protocol[{k}]", f"no patch is on to remove: protocol[{removed_at}] removed it")
            if step.kind == "current" and removed_at is not None:
                raise ScenarioError(
                    f"protocol[{k}]",
                    f"a current needs a patch on the skin: protocol[{removed_at}] removed it; "
                    "put one on with new_patch",
                )
            removed_at = k if step.kind == "remove_patch" else None if step.kind == "new_patch" else removed_at

    def _check_protocol(self) -> None:
        """Reversals slower than the resolved period; every current step's density from its current."""
        self._check_patch_changes()
        if self.protocol_end() <= 0:
            raise ScenarioError("protocol", "needs at least one step with a duration (current or rest)")
        for k, step in enumerate(self.protocol):
            if step.reverse_every is not None and step.reverse_every < self.numerics.min_resolved_pulse_period:
                raise ScenarioError(
                    f"protocol[{k}].reverse_every",
                    f"{step.reverse_every!r} s is below numerics.min_resolved_pulse_period "
                    f"({self.numerics.min_resolved_pulse_period!r} s): so fast a reversal passes no net charge",
                )
            if step.current is None:
                continue
            density = step.current / self.donor.area
            if step.current_density is not None and abs(step.current_density - density) > 1e-9 * max(
                abs(density), 1e-30
            ):
                raise ScenarioError(
                    f"protocol[{k}].current_density",
                    f"{step.current_density!r} A/m^2 disagrees with current/donor.area = {density!r} A/m^2",
                )
            step.current_density = float(f"{density:.15g}")

    def _check_profile_times(self) -> None:
        end = self.protocol_end()
        times = self.outputs.profile_times
        for i, t in enumerate(times):
            if t > end * (1 + 1e-12):
                raise ScenarioError(
                    f"outputs.profile_times[{i}]", f"{t!r} s is after the end of the protocol ({end!r} s)"
                )
            if i and t <= times[i - 1]:
                raise ScenarioError(f"outputs.profile_times[{i}]", "profile times must be strictly increasing")


def _molar_threshold(text: str, drug: Any, user: list[Species]) -> str:
    """Convert a mass-concentration threshold ('1 ug/mL') to mol/m^3 with the drug's molar mass."""
    try:
        q = parse_text(text)
    except Exception:
        return text  # the field validator reports it
    if q.dimensionality != parse_text(f"1 {DIMENSIONS['mass_concentration'][0]}").dimensionality:
        return text
    try:
        molar_mass = resolve(drug, user).molar_mass
    except (KeyError, TypeError):
        return text  # the 'drug' field reports the unknown drug
    kg_per_m3 = to_si(text, "mass_concentration")
    return f"{kg_per_m3 / molar_mass!r} mol/m^3"


# ---------------------------------------------------------------- resolved dict


def _dump_model(model: BaseModel, path: str, provenance: dict[str, str]) -> dict[str, Any]:
    if isinstance(model, Fluid):
        out = {
            name: _leaf(c, "concentration", join_path(path, name), provenance)
            for name, c in model.concentrations.items()
        }
        out["balance_with"] = _leaf(model.balance_with, None, join_path(path, "balance_with"), provenance)
        return out
    out = {}
    for name, info in type(model).model_fields.items():
        if name == "provenance":
            continue
        out[name] = _dump_value(getattr(model, name), dimension_of(info), join_path(path, name), provenance)
    return out


def _dump_value(value: Any, dim: str | None, path: str, provenance: dict[str, str]) -> Any:
    if isinstance(value, BaseModel):
        return _dump_model(value, path, provenance)
    if isinstance(value, list):
        return [_dump_value(v, dim, join_path(path, i), provenance) for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {k: _dump_value(v, dim, join_path(path, k), provenance) for k, v in value.items()}
    return _leaf(value, dim, path, provenance)


def _leaf(value: Any, dim: str | None, path: str, provenance: dict[str, str]) -> Any:
    if isinstance(value, float) and dim is not None:
        value = format_si(value, dim)
    if path in provenance:
        return {"value": value, **prov.parse(provenance[path])}
    return value
