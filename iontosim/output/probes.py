"""Values of the state at chosen places: the depth profiles under the donor electrode's centre
line, the lowest concentration on an electrode's face. Collective over the model's communicator."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from iontosim._fenics import MPI, dolfinx
from iontosim.output.record import Profile

if TYPE_CHECKING:  # pragma: no cover
    from iontosim.model import Model


def lowest_on_face(model: Model, tag: int, species: int) -> float:
    """Lowest total concentration [mol/m^3] of `species` at the vertices of the facets tagged `tag`."""
    mesh = model.mesh
    fdim = mesh.topology.dim - 1
    mesh.topology.create_connectivity(fdim, 0)
    mesh.topology.create_connectivity(0, mesh.topology.dim)  # locate_dofs_topological on vertices
    vertices = dolfinx.mesh.compute_incident_entities(mesh.topology, model.column.facet_tags.find(tag), fdim, 0)
    V, _ = model.W.sub(species).collapse()
    on = dolfinx.fem.locate_dofs_topological(V, 0, vertices)
    totals = dolfinx.fem.Function(V)
    totals.x.array[:] = np.inf
    c = model.nodal_totals()[species]
    local = V.dofmap.list[: len(model.layer_of_cell)].ravel()
    np.minimum.at(totals.x.array, local, c)  # a vertex's value: the lowest over its cells
    lowest = float(np.min(totals.x.array[on], initial=np.inf))
    return model.comm.allreduce(lowest, op=MPI.MIN)


def depth_profile(model: Model, time: float) -> Profile | None:
    """Depth profiles under the donor electrode's centre line, gathered on rank 0 (None on the others)."""
    on_axis = model.vertex_lateral() <= 1e-12
    depth = model.vertex_depths()[on_axis]
    lay = model.nodal_layer[on_axis]
    psi = model.nodal_psi()[on_axis]
    c = model.nodal_totals()[:, on_axis]
    held = c * model.nodal.retardation[:, on_axis]  # free plus bound, per pore volume
    parts = model.comm.gather((depth, lay, c, held, psi), root=0)
    if model.comm.rank != 0:
        return None
    depth, lay, psi = (np.concatenate([p[k] for p in parts]) for k in (0, 1, 4))
    c, held = (np.concatenate([p[k] for p in parts], axis=1) for k in (2, 3))
    porosity = np.array([region.porosity for region in model.regions])[lay]
    order = np.lexsort((model.region_tops()[lay], depth))  # at an interface, the upper region first
    depth, lay, psi, porosity = depth[order], lay[order], psi[order], porosity[order]
    c, held = c[:, order], held[:, order]
    keep = np.ones(len(depth), dtype=bool)
    keep[1:] = ~((np.abs(np.diff(depth)) <= 1e-15 * max(1.0, abs(depth[-1]))) & (np.diff(lay) == 0))
    depth, c, held, psi, porosity = depth[keep], c[:, keep], held[:, keep], psi[keep], porosity[keep]
    return Profile(
        time=time,
        depth=depth,
        concentration={n: c[i] for i, n in enumerate(model.names)},
        tissue_concentration={n: porosity * held[i] for i, n in enumerate(model.names)},
        potential=psi * model.thermal_voltage(),
    )
