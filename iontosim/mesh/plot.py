"""A picture of a skin mesh: cells coloured by layer, tagged boundaries in their own colours.

The pads and the skin layers take pastel colours; the return electrode's pad and the appendage
channels get colours of their own, so that they stand out of the layers around them.

Two panels show the (lateral, depth) section: all of it, and a zoom on the anode edge at the skin
surface, where the stratum corneum and the edge refinement are visible; a third zooms on the first
appendage channel the section cuts, if any. 3D meshes are shown by
their y = 0 mirror plane (cut through the anode and the return electrode) plus a top view of the
tagged facets facing up, with the appendage channels outlined. Every rank sends its owned entities
to rank 0, which draws.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from iontosim._fenics import dolfinx

from .skin_mesh import ANODE, APPENDAGES, DEEP, DONOR_SKIN, LATERAL, RETURN, RETURN_PAD, RETURN_SKIN, SKIN_SURFACE

if TYPE_CHECKING:
    from matplotlib.artist import Artist
    from matplotlib.typing import ColorType

    from .skin_mesh import SkinMesh

BOUNDARY_COLOURS = {
    ANODE: "tab:red",
    RETURN: "tab:blue",
    SKIN_SURFACE: "tab:green",
    DEEP: "black",
    LATERAL: "tab:orange",
    DONOR_SKIN: "tab:purple",
    RETURN_SKIN: "tab:cyan",
}
#: regions coloured by name rather than by their place in the stack
REGION_COLOURS = {RETURN_PAD: "silver", APPENDAGES: "gold"}


def _polygons(domain: dolfinx.mesh.Mesh, dim: int, entities: np.ndarray) -> np.ndarray:
    """Vertex coordinates (n, k, 3) of `entities`, in the order that walks round each polygon."""
    nodes = dolfinx.mesh.entities_to_geometry(domain, dim, entities.astype(np.int32))
    if nodes.shape[1] == 4 and dim == 2:  # DOLFINx quadrilaterals are numbered as a tensor product
        nodes = nodes[:, [0, 1, 3, 2]]
    return domain.geometry.x[nodes]


def _owned(domain: dolfinx.mesh.Mesh, tags: dolfinx.mesh.MeshTags) -> tuple[np.ndarray, np.ndarray]:
    """The tagged entities this rank owns (not its ghosts, which another rank draws) and their tags."""
    mine = tags.indices < domain.topology.index_map(tags.dim).size_local
    return tags.indices[mine], tags.values[mine]


def _section(sm: SkinMesh) -> tuple[list[np.ndarray], np.ndarray, np.ndarray, np.ndarray]:
    """This rank's (lateral, depth) section: cell polygons, their tags, tagged segments, their tags."""
    domain, tdim = sm.mesh, sm.mesh.topology.dim
    ct, ft = sm.cell_tags, sm.facet_tags
    cells, cell_values = _owned(domain, ct)
    facets, facet_values = _owned(domain, ft)
    if tdim == 1:  # a strip as wide as a fifth of the column
        x = _polygons(domain, 1, cells)[:, :, 0]
        w = 0.2 * (sm.interfaces[-1] - sm.interfaces[0])
        polys = [np.array([[0, a], [w, a], [w, b], [0, b]]) for a, b in x]
        depth = domain.geometry.x[dolfinx.mesh.entities_to_geometry(domain, 0, facets)][:, 0, 0]
        segments = np.array([[[0, d], [w, d]] for d in depth]).reshape(-1, 2, 2)
        return polys, cell_values, segments, facet_values
    if tdim == 2:
        polys = list(_polygons(domain, 2, cells)[:, :, :2])
        segments = _polygons(domain, 1, facets)[:, :, :2]
        return polys, cell_values, segments, facet_values
    # 3D: the faces on the y = 0 mirror plane, coloured by the layer of their cell
    span = sm.interfaces[-1] - sm.interfaces[0]
    plane = dolfinx.mesh.locate_entities_boundary(domain, 2, lambda p: np.abs(p[1]) < 1e-9 * span)
    plane = plane[plane < domain.topology.index_map(2).size_local]
    f2c = domain.topology.connectivity(2, 3)
    tag_of = np.full(domain.topology.index_map(3).size_local + domain.topology.index_map(3).num_ghosts, -1)
    tag_of[ct.indices] = ct.values
    polys = list(_polygons(domain, 2, plane)[:, :, [0, 2]])
    values = np.array([tag_of[f2c.links(f)[0]] for f in plane], dtype=np.int32)
    quads = _polygons(domain, 2, facets)
    edges, edge_values = [], []
    for quad, value in zip(quads, facet_values):  # the edge of each tagged face lying in y = 0
        on = np.abs(quad[:, 1]) < 1e-9 * span
        if on.sum() == 2:
            edges.append(quad[on][:, [0, 2]])
            edge_values.append(value)
    return polys, values, np.array(edges).reshape(-1, 2, 2), np.array(edge_values, dtype=np.int32)


def _top_view(sm: SkinMesh) -> tuple[list[np.ndarray], np.ndarray]:
    """3D: the tagged facets facing up (electrode, return, free surface), projected on (x, y)."""
    facets, values = _owned(sm.mesh, sm.facet_tags)
    keep = np.isin(values, [ANODE, RETURN, SKIN_SURFACE])
    return list(_polygons(sm.mesh, 2, facets[keep])[:, :, :2]), values[keep]


def _gather(comm, *parts):
    """Rank 0: each part concatenated over the ranks; others: None."""
    gathered = comm.gather(parts, root=0)
    if comm.rank != 0:
        return None
    return [sum((list(g[i]) for g in gathered), []) for i in range(len(parts))]


def plot_skin_mesh(sm: SkinMesh, path: str | Path) -> None:
    """Draw `sm` to `path` (PNG). Collective: every rank must call it; rank 0 writes the file."""
    comm = sm.mesh.comm
    section = _gather(comm, *_section(sm))
    top = _gather(comm, *_top_view(sm)) if sm.geometry.dim == 3 else None
    if comm.rank != 0:
        return

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection, PolyCollection
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    polys, cell_values, segments, facet_values = section
    cell_values, facet_values = np.asarray(cell_values), np.asarray(facet_values)
    stack = sorted(tag for tag, name in sm.regions.items() if name not in REGION_COLOURS)
    layer_colours: dict[int, ColorType] = {
        tag: plt.get_cmap("Pastel1" if len(stack) <= 9 else "tab20")(i) for i, tag in enumerate(stack)
    }
    layer_colours |= {tag: REGION_COLOURS[name] for tag, name in sm.regions.items() if name in REGION_COLOURS}
    anode, depth = (sm.geometry.edges[0] if sm.geometry.dim > 1 else 0.0), sm.interfaces
    # zoom: the donor's lowest part and the top two skin layers around the anode edge
    skin_top = depth[1] if depth[0] < 0 else depth[0]
    reach = 2.0 * (depth[min(len(depth) - 1, 3 if depth[0] < 0 else 2)] - skin_top)
    panels = [
        ("whole section", 1e3, "mm", None),
        ("anode edge", 1e6, "um", (anode - reach, anode + reach, -0.5 * reach, reach)),
    ]
    if sm.geometry.dim == 1:
        panels[1] = ("top of the column", 1e6, "um", (None, None, -0.5 * reach, reach))
    cut = [c[0] for c in sm.geometry.appendage_centres() if all(v == 0 for v in c[1:])]  # block: on y = 0
    if cut:
        half = max(reach, 2 * sm.geometry.appendage_half_width)
        x = max(cut, key=lambda c: c > 0)  # a whole channel if the section cuts one
        panels.append(("appendage channel", 1e6, "um", (max(x - half, 0.0), x + half, -0.5 * reach, reach)))
    elif sm.geometry.mesh is not None:  # a mesh file's appendages: wherever its cells are
        if sm.geometry.laterally_uniform:  # the anode's edge is the lateral wall: the top instead
            panels[1] = ("top of the skin", 1e6, "um", (None, None, -0.5 * reach, reach))
        tag = next((t for t, name in sm.regions.items() if name == APPENDAGES), None)
        corners = [p for p, v in zip(polys, cell_values) if v == tag]
        if corners:
            (x0, y0), (x1, y1) = (
                np.min([p.min(axis=0) for p in corners], axis=0),
                np.max([p.max(axis=0) for p in corners], axis=0),
            )
            margin = 0.25 * max(x1 - x0, y1 - y0)
            upper, lower = min(y0, 0.0) - margin, y1 + margin
            left = max(x0 - margin, 0.0)
            right = max(x1 + margin, left + 0.8 * (lower - upper))  # not a sliver
            panels.append(("appendages", 1e6, "um", (left, right, upper, lower)))

    ncols = len(panels) + (top is not None)
    fig, axes = plt.subplots(1, ncols, figsize=(5.0 * ncols + 2.5, 5.0), layout="constrained", squeeze=False)
    axes = axes[0]
    for ax, (title, scale, unit, window) in zip(axes, panels):
        ax.add_collection(
            PolyCollection(
                [p * scale for p in polys],
                linewidths=0.15,
                edgecolors="0.4",
                facecolors=[layer_colours[v] for v in cell_values],
            )
        )
        ax.add_collection(
            LineCollection(
                list(np.asarray(segments).reshape(-1, 2, 2) * scale),  # a sequence of lines, as documented
                linewidths=2.5,
                colors=[BOUNDARY_COLOURS[v] for v in facet_values],
            )
        )
        ax.autoscale_view()
        if window is not None:
            x0, x1, y0, y1 = window
            if x0 is not None:
                ax.set_xlim(x0 * scale, x1 * scale)
            ax.set_ylim(y0 * scale, y1 * scale)
        ax.invert_yaxis()  # depth grows downward, as on a histology slide
        lateral = {1: "", 2: "r" if sm.geometry.kind == "axisymmetric" else "x", 3: "x (y = 0 plane)"}
        ax.set(
            title=title,
            xlabel=f"{lateral[sm.geometry.dim]} [{unit}]" if sm.geometry.dim > 1 else "",
            ylabel=f"depth [{unit}]",
        )
        if sm.geometry.dim == 1:
            ax.set_xticks([])
        elif window is not None:
            ax.set_aspect("equal", adjustable="box")
    if top is not None:
        ax = axes[-1]
        faces, values = top
        ax.add_collection(
            PolyCollection(
                [f * 1e3 for f in faces],
                linewidths=0.15,
                edgecolors="0.4",
                facecolors=[BOUNDARY_COLOURS[v] for v in values],
                alpha=0.8,
            )
        )
        channels = [
            np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]]) * 1e3
            for (x0, x1), (y0, y1) in sm.geometry.appendage_footprints()
        ]
        if channels:  # under the surface facets: outline them
            ax.add_collection(
                PolyCollection(channels, linewidths=1.0, edgecolors="black", facecolors=REGION_COLOURS[APPENDAGES])
            )
        ax.autoscale_view()
        ax.set_aspect("equal")
        ax.set(title="electrode side, seen from above", xlabel="x [mm]", ylabel="y [mm]")

    handles: list[Artist] = [
        Patch(facecolor=layer_colours[t], edgecolor="0.4", label=f"{t}: {name}")
        for t, name in sorted(sm.regions.items())
    ]
    handles += [
        Line2D([], [], color=BOUNDARY_COLOURS[t], linewidth=2.5, label=f"{t}: {name}")
        for t, name in sorted(sm.boundaries.items())
    ]
    fig.legend(handles=handles, loc="outside right center", title="cell tags / facet tags", fontsize=8)
    cells = sm.mesh.topology.index_map(sm.mesh.topology.dim).size_global
    fig.suptitle(f"{sm.geometry.kind} skin mesh: {cells} cells")
    fig.savefig(path, dpi=150)
    plt.close(fig)
