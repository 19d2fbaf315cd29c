"""A skin mesh read from a gmsh file: a .geo source (meshed here) or a .msh mesh, whose physical
groups name the regions and boundaries. The meshes of record (meshes/) and a user's own meshes.

The file follows the built-in mesher's conventions (iontosim.mesh.geometry): the last coordinate
is the depth, positive into the skin, the skin surface at depth 0 and the donor pad above it; the
lateral coordinates start at 0 on the anode's centre line (a mirror line, or the axis of an
axisymmetric patch). Its coordinates are in `unit` (gmsh has none).

Physical groups, by name (or number) as the scenario's ``geometry.tags`` maps them, each name
defaulting to itself:
- cells (groups of the mesh's dimension): ``donor``, every skin layer by its name, and optionally
  ``return_electrode`` (the return electrode's pad) and ``appendages`` (follicles, ducts: the
  scenario's ``appendages`` section gives their transport properties). Every cell must be in one.
- facets: ``anode`` (the donor electrode, on top of the donor pad), ``deep`` (the bottom of the
  deepest layer), and optionally ``return`` (the return electrode). Other boundaries are no-flux.

Regions and boundaries are renumbered as the built-in mesher numbers them (skin_mesh.py), so the
model reads either mesh alike.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from iontosim.scenario.errors import ScenarioError

#: iontosim names of the optional cell groups, after the skin layers in this order
OPTIONAL_REGIONS = ("return_electrode", "appendages")
#: iontosim names of the facet groups: required, then optional
REQUIRED_BOUNDARIES = ("anode", "deep")
OPTIONAL_BOUNDARIES = ("return",)
SUFFIXES = (".geo", ".msh")
#: gmsh's first-order cells: triangle, quadrilateral, tetrahedron, hexahedron
FIRST_ORDER = (2, 3, 4, 5)
#: where a path given as meshes/NAME finds the meshes of record: the package, which holds them
#: (the repository's meshes/ links to iontosim/meshes/), installed or not
RECORD = Path(__file__).resolve().parents[1]


class MeshFileError(ScenarioError):
    """A mesh file that cannot serve: `field` is the scenario field to blame (geometry.mesh, or
    geometry.tags.NAME), `reason` says why. A ScenarioError: the command line shows it as one
    line and exits 2, wherever it is raised."""


@dataclass(frozen=True)
class Group:
    """One physical group of the file: its gmsh dimension and tag, its entities, and the bounding
    box of its points [m] (lower corner, upper corner; 3 coordinates each)."""

    dim: int
    tag: int
    entities: tuple[int, ...]
    low: tuple[float, ...]
    high: tuple[float, ...]


@dataclass(frozen=True)
class MeshFile:
    """What a gmsh file holds, read without meshing it: its dimension and physical groups by name."""

    path: Path
    dim: int
    groups: dict[tuple[int, str], Group]
    cells_total: int  # entities of the mesh's dimension (for the every-cell-tagged check)

    def find(self, dim: int, names: str | Sequence[str], field: str) -> Group:
        """The group `names` (a name, or a number as text) of dimension `dim`, or several such
        groups as one, or MeshFileError."""
        if not isinstance(names, str):
            if not names:
                raise MeshFileError(field, "give at least one physical group")
            return _union([self.find(dim, name, field) for name in names])
        name = names
        group = self.groups.get((dim, name))
        if group is None and name.isdigit():
            group = next((g for g in self.groups.values() if g.dim == dim and g.tag == int(name)), None)
        if group is None:
            have = sorted(n for d, n in self.groups if d == dim)
            what = "cells" if dim == self.dim else "facets"
            raise MeshFileError(
                field,
                f"{self.path.name} has no physical group {name!r} of {what} (dimension {dim}); "
                f"its groups of that dimension: {', '.join(have) or 'none'}",
            )
        if not group.entities:
            raise MeshFileError(field, f"the physical group {name!r} of {self.path.name} is empty")
        return group


def _union(groups: Sequence[Group]) -> Group:
    """Groups of one dimension as one (at least one): their entities, the box round their boxes."""
    low = tuple(min(g.low[k] for g in groups) for k in range(3))
    high = tuple(max(g.high[k] for g in groups) for k in range(3))
    entities = tuple(dict.fromkeys(e for g in groups for e in g.entities))
    return Group(groups[0].dim, groups[0].tag, entities, low, high)


def locate(text: str) -> Path:
    """The mesh file a scenario names: an absolute path (the loader makes a path found beside the
    scenario file absolute), or one relative to the working directory or to the package (its
    meshes/ of record)."""
    path = Path(text).expanduser()
    if path.suffix not in SUFFIXES:
        raise MeshFileError("geometry.mesh", f"{text!r}: give a gmsh .geo source or a .msh mesh")
    candidates = [path] if path.is_absolute() else [Path.cwd() / path, RECORD / path]
    for candidate in candidates:
        if candidate.is_file():
            return candidate.resolve()
    raise MeshFileError(
        "geometry.mesh",
        f"no file {text}"
        + (
            ""
            if path.is_absolute()
            else f" beside the scenario, in {Path.cwd()} or, as meshes/NAME, among the meshes of record "
            f"({RECORD / 'meshes'})"
        ),
    )


def _open(gmsh, path: Path) -> None:
    """Merge `path` into the current gmsh model, as MeshFileError when gmsh cannot read it."""
    try:
        gmsh.merge(str(path))
        if path.suffix == ".geo":
            gmsh.model.geo.synchronize()
    except Exception as exc:  # gmsh raises a bare Exception with its log line
        raise MeshFileError("geometry.mesh", f"gmsh cannot read {path.name}: {exc}") from None


def _points_box(gmsh, dim: int, entities: Sequence[int], scale: float) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Bounding box [m] of the entities: of their mesh nodes when meshed, else of their corner
    points (exact for straight-sided shapes, where OCC's own boxes carry a tolerance)."""
    coordinates = []
    for entity in entities:
        _, xyz, _ = gmsh.model.mesh.getNodes(dim, entity, includeBoundary=True)
        if len(xyz):
            coordinates.append(np.reshape(xyz, (-1, 3)))
            continue
        points = gmsh.model.getBoundary([(dim, entity)], combined=False, oriented=False, recursive=True)
        for _, p in points if dim > 0 else [(0, entity)]:
            coordinates.append(np.reshape(gmsh.model.getValue(0, p, []), (1, 3)))
    xyz = np.vstack(coordinates) * scale
    return tuple(xyz.min(axis=0).tolist()), tuple(xyz.max(axis=0).tolist())


@functools.lru_cache(maxsize=8)
def _read(path: Path, stamp: tuple[int, int], scale: float) -> MeshFile:
    import gmsh

    from .skin_mesh import _gmsh_model

    del stamp  # part of the cache key only: an edited file is read again
    with _gmsh_model("read"):
        model = gmsh.model
        _open(gmsh, path)
        dim = model.getDimension()
        groups = {}
        for gdim, tag in model.getPhysicalGroups():
            entities = tuple(int(e) for e in model.getEntitiesForPhysicalGroup(gdim, tag))
            name = model.getPhysicalName(gdim, tag) or str(tag)
            low, high = _points_box(gmsh, gdim, entities, scale) if entities else ((0.0,) * 3, (0.0,) * 3)
            groups[(gdim, name)] = Group(gdim, tag, entities, low, high)
        total = len(model.getEntities(dim))
    if dim not in (2, 3):
        raise MeshFileError("geometry.mesh", f"{path.name} is {dim}D; a patch mesh is 2D or 3D")
    return MeshFile(path, dim, groups, total)


@functools.lru_cache(maxsize=8)
def _cells_at_unit_resolution(path: Path, stamp: tuple[int, int]) -> tuple[int, int]:
    """(cells of the mesh's dimension, that dimension) of the file as it is: a .msh's own, a .geo
    source's once meshed at its own sizes."""
    import gmsh

    from .skin_mesh import _gmsh_model

    del stamp  # part of the cache key only
    with _gmsh_model("count"):
        _open(gmsh, path)
        dim = gmsh.model.getDimension()
        if path.suffix == ".geo":
            gmsh.model.mesh.generate(dim)
        types = [int(t) for t in gmsh.model.mesh.getElementTypes(dim)]
        if len(types) != 1 or types[0] not in FIRST_ORDER:
            names = ", ".join(gmsh.model.mesh.getElementProperties(t)[0] for t in types) or "none"
            raise MeshFileError(
                "geometry.mesh",
                f"{path.name} has cells of type {names}: give one first-order type (triangles or "
                "quadrilaterals in 2D, tetrahedra or hexahedra in 3D)",
            )
        for gdim, tag in gmsh.model.getPhysicalGroups(dim):
            if not any(
                len(gmsh.model.mesh.getElements(dim, e)[1]) for e in gmsh.model.getEntitiesForPhysicalGroup(gdim, tag)
            ):
                name = gmsh.model.getPhysicalName(gdim, tag) or str(tag)
                raise MeshFileError("geometry.mesh", f"the physical group {name!r} of {path.name} has no cells")
        return sum(len(t) for t in gmsh.model.mesh.getElements(dim)[1]), dim


def cell_count(geometry) -> tuple[int, bool]:
    """The cells of the mesh `geometry` reads, and whether that is exact: a .msh's count, or a
    .geo's at its own sizes times resolution^dim (an estimate: sizes divided by `resolution`)."""
    path = Path(geometry.mesh)
    cells, dim = _cells_at_unit_resolution(path, _stamp(path))
    if path.suffix == ".msh":
        return cells, True
    return round(cells * geometry.resolution**dim), geometry.resolution == 1.0


def read(path: Path, scale: float) -> MeshFile:
    """The physical groups of the gmsh file `path` (coordinates x `scale` to metres); cached
    while the file is unchanged. Raises MeshFileError."""
    return _read(Path(path), _stamp(path), float(scale))


def _stamp(path: Path) -> tuple[int, int]:
    """What changes when the file is edited (modification time, size): the caches' key with the path."""
    stat = os.stat(path)
    return stat.st_mtime_ns, stat.st_size


@dataclass(frozen=True)
class Layout:
    """How the scenario's regions and boundaries map onto the file's groups: iontosim name ->
    group, for the cells (donor, the skin layers top first, then the optional regions present)
    and the facets."""

    regions: dict[str, Group]
    boundaries: dict[str, Group]


def layout(mesh: MeshFile, tags: Tags, layers: Sequence[str]) -> Layout:
    """Match the file's groups to the donor pad, the scenario's skin `layers` (names, top first),
    the optional regions and the boundaries. MeshFileError names the tag to blame: a group
    missing or empty, two regions sharing cells, cells in no region."""
    names = ["donor", *layers]
    known = set(names) | set(OPTIONAL_REGIONS) | set(REQUIRED_BOUNDARIES) | set(OPTIONAL_BOUNDARIES)
    for key in tags:
        if key not in known:
            raise MeshFileError(
                f"geometry.tags.{key}",
                f"not a region or boundary of this scenario (those are: {', '.join(sorted(known))})",
            )

    def group(name: str, dim: int) -> Group:
        return mesh.find(dim, tags.get(name, name), f"geometry.tags.{name}")

    cells, facets = mesh.dim, mesh.dim - 1
    regions = {name: group(name, cells) for name in names}
    regions |= {name: group(name, cells) for name in OPTIONAL_REGIONS if _given(mesh, tags, name, cells)}
    boundaries = {name: group(name, facets) for name in REQUIRED_BOUNDARIES}
    boundaries |= {name: group(name, facets) for name in OPTIONAL_BOUNDARIES if _given(mesh, tags, name, facets)}
    if "return_electrode" in regions and "return" not in boundaries:
        raise MeshFileError(
            "geometry.tags.return",
            f"{mesh.path.name} has a return electrode's pad and no return facets: tag the top of the pad",
        )
    seen: dict[int, str] = {}
    for name, g in regions.items():
        for entity in g.entities:
            if entity in seen:
                other = seen[entity]
                raise MeshFileError(
                    f"geometry.tags.{name if name in tags or other not in tags else other}",
                    f"{name} and {other} would share cells of {mesh.path.name} (entity {entity}): "
                    "give each region its own physical groups",
                )
            seen[entity] = name
    loose = mesh.cells_total - len(seen)
    if loose:
        kind = "surfaces" if mesh.dim == 2 else "volumes"
        raise MeshFileError(
            "geometry.mesh",
            f"{loose} of the {mesh.cells_total} {kind} of {mesh.path.name} belong to no region of the "
            "scenario: give each one a physical group that geometry.tags maps to a region",
        )
    return Layout(regions, boundaries)


def check_stack(found: Layout, layers: Sequence[tuple[str, float, str]], donor: tuple[float, str]) -> None:
    """The pads and layers lie where the scenario says: the donor pad from -thickness to 0, each
    skin layer from the bottom of the one above to its own thickness further down, no region at
    negative lateral coordinates. `layers` are (name, thickness [m], the field that sets it);
    `donor` (thickness, field). MeshFileError otherwise."""
    spans = [("donor", -donor[0], 0.0, donor[1])]
    top = 0.0
    for name, thickness, field in layers:
        spans.append((name, top, top + thickness, field))
        top += thickness
    scale = top + donor[0]
    for name, lo, hi, field in spans:
        g = found.regions[name]
        axis = g.dim - 1  # the depth is the last coordinate of the patch
        got = (g.low[axis], g.high[axis])
        if abs(got[0] - lo) > 1e-6 * scale or abs(got[1] - hi) > 1e-6 * scale:
            raise MeshFileError(
                "geometry.mesh",
                f"{name} spans depths {_um(got[0])} to {_um(got[1])} in the mesh, and {field} puts it at "
                f"{_um(lo)} to {_um(hi)} (the depth is the last coordinate, positive into the skin, 0 at "
                "the skin surface; is geometry.mesh_unit right?)",
            )
    for name, depth, field in (("anode", -donor[0], "donor.thickness"), ("deep", top, "skin[].thickness")):
        g = found.boundaries[name]
        axis = g.dim  # facets: one dimension less than the patch, the depth still its last coordinate
        if abs(g.low[axis] - depth) > 1e-6 * scale or abs(g.high[axis] - depth) > 1e-6 * scale:
            where = "the top of the donor pad" if name == "anode" else "the bottom of the deepest layer"
            raise MeshFileError(
                f"geometry.tags.{name}",
                f"the {name} facets lie at depths {_um(g.low[axis])} to {_um(g.high[axis])}; they must be "
                f"{where}, at {_um(depth)} ({field})",
            )
    lateral = min(min(g.low[: g.dim - 1]) for g in found.regions.values())
    if lateral < -1e-9 * scale:
        raise MeshFileError(
            "geometry.mesh",
            f"a region reaches lateral coordinate {_um(lateral)}: the patch starts at 0 on the anode's "
            "centre line (a mirror line, or the axis)",
        )


def _um(x: float) -> str:
    return f"{x * 1e6:.6g} µm"


Tags = Mapping[str, Sequence[str]]


def patch_shape(mesh: MeshFile, tags: Tags, kind: str) -> tuple[float, float, float | None, float | None]:
    """The widths [m] of the built-in geometry that this mesh has: the modelled width, the anode's
    width (its radius when axisymmetric) and, with a return electrode, its gap and width (else
    None). MeshFileError when the file's dimension is not the kind's."""
    dim = 3 if kind == "block" else 2
    if mesh.dim != dim:
        raise MeshFileError("geometry.kind", f"{mesh.path.name} is {mesh.dim}D and a {kind} patch is {dim}D")
    anode = mesh.find(dim - 1, tags.get("anode", "anode"), "geometry.tags.anode").high[0]
    width = max(g.high[0] for g in mesh.groups.values() if g.dim == dim and g.entities)
    anode_width = anode if kind == "axisymmetric" else 2 * anode
    if not _given(mesh, tags, "return", dim - 1):
        if anode < width * (1 - 1e-9):
            raise MeshFileError(
                "geometry.tags.anode",
                f"the anode reaches {_um(anode)} of the patch's {_um(width)}: without a return electrode "
                "(a return group) the anode covers the whole width and the deep tissue takes the current back",
            )
        return width, anode_width, None, None
    ret = mesh.find(dim - 1, tags.get("return", "return"), "geometry.tags.return")
    return width, anode_width, ret.low[0] - anode, ret.high[0] - ret.low[0]


def _given(mesh: MeshFile, tags: Tags, name: str, dim: int) -> bool:
    """Whether the optional region or boundary `name` is there: tagged, or a group of its name."""
    return name in tags or (dim, name) in mesh.groups


def has_region(geometry, name: str) -> bool:
    """Whether the mesh file of `geometry` has the optional region `name` (OPTIONAL_REGIONS)."""
    mesh = read(Path(geometry.mesh), geometry.mesh_scale)
    return _given(mesh, geometry.tags, name, mesh.dim)


def check(geometry, layers: Sequence[tuple[str, float]], donor_thickness: float) -> Layout:
    """The mesh file of `geometry` matched to the scenario's skin `layers` ((name, thickness m),
    top first, as skin[i]) and donor pad: its groups (`layout`) where the thicknesses put them
    (`check_stack`). Raises MeshFileError."""
    found = layout(read(Path(geometry.mesh), geometry.mesh_scale), geometry.tags, [name for name, _ in layers])
    stack = [(name, thickness, f"skin[{i}].thickness") for i, (name, thickness) in enumerate(layers)]
    check_stack(found, stack, (donor_thickness, "donor.thickness"))
    return found


def read_tagged(model, geometry, layers: Sequence[tuple[str, float]], donor_thickness: float):
    """Rank 0: fill the gmsh `model` with the mesh of `geometry.mesh` (meshing a .geo source with
    its sizes divided by `geometry.resolution`) in metres, its physical groups renumbered as the
    built-in mesher numbers them (skin_mesh.py). Returns (regions {cell tag: name}, boundaries
    {facet tag: name}). Raises MeshFileError."""
    import gmsh

    from .skin_mesh import ANODE, BOUNDARY_NAMES, DEEP, DONOR_SKIN, RETURN, RETURN_SKIN

    found = check(geometry, layers, donor_thickness)
    path, dim = Path(geometry.mesh), geometry.dim
    _open(gmsh, path)
    if path.suffix == ".geo":
        factor = gmsh.option.getNumber("Mesh.MeshSizeFactor")  # the file may set its own
        gmsh.option.setNumber("Mesh.MeshSizeFactor", factor / geometry.resolution)
        try:
            model.mesh.generate(dim)
        finally:
            gmsh.option.setNumber("Mesh.MeshSizeFactor", factor)
    for name, group in found.regions.items():
        if not sum(len(t) for e in group.entities for t in model.mesh.getElements(dim, e)[1]):
            raise MeshFileError(f"geometry.tags.{name}", f"the group of {name} in {path.name} has no cells")
    model.removePhysicalGroups()
    regions = {}
    for tag, (name, group) in enumerate(found.regions.items()):  # physical tags must be positive: tag + 1
        model.addPhysicalGroup(dim, list(group.entities), tag=tag + 1, name=name)
        regions[tag] = name

    def bounding(names: Sequence[str]) -> set[int]:
        entities = [(dim, e) for n in names for e in found.regions[n].entities]
        return {abs(t) for _, t in model.getBoundary(entities, combined=False, oriented=False)}

    skin = bounding([name for name, _ in layers] + [n for n in ("appendages",) if n in found.regions])
    stack = ["donor"] + [name for name, _ in layers]
    for upper, lower in zip(stack[:-1], stack[1:]):  # a mesh whose shapes were not fragmented
        if not bounding([upper]) & bounding([lower]):
            raise MeshFileError(
                "geometry.mesh",
                f"{upper} and {lower} share no facets in {path.name}: the mesh must be conforming "
                "(in a .geo, share the interface lines or surfaces, or fragment the shapes: BooleanFragments)",
            )
    facets = {ANODE: set(found.boundaries["anode"].entities), DEEP: set(found.boundaries["deep"].entities)}
    facets[DONOR_SKIN] = bounding(["donor"]) & skin
    if "return" in found.boundaries:
        facets[RETURN] = set(found.boundaries["return"].entities)
    if "return_electrode" in found.regions:
        facets[RETURN_SKIN] = bounding(["return_electrode"]) & skin
    boundaries = {}
    for tag, entities in facets.items():
        if entities:
            model.addPhysicalGroup(dim - 1, sorted(entities), tag=tag, name=BOUNDARY_NAMES[tag])
            boundaries[tag] = BOUNDARY_NAMES[tag]
    s = geometry.mesh_scale
    if s != 1.0:
        model.mesh.affineTransform([s, 0, 0, 0, 0, s, 0, 0, 0, 0, s, 0])
    return regions, boundaries
