"""Layered skin under a finite electrode: a gmsh mesh, read into DOLFINx with its tags.

The mesh is a tensor product built by extrusion: a point is extruded along x (and the lines along
y in 3D) through the lateral segments of `Geometry.lateral_sizes`, which makes the skin surface;
the surface is extruded down through every skin layer, its anode patches up through the donor
pad and, when asked, its return patches up through the return electrode's pad, with the depth
sizes of `Geometry.depth_sizes` and `Geometry.pad_sizes`. Extrusion puts every layer interface,
electrode edge and appendage channel edge exactly on cell boundaries and gives thin, flat
quadrilaterals (hexahedra in 3D) in the stratum corneum: a 3D patch with isotropic cells a few
micrometres wide would need millions of them.

Tags follow the 1D column (`iontosim.mesh.column`): cell tag = region index, the donor pad 0 and
skin layers 1..n top to bottom, then the return electrode's pad (if meshed) and the appendage
channels through the stratum corneum (if any), in that order; ANODE = column.ELECTRODE and
DEEP = column.DEEP. ANODE marks the top of the donor pad, i.e. the donor electrode (the cathode
under cathodal delivery); RETURN likewise the top of the return pad, or the skin under the return
electrode when that pad is not meshed. Mirror planes, the axis and the pads' side walls carry no
tag: the natural (no-flux) condition holds there. Coordinates are those of
`iontosim.mesh.geometry` (depth last, positive down).
The ``column`` kind carries the 1D column's tags plus DONOR_SKIN at the skin-surface vertex.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from iontosim._fenics import MPI, dolfinx

from .column import DEEP  # 1: top of the donor pad (the donor electrode); 2: bottom
from .column import ELECTRODE as ANODE
from .geometry import Geometry, LayerSpec

DONOR = 0  # cell tag of the donor pad; skin layer i (from 0, top first) has tag i + 1
RETURN_PAD = "return_electrode"  # region names of the cell tags after the skin layers
APPENDAGES = "appendages"

RETURN = 3  # the return electrode: top of its pad, or the skin under it when no pad is meshed
SKIN_SURFACE = 4  # free skin surface: under neither electrode
LATERAL = 5  # far lateral boundary of the skin (x = width, and y = width in 3D)
DONOR_SKIN = 6  # interior facets between the donor pad and the skin (flux into the skin)
RETURN_SKIN = 7  # interior facets between the return pad and the skin

BOUNDARY_NAMES = {
    ANODE: "anode",
    DEEP: "deep",
    RETURN: "return",
    SKIN_SURFACE: "skin_surface",
    LATERAL: "lateral",
    DONOR_SKIN: "donor_skin",
    RETURN_SKIN: "return_skin",
}


class MeshError(RuntimeError):
    """gmsh could not mesh the geometry (raised alike on every rank)."""


@dataclass
class SkinMesh:
    """A distributed skin mesh with its tags: cells by region, boundary facets by role."""

    mesh: dolfinx.mesh.Mesh
    cell_tags: dolfinx.mesh.MeshTags
    facet_tags: dolfinx.mesh.MeshTags
    geometry: Geometry
    #: cell tag -> region name: "donor" = 0 when there is a donor pad, the skin layers 1..n, then
    #: "return_electrode" when its pad is meshed and "appendages" when there are any
    regions: dict[int, str]
    #: facet tag -> boundary name, for the tags this mesh carries
    boundaries: dict[int, str]
    #: depth (m) of every boundary of the donor + skin stack, top to bottom (the first is
    #: -donor_thickness)
    interfaces: np.ndarray = field(repr=False)


@contextmanager
def _gmsh_model(name: str) -> Iterator[object]:
    """A fresh gmsh model, removed afterwards (the model current before it current again);
    gmsh is finalized only if we initialized it."""
    import gmsh

    owner = not gmsh.isInitialized()
    if owner:
        gmsh.initialize(readConfigFiles=False, interruptible=False)
    previous = None if owner else gmsh.model.getCurrent()
    gmsh.option.setNumber("General.Terminal", 0)
    gmsh.model.add(name)
    try:
        yield gmsh.model
    finally:
        gmsh.model.remove()
        if owner:
            gmsh.finalize()
        elif previous:
            gmsh.model.setCurrent(previous)


def _extrude(model, sources: list[tuple[int, int]], axis: int, sizes: np.ndarray):
    """Extrude `sources` by sum(sizes) along `axis`, one cell per size: (bodies, tops)."""
    shift = [0.0, 0.0, 0.0]
    shift[axis] = float(np.sum(sizes))
    heights = np.cumsum(np.abs(sizes)) / np.sum(np.abs(sizes))
    heights[-1] = 1.0
    out = model.geo.extrude(sources, *shift, numElements=[1] * len(sizes), heights=heights.tolist(), recombine=True)
    dim = sources[0][0] + 1
    # gmsh lists, per source: its translated copy ("top"), the swept entity, then side entities
    bodies = [i for i, (d, _) in enumerate(out) if d == dim]
    return [out[i] for i in bodies], [out[i - 1] for i in bodies]


def _surface_patches(model, geometry: Geometry, layers: Sequence[LayerSpec]):
    """The skin surface (depth 0) as (dimTag, lateral centre) patches, one per lateral segment
    (pair of segments in 3D): the centre says what lies on the patch and whether it is a channel."""
    patches: list[tuple[tuple[int, int], tuple[float, ...]]] = [((0, model.geo.addPoint(0.0, 0.0, 0.0)), ())]
    for axis in range(geometry.dim - 1):
        breaks = geometry.lateral_breaks(axis)
        sources = [p for p, _ in patches]
        swept = []
        for a, b, sizes in zip(breaks[:-1], breaks[1:], geometry.lateral_sizes(layers, axis)):
            bodies, sources = _extrude(model, sources, axis, sizes)
            swept += [(body, centre + (0.5 * (a + b),)) for body, (_, centre) in zip(bodies, patches)]
        patches = swept
    return patches


def _build_model(
    model, layers: Sequence[LayerSpec], donor_thickness: float, geometry: Geometry, return_thickness: float
):
    """Geometry, physical groups and mesh of the gmsh `model` (rank 0 only)."""
    depth_axis = geometry.dim - 1
    sizes = geometry.depth_sizes(layers, donor_thickness)
    skin_sizes = sizes[1:] if donor_thickness > 0 else sizes
    patches = _surface_patches(model, geometry, layers)
    role = [geometry.surface_role(*centre) for _, centre in patches]
    on = {r: [p for (p, _), pr in zip(patches, role) if pr == r] for r in ("anode", "return", "skin")}
    channel = geometry.in_appendage([centre for _, centre in patches])

    regions: list[tuple[int, str, list]] = []  # (cell tag, name, dimTags)
    tops = [p for p, _ in patches]
    channels = []
    for index, ((name, _), cells) in enumerate(zip(layers, skin_sizes)):
        bodies, tops = _extrude(model, tops, depth_axis, cells)
        if index == 0:  # the appendages cross the stratum corneum only
            channels = [body for body, inside in zip(bodies, channel) if inside]
            bodies = [body for body, inside in zip(bodies, channel) if not inside]
        regions.append((index + 1, name, bodies))
    facets = {DEEP: tops}
    if donor_thickness > 0:
        bodies, donor_tops = _extrude(model, on["anode"], depth_axis, -sizes[0][::-1])
        regions.insert(0, (DONOR, "donor", bodies))
        facets |= {ANODE: donor_tops, DONOR_SKIN: on["anode"]}
    else:
        facets[ANODE] = on["anode"]
    if return_thickness > 0 and on["return"]:
        pad = geometry.pad_sizes(layers, return_thickness)
        bodies, return_tops = _extrude(model, on["return"], depth_axis, -pad[::-1])
        regions.append((len(layers) + 1, RETURN_PAD, bodies))
        facets |= {RETURN: return_tops, RETURN_SKIN: on["return"]}
    else:
        facets[RETURN] = on["return"]
    if channels:
        regions.append((regions[-1][0] + 1, APPENDAGES, channels))
    facets[SKIN_SURFACE] = on["skin"]
    model.geo.synchronize()

    if geometry.dim > 1:  # the far lateral walls, found by where they are
        depth = sum(t for _, t in layers)
        width = geometry.width
        assert width is not None  # a lateral geometry (dim > 1) has a width
        tol = 1e-6 * min(float(np.min(s)) for s in sizes)
        big = 10 * (width + depth + donor_thickness + return_thickness)
        walls = []
        for axis in range(geometry.dim - 1):
            lo, hi = [-big] * 3, [big] * 3
            lo[axis], hi[axis] = width - tol, width + tol
            lo[depth_axis] = -tol
            walls += model.getEntitiesInBoundingBox(*lo, *hi, dim=geometry.dim - 1)
        facets[LATERAL] = walls

    for tag, name, bodies in regions:  # gmsh physical tags must be positive: store tag + 1
        model.addPhysicalGroup(geometry.dim, [t for _, t in bodies], tag=tag + 1, name=name)
    for tag, entities in facets.items():
        if entities:
            model.addPhysicalGroup(geometry.dim - 1, [t for _, t in entities], tag=tag, name=BOUNDARY_NAMES[tag])
    model.mesh.generate(geometry.dim)
    present = {tag: BOUNDARY_NAMES[tag] for tag, entities in facets.items() if entities}
    return {tag: name for tag, name, _ in regions}, present


def distribute(comm: MPI.Comm, gdim: int, make: Callable[[Any], Any]) -> tuple[Any, Any]:
    """Run `make(model)` on rank 0 of `comm` in a fresh gmsh model (it adds the physical groups,
    cell tag + 1 and facet tag, and meshes) and distribute the mesh: (the DOLFINx mesh data, what
    `make` returned, on every rank). Cells are ghosted across shared facets so that integrals over
    interior facets are right in parallel. A failure on rank 0 is raised on every rank (rather
    than leaving the others waiting): a MeshFileError as itself, anything else as MeshError."""
    from .tagged import MeshFileError

    with ExitStack() as stack:
        model, made = None, None
        error: tuple[str | None, str] | None = None
        if comm.rank == 0:
            try:
                model = stack.enter_context(_gmsh_model("skin"))
                made = make(model)
            except MeshFileError as exc:
                error = (exc.field, exc.reason)
            except Exception as exc:  # re-raised on every rank below
                error = (None, f"{type(exc).__name__}: {exc}")
        error = comm.bcast(error, root=0)
        if error is not None:
            field, reason = error
            raise MeshFileError(field, reason) if field else MeshError(f"gmsh could not mesh the skin: {reason}")
        partitioner = dolfinx.mesh.create_cell_partitioner(dolfinx.mesh.GhostMode.shared_facet, 2)
        data = dolfinx.io.gmsh.model_to_mesh(model, comm, 0, gdim=gdim, partitioner=partitioner)
    return data, comm.bcast(made, root=0)


def build_skin_mesh(
    comm: MPI.Comm,
    layers: Sequence[LayerSpec],
    donor_thickness: float,
    geometry: Geometry,
    return_thickness: float = 0.0,
) -> SkinMesh:
    """Mesh the skin `layers` ((name, thickness in m), top first) under a donor pad of
    `donor_thickness` m (0: none) and, if `geometry` has a return electrode, its pad of
    `return_thickness` m (0: none, the return electrode on the skin), distributed over `comm`.

    gmsh runs on rank 0 of `comm` only (`distribute`). A `geometry` with a mesh file is read from
    it instead (iontosim.mesh.tagged), its layers checked against `layers`.
    """
    layers = [(str(name), float(thickness)) for name, thickness in layers]
    if not layers or min(t for _, t in layers) <= 0 or donor_thickness < 0 or return_thickness < 0:
        raise ValueError(
            "need at least one skin layer, positive thicknesses, donor_thickness >= 0 and return_thickness >= 0"
        )
    return_thickness = float(return_thickness) if geometry.has_return_electrode else 0.0
    if geometry.mesh is not None:
        from .tagged import read_tagged

        data, (regions, boundaries) = distribute(
            comm, geometry.dim, lambda model: read_tagged(model, geometry, layers, donor_thickness)
        )
    else:
        data, (regions, boundaries) = distribute(
            comm, geometry.dim, lambda model: _build_model(model, layers, donor_thickness, geometry, return_thickness)
        )

    domain = data.mesh
    tdim = domain.topology.dim
    cells = dolfinx.mesh.meshtags(domain, tdim, data.cell_tags.indices, data.cell_tags.values - 1)
    cells.name = "regions"
    data.facet_tags.name = "boundaries"
    top = -donor_thickness if donor_thickness > 0 else 0.0
    interfaces = top + np.concatenate(
        [[0.0], np.cumsum(([donor_thickness] if donor_thickness > 0 else []) + [t for _, t in layers])]
    )
    return SkinMesh(domain, cells, data.facet_tags, geometry, regions, boundaries, interfaces)


def write_mesh(skin_mesh: SkinMesh, out_dir: str | Path) -> list[Path]:
    """Write `skin_mesh` with its tags to out_dir/mesh.xdmf (+ .h5) and a picture to
    out_dir/mesh.png (rank 0 draws it). Collective; returns the paths on every rank."""
    from .plot import plot_skin_mesh

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    domain = skin_mesh.mesh
    xdmf = out / "mesh.xdmf"
    with dolfinx.io.XDMFFile(domain.comm, xdmf, "w") as f:
        f.write_mesh(domain)
        f.write_meshtags(skin_mesh.cell_tags, domain.geometry)
        f.write_meshtags(skin_mesh.facet_tags, domain.geometry)
    png = out / "mesh.png"
    plot_skin_mesh(skin_mesh, png)
    domain.comm.barrier()  # the picture exists on return, whichever rank looks
    return [xdmf, xdmf.with_suffix(".h5"), png]
