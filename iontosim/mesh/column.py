"""1D skin column: a graded interval mesh with one cell tag per layer.

Depth x [m] is measured down from the skin surface: the donor gel occupies [-L_donor, 0],
skin layers follow down to the deep boundary. Cell tags number the layers top to bottom
(donor = 0); facet tags mark the electrode (top) and the deep tissue boundary (bottom).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from iontosim._fenics import MPI, dolfinx

from .geometry import graded_layer

ELECTRODE = 1
DEEP = 2


@dataclass(frozen=True)
class LayerGeometry:
    """One layer of the column: name, thickness [m], number of cells, grading ratio."""

    name: str
    thickness: float
    cells: int
    grading: float = 1.0  # size of the last cell / size of the first (top) cell


@dataclass
class Column:
    mesh: dolfinx.mesh.Mesh
    cell_tags: dolfinx.mesh.MeshTags
    facet_tags: dolfinx.mesh.MeshTags
    layers: list[LayerGeometry]
    interfaces: np.ndarray  # m, depth of every layer boundary, top to bottom (len = n_layers + 1)


def layer_vertices(layers: list[LayerGeometry], top: float) -> tuple[np.ndarray, np.ndarray]:
    """Vertex depths and the layer index of every cell, with geometric grading inside each layer."""
    x = [top]
    cell_layer = []
    bounds = top + np.concatenate([[0.0], np.cumsum([layer.thickness for layer in layers])])
    for index, layer in enumerate(layers):
        n = layer.cells
        if n < 1:
            raise ValueError(f"layer {layer.name!r} needs at least one cell")
        sizes = graded_layer(layer.thickness, n, layer.grading)
        inner = bounds[index] + np.cumsum(sizes)[:-1]
        x.extend(inner)
        x.append(bounds[index + 1])  # interfaces exactly where the layers say
        cell_layer.extend([index] * n)
    return np.asarray(x), np.asarray(cell_layer, dtype=np.int32)


def build_column(comm: MPI.Comm, layers: list[LayerGeometry], top: float) -> Column:
    """Mesh a column of `layers` starting at depth `top` (negative when a donor sits above the skin)."""
    x, cell_layer = layer_vertices(layers, top)
    n_cells = len(x) - 1
    if comm.rank == 0:
        cells = np.stack([np.arange(n_cells), np.arange(1, n_cells + 1)], axis=1).astype(np.int64)
        points = x.reshape(-1, 1)
    else:
        cells = np.zeros((0, 2), dtype=np.int64)
        points = np.zeros((0, 1))
    import basix.ufl

    domain = dolfinx.mesh.create_mesh(comm, cells, basix.ufl.element("Lagrange", "interval", 1, shape=(1,)), points)
    interfaces = top + np.concatenate([[0.0], np.cumsum([layer.thickness for layer in layers])])

    # Tag cells by the layer their midpoint falls in (robust to the repartitioning create_mesh does).
    tdim = domain.topology.dim
    n_local = domain.topology.index_map(tdim).size_local
    local = np.arange(n_local, dtype=np.int32)
    mid = dolfinx.mesh.compute_midpoints(domain, tdim, local)[:, 0]
    tags = np.clip(np.searchsorted(interfaces, mid) - 1, 0, len(layers) - 1).astype(np.int32)
    cell_tags = dolfinx.mesh.meshtags(domain, tdim, local, tags)

    domain.topology.create_connectivity(tdim - 1, tdim)
    span = interfaces[-1] - interfaces[0]
    top_facets = dolfinx.mesh.locate_entities_boundary(
        domain, tdim - 1, lambda p: np.isclose(p[0], interfaces[0], atol=1e-9 * span)
    )
    deep_facets = dolfinx.mesh.locate_entities_boundary(
        domain, tdim - 1, lambda p: np.isclose(p[0], interfaces[-1], atol=1e-9 * span)
    )
    facets = np.concatenate([top_facets, deep_facets]).astype(np.int32)
    values = np.concatenate([np.full(len(top_facets), ELECTRODE), np.full(len(deep_facets), DEEP)]).astype(np.int32)
    order = np.argsort(facets)
    facet_tags = dolfinx.mesh.meshtags(domain, tdim - 1, facets[order], values[order])
    return Column(domain, cell_tags, facet_tags, layers, interfaces)
