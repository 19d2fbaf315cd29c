"""The regions of a model, by cell tag: the donor gel, the skin layers top first, and on a patch
the return electrode's pad and the appendage channels. Each region carries the material data the
fundamental relations need (porosity, pH, the partition and effective diffusivity of every
species); what a term adds (fixed charge, clearance, buffers...) the term reads off `spec`, the
region's part of the scenario.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from iontosim.library.species import Species
from iontosim.physics import transport
from iontosim.physics.constants import WATER_VISCOSITY_37C

#: region names that are not skin layers (the schema keeps skin layers from taking them)
DONOR, RETURN_PAD, APPENDAGES = "donor", "return_electrode", "appendages"


@dataclass(frozen=True)
class Region:
    """One region: its scenario part `spec` (a skin Layer, or a Donor for the pads) and the data
    every term reads. Units SI."""

    name: str
    tag: int
    spec: Any
    thickness: float  # m
    pH: float
    porosity: float
    partition: tuple[float, ...]  # tissue/water partition of each species
    diffusivity: tuple[float, ...]  # m^2/s, effective, of each species
    is_pad: bool  # an electrode's gel pad (free solution, no tissue)

    @property
    def is_skin(self) -> bool:
        return not self.is_pad


def region_names(scenario, skin_mesh=None) -> list[str]:
    """Name of each region by cell tag; a mesh brings its own (checked against the scenario)."""
    if skin_mesh is None:
        return [DONOR] + [layer.name for layer in scenario.skin]
    regions = skin_mesh.regions
    if sorted(regions) != list(range(len(regions))):
        raise ValueError(f"mesh region tags must be 0..{len(regions) - 1}, got {sorted(regions)}")
    names = [regions[tag] for tag in range(len(regions))]
    expected = [DONOR] + [layer.name for layer in scenario.skin]
    if names[: len(expected)] != expected:
        raise ValueError(
            f"the mesh's regions do not match the scenario's donor and skin layers: {names} against {expected}"
        )
    return names


def resolve_regions(scenario, species: list[Species], names: list[str]) -> list[Region]:
    """Every region's data, by cell tag."""
    skin = {layer.name: layer for layer in scenario.skin}
    out = []
    for tag, name in enumerate(names):
        if name == DONOR:
            out.append(_pad(scenario, scenario.donor, name, tag, species))
        elif name == RETURN_PAD:
            if scenario.return_electrode is None:
                raise ValueError("the mesh has a return-electrode pad: the scenario needs a return_electrode section")
            out.append(_pad(scenario, scenario.return_electrode, name, tag, species))
        elif name == APPENDAGES:
            out.append(_skin(scenario, scenario.appendage_layer(), tag, species))
        else:
            out.append(_skin(scenario, skin[name], tag, species))
    return out


def _pad(scenario, pad, name: str, tag: int, species: list[Species]) -> Region:
    """An electrode's gel pad: free solution at its pH."""
    d_aq = [sp.diffusivity(scenario.temperature) for sp in species]
    return Region(
        name=name,
        tag=tag,
        spec=pad,
        thickness=pad.thickness,
        pH=pad.pH,
        porosity=1.0,
        partition=tuple(1.0 for _ in species),
        diffusivity=tuple(pad.diffusivity_factor * d for d in d_aq),
        is_pad=True,
    )


def _skin(scenario, layer, tag: int, species: list[Species]) -> Region:
    """A skin layer (or the appendage channels): partition per species, diffusivity hindered in pores."""
    d_aq = [sp.diffusivity(scenario.temperature) for sp in species]
    hindrance = pore_hindrance(layer, d_aq, scenario.temperature)
    definitions = [scenario.definition_of(sp.name) for sp in species]  # user species carry a partition
    partition = tuple(layer.partition_of(sp.name, d.partition if d else 1.0) for sp, d in zip(species, definitions))
    return Region(
        name=layer.name,
        tag=tag,
        spec=layer,
        thickness=layer.thickness,
        pH=layer.pH,
        porosity=layer.porosity,
        partition=partition,
        diffusivity=tuple(layer.diffusivity_factor * h * d for h, d in zip(hindrance, d_aq)),
        is_pad=False,
    )


def pore_hindrance(layer, d_aq: list[float], temperature: float) -> list[float]:
    """Renkin hindrance of each species in the layer's pores (1 where the layer has no pore radius)."""
    if layer.pore_radius is None:
        return [1.0] * len(d_aq)
    return [
        transport.renkin_hindrance(transport.stokes_radius(d, temperature, WATER_VISCOSITY_37C), layer.pore_radius)
        for d in d_aq
    ]
