"""The membrane of a Franz cell, cut from the scenario's skin, and the scenario a Franz cell solves.

Pure data (no DOLFINx): the schema checks a membrane with it, the model builds from it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from iontosim.scenario.schema import Layer, Membrane, Scenario

#: layer names of the subcutaneous fat that full-thickness excised skin is freed of
FAT = ("hypodermis", "subcutis")


def is_dermis(name: str) -> bool:
    return "dermis" in name and "epidermis" not in name and name not in FAT


def membrane_layers(skin: list[Layer], membrane: Membrane) -> list[Layer]:
    """The layers of `membrane` cut from `skin` (top first); ValueError when the skin cannot give it."""
    kind = membrane.kind
    if kind == "as_given":
        return list(skin)
    if kind == "stratum_corneum":
        return [skin[0]]
    if kind == "heat_separated_epidermis":
        first = next((k for k, layer in enumerate(skin) if is_dermis(layer.name)), None)
        if first is None or first == 0:
            raise ValueError(
                "heat separation splits the epidermis from the dermis: the skin needs a layer "
                "whose name contains 'dermis' below the epidermis"
            )
        return list(skin[:first])
    if kind == "full_thickness":
        kept = [layer for layer in skin if layer.name not in FAT]
        if not kept:
            raise ValueError("full-thickness skin leaves out the fat: the skin has nothing else")
        return kept
    if kind == "dermatomed":
        assert membrane.thickness is not None  # Membrane._thickness
        out, top = [], 0.0
        for layer in skin:
            if top + layer.thickness >= membrane.thickness * (1 - 1e-12):
                rest = membrane.thickness - top
                if rest > 1e-9 * membrane.thickness:
                    out.append(layer.model_copy(update={"thickness": rest}))
                return out
            out.append(layer)
            top += layer.thickness
        raise ValueError(
            f"a {membrane.thickness * 1e6:.4g} um cut is thicker than the skin it is cut from ({top * 1e6:.4g} um)"
        )
    raise ValueError(f"unknown membrane kind {kind!r}")


def modelled_scenario(scenario: Scenario) -> tuple[Scenario, list[str]]:
    """The scenario the model solves for its set-up, and what a reader of the results must know.

    A Franz cell keeps the membrane's layers only, without blood flow: no clearance and no
    systemic model (the scenario's settings for them are not used; a note says so)."""
    setup = scenario.setup
    if setup.kind == "gel_phantom":
        return gel_scenario(scenario)
    if setup.kind != "franz_cell":
        return scenario, []
    assert setup.membrane is not None  # Setup._parts
    layers = [
        layer.model_copy(update={"clearance_rate": 0.0}) for layer in membrane_layers(scenario.skin, setup.membrane)
    ]
    notes = []
    cleared = [layer.name for layer in membrane_layers(scenario.skin, setup.membrane) if layer.clearance_rate > 0]
    if cleared or scenario.systemic:
        unused = [f"the clearance of {', '.join(cleared)}"] if cleared else []
        unused += [f"systemic.{name}" for name in scenario.systemic]
        notes.append(f"a Franz cell has no blood flow: {' and '.join(unused)} are not used")
    return scenario.model_copy(update={"skin": layers, "systemic": {}}), notes


def gel_diffusivity_factor(fibre_fraction: float, obstruction: float) -> float:
    """D_gel / D of a fibre gel, (1 - alpha phi) / (1 - phi) (GELTHEORY)."""
    return (1.0 - obstruction * fibre_fraction) / (1.0 - fibre_fraction)


def gel_scenario(scenario: Scenario) -> tuple[Scenario, list[str]]:
    """A gel phantom: one layer of gel in place of the skin, no blood flow, no systemic model.

    The pore fluid fills 1 - phi of the gel, and the transport model's flux per area is
    diffusivity_factor x D x grad c: so the layer's porosity is 1 - phi and its diffusivity factor
    (1 - phi) D_gel / D = 1 - alpha phi, which makes the fluid's concentration diffuse with D_gel."""
    from iontosim.scenario.schema import Appendages, Layer

    gel = scenario.setup.gel
    assert gel is not None  # Setup._parts
    factor = gel_diffusivity_factor(gel.fibre_fraction, gel.obstruction) * (1.0 - gel.fibre_fraction)
    layer = Layer.model_construct(  # values already in SI, checked by the schema's Gel
        name="gel_phantom",
        thickness=gel.thickness,
        pH=gel.pH,
        porosity=1.0 - gel.fibre_fraction,
        diffusivity_factor=factor,
        cells=gel.cells,
        grading=gel.grading,
    )
    notes = ["a gel phantom: the skin layers, their clearance and the systemic model are not used"]
    return scenario.model_copy(update={"skin": [layer], "systemic": {}, "appendages": Appendages()}), notes
