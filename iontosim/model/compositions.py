"""The compositions a run starts from: the donor gel (and the return electrode's pad) as filled,
over skin equilibrated with the interstitial fluid. Each fluid is made electroneutral with its
`balance_with` species, counting the mean charge of weak electrolytes and the charge of the
region's buffer at the fluid's pH.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from iontosim.physics import water

if TYPE_CHECKING:  # pragma: no cover
    from iontosim.model import Model


def body_fluid(model: Model) -> np.ndarray:
    """Interstitial fluid [mol/m^3, ionized forms], balanced, with the drug at the floor."""
    sc = model.scenario
    return balanced(model, sc.interstitial_fluid.concentrations, sc.interstitial_fluid.balance_with, model.deepest)


def donor_fluid(model: Model) -> np.ndarray:
    """Donor gel [mol/m^3, ionized forms] at its pH, balanced."""
    d = model.scenario.donor
    return balanced(model, d.concentrations(model.scenario.species_by_name), d.balance_with, 0)


def return_fluid(model: Model) -> np.ndarray:
    """The return electrode's pad [mol/m^3, ionized forms] at its pH, balanced."""
    pad = model.scenario.return_electrode
    return balanced(
        model,
        pad.concentrations(model.scenario.species_by_name),
        pad.balance_with,
        model.region_index("return_electrode"),
    )


def balanced(model: Model, given: dict, balance_with: str | None, region: int) -> np.ndarray:
    """The ionized forms [mol/m^3] of a fluid of totals `given` in `region` (at its pH), with
    `balance_with` set so that the fluid is neutral, every species at least at the floor."""
    from iontosim.physics.buffers import ImmobileBuffers

    floor = model.scenario.numerics.concentration_floor
    names = model.names
    c = np.array([given.get(n, 0.0) for n in names], dtype=float)  # totals
    if "H+" in names and "OH-" in names:  # H+ and OH- from the fluid's pH, unless given
        pair = water.neutral_pair(model.regions[region].pH)
        for name, value in zip(("H+", "OH-"), pair):
            c[names.index(name)] = given.get(name, value)
    q = model.mean_charges()[region]
    buffers = model.find(ImmobileBuffers)
    buffer = buffers.region_charge(region, c[names.index("H+")]) if buffers is not None else 0.0
    if balance_with is not None:
        j = names.index(balance_with)
        others = sum(q[i] * c[i] for i in range(model.ns) if i != j) + buffer
        c[j] = -others / q[j]
        if c[j] < 0:
            raise ValueError(f"{balance_with} cannot balance this composition (it would be negative)")
    total = np.maximum(c, floor)
    return total / (1.0 + model.partner_ratio[region])  # ionized forms


def initial_fields(model: Model) -> None:
    """mu of every species: body fluid in the skin, the gels in their pads; psi from electroneutrality.

    With a moving pH every skin region starts from the interstitial fluid brought to its own pH
    (its H+, OH- and ionized forms there; a node between two regions takes the deeper one's)."""
    from iontosim.physics.electroneutrality import update_potential

    donor, body = donor_fluid(model), body_fluid(model)
    pad = return_fluid(model) if "return_electrode" in model.region_names() else body
    skin = _skin_regions(model) if model.moving_pH else None
    for i in range(model.ns):
        Vi, _ = model.W.sub(i).collapse()
        f = _function(Vi)
        values = np.log([body[i], donor[i], pad[i]])
        f.interpolate(lambda x, values=values: values[initial_region(model, x)])
        if skin is not None:
            where = initial_region(model, Vi.tabulate_dof_coordinates().T)
            for dofs, fluid in skin:
                f.x.array[dofs[where[dofs] == 0]] = np.log(fluid[i])
        model.u.x.array[model.maps[i]] = f.x.array
    model.u.x.scatter_forward()
    update_potential(model)


def _skin_regions(model: Model) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per skin region, top first: the dofs of its cells (of the first species' space; every
    species' space numbers them alike) and the interstitial fluid at its pH [mol/m^3, ionized]."""
    sc = model.scenario
    Vi, _ = model.W.sub(0).collapse()
    out = []
    for region in model.regions:
        if region.is_pad:
            continue
        cells = np.flatnonzero(model.layer_of_cell == region.tag).astype(np.int32)
        dofs = np.unique(Vi.dofmap.list[cells].ravel())
        # the region's own pH sets its H+ and OH-, whatever the fluid's are
        given = {k: v for k, v in sc.interstitial_fluid.concentrations.items() if k not in ("H+", "OH-")}
        out.append((dofs, balanced(model, given, sc.interstitial_fluid.balance_with, region.tag)))
    return out


def _function(V):
    from iontosim._fenics import dolfinx

    return dolfinx.fem.Function(V)


def initial_region(model: Model, x: np.ndarray) -> np.ndarray:
    """0: skin, 1: donor pad, 2: return pad, for points `x` (3, n). The skin surface under a pad
    (depth 0; meshers leave it at +-1e-20) takes the pad's value, as the 1D column does."""
    above = x[model.depth_axis] <= 1e-9 * model.scenario.donor.thickness
    geo = model.geometry
    if geo is None or geo.kind == "column" or geo.laterally_uniform:
        return above.astype(int)
    anode, inner, outer = geo.edges
    tol = 1e-9 * geo.width
    beside = np.ones_like(above) if geo.kind != "block" else x[1] <= anode + tol  # y within the electrodes
    under_anode = above & beside & (x[0] <= anode + tol)
    under_return = above & beside & (x[0] >= inner - tol) & (x[0] <= outer + tol)
    return np.where(under_anode, 1, np.where(under_return, 2, 0))
