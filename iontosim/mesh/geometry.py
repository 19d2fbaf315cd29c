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

Cell sizes. Transport is steepest across the stratum corneum (the barrier, with Donnan jumps on
both faces) and, under a finite electrode, at the electrode edges where the current crowds. So the
top skin layer gets ``surface_cells`` uniform cells across its thickness, the cells next to every
electrode edge are as wide as those, and away from both the cell size grows geometrically by
``growth`` per cell up to ``max_size``. A geometric sequence has sizes that grow linearly with the
distance d from the refined feature, h(d) ~ h0 + (growth - 1) d; ``resolution`` divides h0,
(growth - 1) and ``max_size`` alike, so it scales the whole size function (2 = twice finer
everywhere) the way ``numerics.refinement`` scales the 1D column.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

Kind = Literal["column", "planar", "axisymmetric", "block"]
PositiveLength = Annotated[float, Field(gt=0)]

#: (name, thickness in m) of each skin layer, top (electrode side) first
LayerSpec = tuple[str, float]


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


def _segment_sizes(length: float, fine_start: bool, fine_end: bool,
                   first: float, growth: float, cap: float) -> np.ndarray:
    """Sizes along a segment refined toward the ends that carry an electrode edge."""
    if fine_start and fine_end:
        half = graded_sizes(length / 2, first, growth, cap)
        return np.concatenate([half, half[::-1]])
    if fine_end:
        return graded_sizes(length, first, growth, cap)[::-1]
    return graded_sizes(length, first, growth, cap)


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
    #: size ratio of neighbouring cells away from the stratum corneum and the electrode edges
    growth: Annotated[float, Field(gt=1, le=2)] = 1.3
    #: largest cell size at resolution 1 (m); default: a tenth of the skin depth
    max_size: PositiveLength | None = None

    @model_validator(mode="after")
    def _fits(self) -> Geometry:
        if self.kind == "column":
            return self
        if self.kind == "planar" and self.return_gap is None and self.return_width is None:
            # laterally uniform: an anode over the whole width, the deep tissue as the return
            if self.width is None or self.anode_width is None or abs(self.anode_width / 2 - self.width) > 1e-12 * self.width:
                raise ValueError("without a return electrode the anode must cover the whole width "
                                 "(anode_width = 2 width): the deep tissue is then the return")
            return self
        missing = [name for name in ("width", "anode_width", "return_gap", "return_width")
                   if getattr(self, name) is None]
        if missing:
            raise ValueError(f"a {self.kind} geometry needs {', '.join(missing)}")
        anode, _, outer = self.edges
        if outer >= self.width:
            raise ValueError(f"the return electrode ends at {outer:g} m, beyond the modelled "
                             f"width {self.width:g} m")
        if self.kind == "block" and anode >= self.width:
            raise ValueError("the anode is wider than the modelled block")
        return self

    # ------------------------------------------------------------ shape
    @property
    def dim(self) -> int:
        """Topological (and geometric) dimension of the mesh."""
        return {"column": 1, "planar": 2, "axisymmetric": 2, "block": 3}[self.kind]

    @property
    def laterally_uniform(self) -> bool:
        """An anode over the whole (planar) width and no return electrode: the 1D column's problem."""
        return self.kind == "planar" and self.return_gap is None and self.return_width is None

    @property
    def edges(self) -> tuple[float, float, float]:
        """Lateral positions (m) of the anode edge and of the inner and outer return edges."""
        anode = self.anode_width if self.kind == "axisymmetric" else self.anode_width / 2
        inner = anode + self.return_gap
        return anode, inner, inner + self.return_width

    def lateral_breaks(self, axis: int) -> list[float]:
        """Segment ends along lateral `axis` (0: x, 1: y of block): every electrode edge is one."""
        if self.laterally_uniform:
            return [0.0, self.width]
        anode, inner, outer = self.edges
        if axis == 0:
            return [0.0, anode, inner, outer, self.width]
        return [0.0, anode, self.width]  # both electrodes span [0, anode] in y

    # ------------------------------------------------------------ sizes
    def size_function(self, layers: Sequence[LayerSpec]) -> tuple[float, float, float]:
        """(first size h0, growth, cap) after `resolution`: h0 is the stratum-corneum cell."""
        top = layers[0][1]
        h0 = top / max(1, round(self.surface_cells * self.resolution))
        cap = (self.max_size or 0.1 * sum(t for _, t in layers)) / self.resolution
        return h0, 1.0 + (self.growth - 1.0) / self.resolution, max(cap, h0)

    def depth_sizes(self, layers: Sequence[LayerSpec], donor_thickness: float) -> list[np.ndarray]:
        """Cell sizes (m, top to bottom) of the donor pad (if any) and of each skin layer.

        The stratum corneum is uniform; the donor grows away from the skin surface and every
        deeper layer continues the growth of the one above it, so sizes never jump at interfaces.
        """
        if not layers:
            raise ValueError("at least one skin layer is needed")
        h0, growth, cap = self.size_function(layers)
        n_top = max(1, round(layers[0][1] / h0))
        regions = [np.full(n_top, layers[0][1] / n_top)]
        for _, thickness in layers[1:]:
            regions.append(graded_sizes(thickness, regions[-1][-1] * growth, growth, cap))
        if donor_thickness > 0:
            regions.insert(0, graded_sizes(donor_thickness, h0, growth, cap)[::-1])
        return regions

    def lateral_sizes(self, layers: Sequence[LayerSpec], axis: int) -> list[np.ndarray]:
        """Cell sizes (m) along each segment of `lateral_breaks(axis)`, fine at electrode edges."""
        h0, growth, cap = self.size_function(layers)
        breaks = self.lateral_breaks(axis)
        edges = set(breaks[1:-1])
        return [_segment_sizes(b - a, a in edges, b in edges, h0, growth, cap)
                for a, b in zip(breaks[:-1], breaks[1:])]

    def cell_count(self, layers: Sequence[LayerSpec], donor_thickness: float) -> int:
        """Number of cells the mesh will have: to check a 3D size before meshing it."""
        depth = self.depth_sizes(layers, donor_thickness)
        skin = sum(len(s) for s in depth[-len(layers):])
        donor = len(depth[0]) if donor_thickness > 0 else 0
        lateral = [self.lateral_sizes(layers, axis) for axis in range(self.dim - 1)]
        across = math.prod(sum(len(s) for s in segments) for segments in lateral)
        under_anode = math.prod(len(segments[0]) for segments in lateral)
        return across * skin + under_anode * donor
