"""Layered skin under a finite electrode: a gmsh mesh, read into DOLFINx with its tags.

The mesh is a tensor product built by extrusion: a point is extruded along x (and the lines along
y in 3D) through the lateral segments of `Geometry.lateral_sizes`, which makes the skin surface;
the surface is extruded down through every skin layer, and its anode patch up through the donor
pad, with the depth sizes of `Geometry.depth_sizes`. Extrusion puts every layer interface and
electrode edge exactly on cell boundaries and gives thin, flat quadrilaterals (hexahedra in 3D)
in the stratum corneum: a 3D patch with isotropic cells a few micrometres wide would need
millions of them.

Tags follow the 1D column (`iontosim.mesh.column`): cell tag = region index, the donor pad 0 and
skin layers 1..n top to bottom; ANODE = column.ELECTRODE and DEEP = column.DEEP. ANODE marks the
top of the donor pad, i.e. the donor electrode (the cathode under cathodal delivery). Mirror
planes, the axis and the donor pad's side walls carry no tag: the natural (no-flux) condition
holds there. Coordinates are those of `iontosim.mesh.geometry` (depth last, positive down).
The ``column`` kind carries the 1D column's tags plus DONOR_SKIN at the skin-surface vertex.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from iontosim._fenics import MPI, dolfinx

from .column import DEEP, ELECTRODE as ANODE  # 1: top of the donor pad (the donor electrode); 2: bottom
from .geometry import Geometry, LayerSpec

DONOR = 0  # cell tag of the donor pad; skin layer i (from 0, top first) has tag i + 1

RETURN = 3  # skin surface under the return electrode
SKIN_SURFACE = 4  # free skin surface: under neither electrode
LATERAL = 5  # far lateral boundary of the skin (x = width, and y = width in 3D)
DONOR_SKIN = 6  # interior facets between the donor pad and the skin (flux into the skin)

BOUNDARY_NAMES = {ANODE: "anode", DEEP: "deep", RETURN: "return", SKIN_SURFACE: "skin_surface",
                  LATERAL: "lateral", DONOR_SKIN: "donor_skin"}


@dataclass
class SkinMesh:
    """A distributed skin mesh with its tags: cells by region, boundary facets by role."""

    mesh: dolfinx.mesh.Mesh
    cell_tags: dolfinx.mesh.MeshTags
    facet_tags: dolfinx.mesh.MeshTags
    geometry: Geometry
    #: cell tag -> region name ("donor" = 0 when there is a donor pad, then the skin layers)
    regions: dict[int, str]
    #: facet tag -> boundary name, for the tags this mesh carries
    boundaries: dict[int, str]
    #: depth (m) of every region boundary, top to bottom (the first is -donor_thickness)
    interfaces: np.ndarray = field(repr=False)


@contextmanager
def _gmsh_model(name: str) -> Iterator[object]:
    """A fresh gmsh model, removed afterwards; gmsh is finalized only if we initialized it."""
    import gmsh

    owner = not gmsh.isInitialized()
    if owner:
        gmsh.initialize(readConfigFiles=False, interruptible=False)
    gmsh.option.setNumber("General.Terminal", 0)
    gmsh.model.add(name)
    try:
        yield gmsh.model
    finally:
        gmsh.model.remove()
        if owner:
            gmsh.finalize()


def _extrude(model, sources: list[tuple[int, int]], axis: int, sizes: np.ndarray):
    """Extrude `sources` by sum(sizes) along `axis`, one cell per size: (bodies, tops)."""
    shift = [0.0, 0.0, 0.0]
    shift[axis] = float(np.sum(sizes))
    heights = np.cumsum(np.abs(sizes)) / np.sum(np.abs(sizes))
    heights[-1] = 1.0
    out = model.geo.extrude(sources, *shift, numElements=[1] * len(sizes),
                            heights=heights.tolist(), recombine=True)
    dim = sources[0][0] + 1
    # gmsh lists, per source: its translated copy ("top"), the swept entity, then side entities
    bodies = [i for i, (d, _) in enumerate(out) if d == dim]
    return [out[i] for i in bodies], [out[i - 1] for i in bodies]


def _surface_patches(model, geometry: Geometry, layers: Sequence[LayerSpec]):
    """The skin surface (depth 0) as (dimTag, role) patches, role "anode", "return" or "skin"."""
    patches = [((0, model.geo.addPoint(0.0, 0.0, 0.0)), ())]
    for axis in range(geometry.dim - 1):
        sources = [p for p, _ in patches]
        swept = []
        for index, sizes in enumerate(geometry.lateral_sizes(layers, axis)):
            bodies, sources = _extrude(model, sources, axis, sizes)
            swept += [(body, where + (index,)) for body, (_, where) in zip(bodies, patches)]
        patches = swept

    def role(where: tuple[int, ...]) -> str:
        if all(i == 0 for i in where):  # also the column's single point
            return "anode"
        # x segments: anode, gap, return, beyond (Geometry.lateral_breaks); y: beside the anode, beyond
        if where[0] == 2 and all(i == 0 for i in where[1:]):
            return "return"
        return "skin"

    return [(p, role(where)) for p, where in patches]


def _build_model(model, layers: Sequence[LayerSpec], donor_thickness: float, geometry: Geometry):
    """Geometry, physical groups and mesh of the gmsh `model` (rank 0 only)."""
    depth_axis = geometry.dim - 1
    sizes = geometry.depth_sizes(layers, donor_thickness)
    skin_sizes = sizes[1:] if donor_thickness > 0 else sizes
    patches = _surface_patches(model, geometry, layers)
    on = {role: [p for p, r in patches if r == role] for role in ("anode", "return", "skin")}

    regions: list[tuple[int, str, list]] = []  # (cell tag, name, dimTags)
    tops = [p for p, _ in patches]
    for index, ((name, _), cells) in enumerate(zip(layers, skin_sizes)):
        bodies, tops = _extrude(model, tops, depth_axis, cells)
        regions.append((index + 1, name, bodies))
    facets = {DEEP: tops}
    if donor_thickness > 0:
        bodies, donor_tops = _extrude(model, on["anode"], depth_axis, -sizes[0][::-1])
        regions.insert(0, (DONOR, "donor", bodies))
        facets |= {ANODE: donor_tops, DONOR_SKIN: on["anode"]}
    else:
        facets[ANODE] = on["anode"]
    facets |= {RETURN: on["return"], SKIN_SURFACE: on["skin"]}
    model.geo.synchronize()

    if geometry.dim > 1:  # the far lateral walls, found by where they are
        depth = sum(t for _, t in layers)
        tol = 1e-6 * min(float(np.min(s)) for s in sizes)
        big = 10 * (geometry.width + depth + donor_thickness)
        walls = []
        for axis in range(geometry.dim - 1):
            lo, hi = [-big] * 3, [big] * 3
            lo[axis], hi[axis] = geometry.width - tol, geometry.width + tol
            lo[depth_axis] = -tol
            walls += model.getEntitiesInBoundingBox(*lo, *hi, dim=geometry.dim - 1)
        facets[LATERAL] = walls

    for tag, name, bodies in regions:  # gmsh physical tags must be positive: store tag + 1
        model.addPhysicalGroup(geometry.dim, [t for _, t in bodies], tag=tag + 1, name=name)
    for tag, entities in facets.items():
        if entities:
            model.addPhysicalGroup(geometry.dim - 1, [t for _, t in entities], tag=tag,
                                   name=BOUNDARY_NAMES[tag])
    model.mesh.generate(geometry.dim)
    present = {tag: BOUNDARY_NAMES[tag] for tag, entities in facets.items() if entities}
    return {tag: name for tag, name, _ in regions}, present


def build_skin_mesh(comm: MPI.Comm, layers: Sequence[LayerSpec], donor_thickness: float,
                    geometry: Geometry) -> SkinMesh:
    """Mesh the skin `layers` ((name, thickness in m), top first) under a donor pad of
    `donor_thickness` m (0: none) as `geometry` says, distributed over `comm`.

    gmsh runs on rank 0 of `comm` only; a failure there is raised on every rank rather than
    leaving the others waiting in the mesh distribution. Cells are ghosted across shared facets
    so that integrals over interior facets (DONOR_SKIN) are right in parallel.
    """
    layers = [(str(name), float(thickness)) for name, thickness in layers]
    if not layers or min(t for _, t in layers) <= 0 or donor_thickness < 0:
        raise ValueError("need at least one skin layer, positive thicknesses and donor_thickness >= 0")
    with ExitStack() as stack:
        model, names, error = None, None, None
        if comm.rank == 0:
            try:
                model = stack.enter_context(_gmsh_model("skin"))
                names = _build_model(model, layers, donor_thickness, geometry)
            except Exception as exc:  # re-raised on every rank below
                error = f"{type(exc).__name__}: {exc}"
        error = comm.bcast(error, root=0)
        if error:
            raise RuntimeError(f"gmsh could not mesh the skin: {error}")
        partitioner = dolfinx.mesh.create_cell_partitioner(dolfinx.mesh.GhostMode.shared_facet, 2)
        data = dolfinx.io.gmsh.model_to_mesh(model, comm, 0, gdim=geometry.dim, partitioner=partitioner)
    regions, boundaries = comm.bcast(names, root=0)

    domain = data.mesh
    tdim = domain.topology.dim
    cells = dolfinx.mesh.meshtags(domain, tdim, data.cell_tags.indices, data.cell_tags.values - 1)
    cells.name = "regions"
    data.facet_tags.name = "boundaries"
    top = -donor_thickness if donor_thickness > 0 else 0.0
    interfaces = top + np.concatenate([[0.0], np.cumsum(
        ([donor_thickness] if donor_thickness > 0 else []) + [t for _, t in layers])])
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
