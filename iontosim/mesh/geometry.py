"""Geometry of a skin patch under a finite electrode, and the cell sizes it implies.

Coordinates (SI, metres). The last coordinate is the depth, positive into the skin as in the 1D
column: the skin surface is at depth 0, the donor pad sits above it at negative depth over the
anode only, the skin layers follow below down to the deep boundary. The lateral coordinates start
on the anode's centre line:

- ``column``: x = depth (1D, the layer stack under the anode);
- ``planar``: (x, depth), a section across an infinitely long strip anode flanked by two strip
  return electrodes; x = 0 is the mirror plane, so only x >= 0 is modelled;
- ``axisymmetric``: (r, depth), a disc anode of radius ``anode_width`` inside a ring return
  electrode; r = 0 is the axis (integrate with 2 pi r);
- ``block``: (x, y, depth), a square anode flanked by two return electrodes as long as the anode;
  x = 0 and y = 0 are mirror planes, so one quarter is modelled (``planar`` is its y = 0 section).

The return electrode's pad, when meshed, sits above the skin under the return electrode as the
donor pad does over the anode. Appendages (sweat ducts, hair follicles) are narrow channels
through the stratum corneum only, where ions bypass the barrier: slits across the planar section,
one cylinder on the axis, square channels of a disc's area in the block. The mesh is a tensor
product, so every channel edge is a break across the whole patch.

Cell sizes. Transport is steepest across the stratum corneum (the barrier, with Donnan jumps on
both faces) and, under a finite electrode, at the electrode edges where the current crowds. So the
top skin layer gets ``surface_cells`` cells across its thickness (uniform, or finer toward the
skin surface by ``surface_grading``), the cells next to every electrode edge (and appendage
channel edge) are as wide as their mean, and away from both the cell size
grows geometrically by ``growth`` per cell up to ``max_size``. (A laterally uniform strip or disc
without appendages has no edge: its lateral cells are all ``max_size``.) A geometric sequence has sizes that
grow linearly with the distance d from the refined feature, h(d) ~ h0 + (growth - 1) d;
``resolution`` divides h0, (growth - 1) and ``max_size`` alike, so it scales the whole size
function (2 = twice finer everywhere) the way ``numerics.refinement`` scales the 1D column.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Kind = Literal["column", "planar", "axisymmetric", "block"]
PositiveLength = Annotated[float, Field(gt=0)]
NonNegativeLength = Annotated[float, Field(ge=0)]
#: a channel centre (m): x (planar, axisymmetric) or (x, y) (block)
Position = NonNegativeLength | tuple[NonNegativeLength, NonNegativeLength]

#: (name, thickness in m) of each skin layer, top (electrode side) first
LayerSpec = tuple[str, float]


def graded_layer(thickness: float, cells: int, grading: float) -> np.ndarray:
    """Sizes (m, top to bottom) of `cells` cells across a layer of `thickness` m, in geometric
    progression from the top cell to the bottom one, `grading` times its size (1: uniform)."""
    if abs(grading - 1.0) < 1e-12:
        sizes = np.full(cells, 1.0)
    else:
        sizes = grading ** (np.arange(cells) / max(cells - 1, 1))
    return sizes * (thickness / sizes.sum())


def graded_sizes(length: float, first: float, growth: float, cap: float) -> np.ndarray:
    """Cell sizes filling `length`, starting at `first` and growing by `growth` up to `cap`.

    The sequence is taken up to the first cell that reaches `length`, then shrunk to fit it
    exactly: the sizes are upper bounds (no cell is coarser than asked) and neighbours keep the
    ratio `growth` (1 at the cap).
    """
    if length <= 0 or first <= 0 or cap <= 0 or growth < 1:
        raise ValueError("graded_sizes needs positive length, first and cap, and growth >= 1")
    sizes, total, size = [], 0.0, min(first, cap)
    while total < length:
        sizes.append(size)
        total += size
        size = min(size * growth, cap)
    return np.asarray(sizes) * (length / total)


def _segment_sizes(
    length: float, fine_start: bool, fine_end: bool, first: float, growth: float, cap: float
) -> np.ndarray:
    """Sizes along a segment refined toward the ends that carry an electrode edge."""
    if fine_start and fine_end:
        half = graded_sizes(length / 2, first, growth, cap)
        return np.concatenate([half, half[::-1]])
    if fine_end:
        return graded_sizes(length, first, growth, cap)[::-1]
    return graded_sizes(length, first, growth, cap)


class Appendages(BaseModel):
    """Sweat ducts and hair follicles: channels through the stratum corneum (the top skin layer)
    only. Below it they open into the viable epidermis, which is modelled as it is."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: channel radius (m): planar slits are 2 radius wide, block channels squares of a disc's area
    radius: PositiveLength
    #: a regular lattice: a channel centred at every multiple of `spacing` from the centre line(s),
    #: 0 included, wherever it fits in the width (m)
    spacing: PositiveLength | None = None
    #: the channel centres (m): x for planar and axisymmetric, (x, y) pairs for block
    positions: tuple[Position, ...] | None = None

    @field_validator("positions", mode="before")
    @classmethod
    def _centres(cls, value: object) -> object:
        if isinstance(value, (list, tuple)):
            for p in value:
                if isinstance(p, (list, tuple)) and len(p) != 2:
                    raise ValueError(f"appendages.positions: each centre is an x or an (x, y) pair, got {p!r}")
        return value

    @model_validator(mode="after")
    def _one_layout(self) -> Appendages:
        if (self.spacing is None) == (self.positions is None):
            raise ValueError("appendages need exactly one of spacing (a regular lattice) and positions")
        if self.positions is not None and not self.positions:
            raise ValueError("appendages.positions is empty: leave appendages out for none")
        return self


class Geometry(BaseModel):
    """The ``geometry`` section of a scenario: shape of the modelled patch and its mesh density."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Kind = "planar"
    #: lateral extent of the modelled skin from the anode's centre line (m)
    width: PositiveLength | None = None
    #: full width of the anode (planar: strip width; block: side of the square), its radius when
    #: axisymmetric (m)
    anode_width: PositiveLength | None = None
    #: distance on the skin surface from the anode edge to the return electrode (m)
    return_gap: PositiveLength | None = None
    #: width of the return electrode (its length in y for block is the anode's) (m)
    return_width: PositiveLength | None = None
    #: scales the whole size function: cells are `resolution` times smaller everywhere
    resolution: PositiveLength = 1.0
    #: cells across the top skin layer (the stratum corneum) at resolution 1
    surface_cells: Annotated[int, Field(gt=0)] = 6
    #: size of the top skin layer's bottom cell over its top cell (1: uniform; > 1: finer at the
    #: skin surface, where the drug enters), as a layer's `grading` on the 1D column
    surface_grading: Annotated[float, Field(gt=0)] = 1.0
    #: size ratio of neighbouring cells away from the stratum corneum and the electrode edges
    growth: Annotated[float, Field(gt=1, le=2)] = 1.3
    #: largest cell size at resolution 1 (m); default: a tenth of the skin depth
    max_size: PositiveLength | None = None
    #: sweat ducts and hair follicles through the stratum corneum; none by default
    appendages: Appendages | None = None
    #: a tagged gmsh file (.geo or .msh, its path resolved) meshing the patch instead of the
    #: built-in mesher (iontosim.mesh.tagged); the widths above are then the file's
    mesh: str | None = None
    #: metres per unit of the file's coordinates
    mesh_scale: PositiveLength = 1.0
    #: iontosim region or boundary name -> the file's physical groups (names, or numbers as text)
    tags: dict[str, tuple[str, ...]] = {}

    @model_validator(mode="after")
    def _fits(self) -> Geometry:
        if self.mesh is not None:
            if self.kind == "column" or self.appendages is not None:
                raise ValueError("a mesh file makes a planar, axisymmetric or block patch, its appendages tagged in it")
            return self  # the file's shape, not the built-in mesher's rules (mesh/tagged.py checks it)
        if self.kind == "column":
            if self.appendages is not None:
                raise ValueError(
                    "appendages need a planar, axisymmetric or block geometry: the column has no lateral extent"
                )
            return self
        if self.kind != "block" and self.return_gap is None and self.return_width is None:
            # an anode over the whole width, the deep tissue as the return: a strip, or a disc
            # that is the unit cell around one appendage
            twice = self.kind == "planar"
            if (
                self.width is None
                or self.anode_width is None
                or abs(self.anode_width / (2 if twice else 1) - self.width) > 1e-12 * self.width
            ):
                raise ValueError(
                    "without a return electrode the anode must cover the whole width "
                    f"(anode_width = {'2 width' if twice else 'width'}): the deep tissue is then the return"
                )
        else:
            missing = [
                name for name in ("width", "anode_width", "return_gap", "return_width") if getattr(self, name) is None
            ]
            if missing:
                raise ValueError(f"a {self.kind} geometry needs {', '.join(missing)}")
            anode, _, outer = self.edges
            if outer >= self._width:
                raise ValueError(
                    f"the return electrode ends at {outer:g} m, beyond the modelled width {self.width:g} m"
                )
            if self.kind == "block" and anode >= self._width:
                raise ValueError("the anode is wider than the modelled block")
        if self.appendages is not None:
            self._check_appendages()
        return self

    def _check_appendages(self) -> None:
        """Channels lie inside the width, apart from each other and under one electrode or none."""
        channels = self.appendages
        assert channels is not None
        field = "appendages.spacing" if channels.spacing is not None else "appendages.positions"
        self._check_layout(channels, field)
        centres = self.appendage_centres()
        half = self.appendage_half_width
        tol = 1e-9 * self._width
        if not centres:
            raise ValueError(f"{field}: no channel of radius {channels.radius:g} m fits in the width {self.width:g} m")
        if channels.spacing is not None and channels.spacing < 2 * half - tol:
            raise ValueError(f"{field}: channels {channels.spacing:g} m apart overlap (their width is {2 * half:g} m)")
        for centre in centres:
            self._check_channel(centre, half, tol, field)
        _check_apart(sorted(centres), half, tol, field)

    def _check_layout(self, channels: Appendages, field: str) -> None:
        """The kind of layout the patch takes: one channel on the axis of a disc, pairs in a block."""
        if self.kind == "axisymmetric" and (channels.spacing is not None or channels.positions != (0.0,)):
            raise ValueError(
                f"{field}: an axisymmetric patch holds a single channel, on the axis: give "
                "positions [0] (a lattice or an off-axis channel is not axisymmetric)"
            )
        if channels.positions is not None:
            pairs = self.kind == "block"
            if any(isinstance(p, tuple) != pairs for p in channels.positions):
                raise ValueError(
                    f"{field}: a {self.kind} patch takes "
                    + ("(x, y) pairs" if pairs else "one x per channel, not pairs")
                )

    def _check_channel(self, centre: tuple[float, ...], half: float, tol: float, field: str) -> None:
        """One channel: inside the width, clear of its mirror image, under one side of every electrode edge."""
        at = _point_text(centre)
        for axis, c in enumerate(centre):
            if c + half > self._width + tol:
                raise ValueError(
                    f"{field}: the channel at {at} reaches {c + half:g} m, beyond the modelled width {self.width:g} m"
                )
            if tol < c < half - tol:  # the mirror image would overlap it
                raise ValueError(
                    f"{field}: the channel at {at} overlaps its mirror image across "
                    f"{'xy'[axis] if self.kind != 'axisymmetric' else 'the axis'}: centre it "
                    f"there (0) or at least {half:g} m away"
                )
        lo, hi = zip(*((max(0.0, c - half), c + half) for c in centre))
        for name, axis, position, span in self._electrode_edges():
            crosses = lo[axis] + tol < position < hi[axis] - tol
            beside = all(lo[o] < span[1] - tol and hi[o] > span[0] + tol for o in range(len(centre)) if o != axis)
            if crosses and beside:
                raise ValueError(
                    f"{field}: the channel at {at} straddles the {name} at "
                    f"{'xy'[axis]} = {position:g} m: move it under one side"
                )
        if self.appendage_area_fraction() > 1 - 1e-9:
            raise ValueError(f"{field}: the channels cover the whole skin surface")

    def _electrode_edges(self) -> list[tuple[str, int, float, tuple[float, float]]]:
        """(name, axis, position, (start, end) along the other lateral axis) of every electrode edge."""
        if not self.has_return_electrode:
            return []
        anode, inner, outer = self.edges
        along_y = (0.0, anode)  # block: both electrodes span [0, anode] in y
        edges = [
            ("anode edge", 0, anode, along_y),
            ("return electrode's inner edge", 0, inner, along_y),
            ("return electrode's outer edge", 0, outer, along_y),
        ]
        if self.kind == "block":
            edges += [("anode edge", 1, anode, (0.0, anode)), ("return electrode's edge", 1, anode, (inner, outer))]
        return edges

    # ------------------------------------------------------------ shape
    @property
    def _width(self) -> float:
        """`width`, which every kind but the column has (_fits)."""
        assert self.width is not None, "the column has no lateral extent"
        return self.width

    @property
    def dim(self) -> int:
        """Topological (and geometric) dimension of the mesh."""
        return {"column": 1, "planar": 2, "axisymmetric": 2, "block": 3}[self.kind]

    @property
    def laterally_uniform(self) -> bool:
        """An anode over the whole width (planar strip or axisymmetric disc) and no return
        electrode: without appendages, the 1D column's problem."""
        return self.kind in ("planar", "axisymmetric") and self.return_gap is None and self.return_width is None

    @property
    def has_return_electrode(self) -> bool:
        """A return electrode on the skin surface (else the deep tissue returns the current)."""
        return self.kind != "column" and not self.laterally_uniform

    @property
    def edges(self) -> tuple[float, float, float]:
        """Lateral positions (m) of the anode edge and of the inner and outer return edges (inf
        without a return electrode)."""
        anode_width = self.anode_width
        assert anode_width is not None, "the column has no electrode edges"  # every other kind has it (_fits)
        anode = anode_width if self.kind == "axisymmetric" else anode_width / 2
        if self.return_gap is None:
            return anode, math.inf, math.inf
        assert self.return_width is not None  # _fits: a return electrode has its gap and its width
        inner = anode + self.return_gap
        return anode, inner, inner + self.return_width

    def _features(self, axis: int) -> list[float]:
        """Positions along lateral `axis` of every electrode edge and channel edge."""
        features = sorted({position for _, a, position, _ in self._electrode_edges() if a == axis})
        for footprint in self.appendage_footprints():
            lo, hi = footprint[axis]
            features += [hi] + ([lo] if lo > 0 else [])  # a channel on a mirror plane has no edge there
        return sorted(features)

    def lateral_breaks(self, axis: int) -> list[float]:
        """Segment ends along lateral `axis` (0: x, 1: y of block): 0, every electrode edge and
        channel edge, the width. Edges closer than 1e-9 width are one break."""
        width = self._width
        tol = 1e-9 * width
        breaks = [0.0]
        for position in self._features(axis):
            if breaks[-1] + tol < position < width - tol:
                breaks.append(position)
        return breaks + [width]

    def surface_role(self, *lateral: float) -> str:
        """What lies on the skin surface at lateral point (x[, y]) (m): "anode", "return" or "skin"."""
        if not self.has_return_electrode:
            return "anode"
        anode, inner, outer = self.edges
        beside = all(c < anode for c in lateral[1:])  # block: within the electrodes' extent in y
        if lateral[0] < anode and beside:
            return "anode"
        if inner < lateral[0] < outer and beside:
            return "return"
        return "skin"

    # ------------------------------------------------------------ appendages
    @property
    def appendage_half_width(self) -> float:
        """Half the channel width (m): the radius, or half the side of a block's square channel,
        which has the area of a disc of that radius."""
        radius = self.appendages.radius if self.appendages is not None else 0.0
        return 0.5 * math.sqrt(math.pi) * radius if self.kind == "block" else radius

    def appendage_centres(self) -> list[tuple[float, ...]]:
        """Centre (m) of every channel in the modelled patch: (x,) or (x, y) for block."""
        channels = self.appendages
        if channels is None or self.kind == "column":
            return []
        if channels.positions is not None:
            return [p if isinstance(p, tuple) else (p,) for p in channels.positions]
        spacing = channels.spacing
        assert spacing is not None  # Appendages._one_layout: a lattice when no positions
        reach = self._width * (1 + 1e-9) - self.appendage_half_width  # the last centre that fits
        count = int(math.floor(reach / spacing)) + 1 if reach >= 0 else 0
        line = [k * spacing for k in range(count)]
        return list(itertools.product(line, repeat=self.dim - 1))

    def appendage_footprints(self) -> list[tuple[tuple[float, float], ...]]:
        """Each channel's (start, end) (m) along every lateral axis, cut at the mirror planes."""
        half = self.appendage_half_width
        return [tuple((max(0.0, c - half), c + half) for c in centre) for centre in self.appendage_centres()]

    def _surface_area(self, footprint: Sequence[tuple[float, float]]) -> float:
        """Skin-surface measure of a patch given by its (start, end) along every lateral axis."""
        if self.kind == "axisymmetric":
            ((r0, r1),) = footprint
            return math.pi * (r1**2 - r0**2)
        return math.prod(hi - lo for lo, hi in footprint)

    def appendage_area_fraction(self) -> float:
        """Channel cross-section area per skin-surface area over the modelled patch."""
        if self.kind == "column" or self.appendages is None:
            return 0.0
        whole = self._surface_area([(0.0, self._width)] * (self.dim - 1))
        return sum(self._surface_area(f) for f in self.appendage_footprints()) / whole

    def in_appendage(self, points: Sequence[Sequence[float]]) -> np.ndarray:
        """Whether each lateral point (x[, y]) (m) of `points` lies inside a channel."""
        inside = np.zeros(len(points), dtype=bool)
        if not self.appendage_centres():
            return inside
        boxes = np.asarray(self.appendage_footprints())  # (channel, axis, start/end)
        for i, point in enumerate(np.asarray(points, dtype=float).reshape(len(points), -1)):
            inside[i] = np.any(np.all((boxes[:, :, 0] < point) & (point < boxes[:, :, 1]), axis=1))
        return inside

    # ------------------------------------------------------------ sizes
    def size_function(self, layers: Sequence[LayerSpec]) -> tuple[float, float, float]:
        """(first size h0, growth, cap) after `resolution`: h0 is the stratum-corneum cell."""
        top = layers[0][1]
        h0 = top / max(1, round(self.surface_cells * self.resolution))
        cap = (self.max_size or 0.1 * sum(t for _, t in layers)) / self.resolution
        return h0, 1.0 + (self.growth - 1.0) / self.resolution, max(cap, h0)

    def depth_sizes(self, layers: Sequence[LayerSpec], donor_thickness: float) -> list[np.ndarray]:
        """Cell sizes (m, top to bottom) of the donor pad (if any) and of each skin layer.

        The stratum corneum is uniform or graded (`surface_grading`); the donor grows away from
        the skin surface starting at the stratum corneum's top cell, and every
        deeper layer continues the growth of the one above it, so sizes never jump at interfaces.
        """
        if not layers:
            raise ValueError("at least one skin layer is needed")
        h0, growth, cap = self.size_function(layers)
        regions = [self._surface_layer(layers)]
        for _, thickness in layers[1:]:
            regions.append(graded_sizes(thickness, regions[-1][-1] * growth, growth, cap))
        if donor_thickness > 0:
            regions.insert(0, self.pad_sizes(layers, donor_thickness))
        return regions

    def _surface_layer(self, layers: Sequence[LayerSpec]) -> np.ndarray:
        """Cell sizes (m, top to bottom) across the top skin layer."""
        h0, _, _ = self.size_function(layers)
        return graded_layer(layers[0][1], max(1, round(layers[0][1] / h0)), self.surface_grading)

    def pad_sizes(self, layers: Sequence[LayerSpec], thickness: float) -> np.ndarray:
        """Cell sizes (m, top to bottom) of an electrode pad of `thickness` m on the skin (donor or
        return): as fine as the stratum corneum's top cell at the skin, growing away from it."""
        _, growth, cap = self.size_function(layers)
        return graded_sizes(thickness, self._surface_layer(layers)[0], growth, cap)[::-1]

    def lateral_sizes(self, layers: Sequence[LayerSpec], axis: int) -> list[np.ndarray]:
        """Cell sizes (m) along each segment of `lateral_breaks(axis)`, fine at electrode and
        channel edges."""
        h0, growth, cap = self.size_function(layers)
        if self.laterally_uniform and self.appendages is None:
            # The column's problem: nothing varies across, and the anode's edge is the lateral
            # wall, where no current crowds. Cells as wide as the cap allows.
            across = math.ceil(self._width / cap)
            return [np.full(across, self._width / across)]
        breaks = self.lateral_breaks(axis)
        tol = 1e-9 * self._width
        features = np.asarray(self._features(axis))
        # a break is refined if an edge lies on it (the far wall only when a channel touches it)
        fine = [b > tol and bool(np.any(np.abs(features - b) <= tol)) for b in breaks]
        return [
            _segment_sizes(b - a, fa, fb, h0, growth, cap)
            for a, b, fa, fb in zip(breaks[:-1], breaks[1:], fine[:-1], fine[1:])
        ]

    def cell_count_at_least(self, layers: Sequence[LayerSpec]) -> int:
        """A lower bound of cell_count in closed form, with no list of sizes built: the stratum
        corneum's cells in depth times, along each lateral axis, the width over the largest cell.
        A guard uses it first, so that an absurd resolution is refused at once."""
        h0, _, cap = self.size_function(layers)
        across = math.ceil(self._width / cap) ** (self.dim - 1) if self.kind != "column" else 1
        return max(1, round(layers[0][1] / h0)) * across

    def cell_count(self, layers: Sequence[LayerSpec], donor_thickness: float, return_thickness: float = 0.0) -> int:
        """Number of cells the mesh will have (with a return pad of `return_thickness` m if the
        geometry has a return electrode): to check a 3D size before meshing it."""
        depth = self.depth_sizes(layers, donor_thickness)
        skin = sum(len(s) for s in depth[-len(layers) :])
        donor = len(depth[0]) if donor_thickness > 0 else 0
        lateral = [self.lateral_sizes(layers, axis) for axis in range(self.dim - 1)]
        across = math.prod(sum(len(s) for s in segments) for segments in lateral)
        if not self.has_return_electrode:
            return across * (skin + donor)
        pad = len(self.pad_sizes(layers, return_thickness)) if return_thickness > 0 else 0
        anode, inner, outer = self.edges

        def cells_within(axis: int, lo: float, hi: float) -> int:  # of the segments centred in (lo, hi)
            breaks = self.lateral_breaks(axis)
            return sum(len(s) for a, b, s in zip(breaks[:-1], breaks[1:], lateral[axis]) if lo < (a + b) / 2 < hi)

        beside = cells_within(1, 0.0, anode) if self.kind == "block" else 1  # both electrodes in y
        return across * skin + beside * (cells_within(0, 0.0, anode) * donor + cells_within(0, inner, outer) * pad)


def _check_apart(ordered: list[tuple[float, ...]], half: float, tol: float, field: str) -> None:
    """No two channels (sorted by x) overlap."""
    for i, a in enumerate(ordered):  # sorted by x: stop once x is more than a width apart
        for b in ordered[i + 1 :]:
            if b[0] - a[0] >= 2 * half - tol:
                break
            if all(abs(p - q) < 2 * half - tol for p, q in zip(a, b)):
                raise ValueError(f"{field}: the channels at {_point_text(a)} and {_point_text(b)} overlap")


def _point_text(centre: tuple[float, ...]) -> str:
    """A channel centre for messages: "x = 0.0003 m" or "(x, y) = (0.0003, 0) m"."""
    if len(centre) == 1:
        return f"x = {centre[0]:g} m"
    return f"(x, y) = ({centre[0]:g}, {centre[1]:g}) m"
