"""Fields of a model's current state: files for ParaView, the current density at the skin surface,
and maps of the section.

Fields (all collective over ``model.comm``; names carry their units):

- ``c_<species> [mol/m^3]``: total pore-fluid concentration of every species (both forms of a weak
  electrolyte, ``model.dissolved_of``; for H+ the free protons) at every vertex of every cell.
  Partition and Donnan jumps make it
  discontinuous at layer interfaces, so it lives in the discontinuous P1/Q1 space (DG1), which
  holds exactly the nodal values the solver works with.
- ``potential [V]``: psi times the thermal voltage RT/F, DG1 (it jumps at interfaces too).
- ``current_density [A/m^2]``: i = F sum over mobile forms (``model.forms``, weak-electrolyte
  partner forms included) of z J, J the transport term's flux (physics/transport.py: diffusion
  with migration, fitted or lumped, plus c v when the model has electroosmotic flow). Stored
  constant in each cell (in the same DG1 space, so that one VTX file holds every field): the
  cell-wise flux of the discretization, see below.

Cell-wise current. Where the solver integrates J with vertex quadrature (the lumped flux, the
fitted one on boxes, convection), the flux it balances in a cell is the mean over the cell's
vertices of J (the vertex-quadrature projection of J onto cell-wise constants); where it takes J
at the cell midpoint (the fitted flux on simplices, the 1D column's included), that value. This
is what the current field holds. In 1D and on a laterally uniform patch it is exactly the flux of
the discrete conservation law: the current through any horizontal section equals the applied
current to solver tolerance when charge is conserved (strong electrolytes; weak ones exchange
protons with the layers' buffers, see simulation.py). Per-vertex values of J would not be
conservative: on the two sides of a facet they differ by O(h).

File formats. VTX (``.bp`` folder, ADIOS2, dolfinx.io.VTXWriter) holds DG1 fields directly.
XDMF (``.xdmf`` + ``.h5``, dolfinx.io.XDMFFile) holds only fields with the mesh's own layout, so
the fields are written on a copy of the mesh whose cells do not share vertices ("broken" mesh):
there a DG1 field is a P1 field, and ParaView shows the jumps. Both open in ParaView (VTX with the
ADIOS2VTXReader, XDMF with the "XDMF Reader" / "Xdmf3ReaderT").
"""

from __future__ import annotations

import dataclasses
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from iontosim._fenics import dolfinx, ufl
from iontosim.output.figures import axes_or_new, heading, limit_lines, save
from iontosim.output.surface_current import SurfaceCurrent
from iontosim.output.units import A_PER_M2_TO_MA_PER_CM2
from iontosim.physics.transport import NernstPlanck
from iontosim.scenario.units import duration_text

fem = dolfinx.fem

CONCENTRATION_UNIT = "mol/m^3"
POTENTIAL_NAME = "potential [V]"
CURRENT_NAME = "current_density [A/m^2]"


def concentration_name(species: str) -> str:
    return f"c_{species} [{CONCENTRATION_UNIT}]"


# ---------------------------------------------------------------------------------------- fields
class _Fields:
    """The output fields of one model on its mesh, refreshed from ``model.u`` by update().

    Every field comes from one compiled expression evaluated at the vertices of every cell (and,
    for the fitted flux on simplices, a second one at the cell midpoints), so a model compiles them once.
    """

    def __init__(self, model):
        # no reference to the model itself: the cache below is keyed by it, weakly
        self.ns = model.ns
        mesh = model.mesh
        self.gdim = gdim = mesh.geometry.dim
        ns = model.ns
        self.V = fem.functionspace(mesh, ("DG", 1))
        self.Vv = fem.functionspace(mesh, ("DG", 1, (gdim,)))
        self.n_values = ns + 1 + gdim
        packed_space = fem.functionspace(mesh, ("DG", 1, (self.n_values,)))
        self._packed = fem.Function(packed_space)
        for other in (self.Vv, packed_space):  # the copies below assume one dof numbering
            if not np.array_equal(other.dofmap.list, self.V.dofmap.list):
                raise RuntimeError("DG1 spaces of different block size number their dofs differently")
        self.concentrations = [fem.Function(self.V, name=concentration_name(n)) for n in model.names]
        self.potential = fem.Function(self.V, name=POTENTIAL_NAME)
        self.current = fem.Function(self.Vv, name=CURRENT_NAME)

        tdim = mesh.topology.dim
        self.n_owned = mesh.topology.index_map(tdim).size_local
        n_all = self.n_owned + mesh.topology.index_map(tdim).num_ghosts
        self.cell_dofs = self.V.dofmap.list[:n_all]  # (cells, vertices): DG1 dof k sits on vertex k
        geometry = mesh.geometry
        dofmap = geometry.dofmaps[0] if hasattr(geometry, "dofmaps") else geometry.dofmap
        self.cell_nodes = dofmap[: self.n_owned]
        points = self.V.tabulate_dof_coordinates()[self.cell_dofs[: self.n_owned]]
        if not np.allclose(points, geometry.x[self.cell_nodes], rtol=0, atol=1e-12 * _extent(model)):
            raise RuntimeError("DG1 dofs are not numbered like the cell vertices")

        self._vt = fem.Constant(mesh, model.thermal_voltage())
        flow = model.find(NernstPlanck)
        # with the fitted flux on simplices, the diffusion-migration current comes at the midpoint
        current = flow.current_density_vector(model, diffusion=not flow.at_midpoint)
        values = model.dissolved_of(model.c) + [model.psi * self._vt]
        moving = ufl.shape(ufl.as_ufl(current)) == (gdim,)  # else nothing moves at the vertices
        values += [current[k] for k in range(gdim)] if moving else [0.0 * model.psi] * gdim
        self._expression = fem.Expression(ufl.as_vector(values), self.V.element.interpolation_points)
        self._fitted_expression = None
        if flow.at_midpoint:  # constant in a cell: evaluated at the midpoint
            self._midpoint_space = fem.functionspace(mesh, ("DG", 0, (gdim,)))
            self._midpoint = fem.Function(self._midpoint_space)
            self._fitted_expression = fem.Expression(
                flow.midpoint_current_density(model), self._midpoint_space.element.interpolation_points
            )

    def update(self) -> None:
        """Evaluate every field from the model's state (local: no communication)."""
        self._packed.interpolate(self._expression)
        values = self._packed.x.array.reshape(-1, self.n_values)
        ns, gdim = self.ns, self.gdim
        for i, f in enumerate(self.concentrations):
            f.x.array[:] = values[:, i]
        self.potential.x.array[:] = values[:, ns]
        # the cell-wise current: the vertex mean (vertex-quadrature projection) in every cell
        per_vertex = values[self.cell_dofs][:, :, ns + 1 :]  # (cells, vertices, gdim)
        cell = per_vertex.mean(axis=1)
        if self._fitted_expression is not None:
            self._midpoint.interpolate(self._fitted_expression)
            midpoint_dofs = self._midpoint_space.dofmap.list[: len(cell), 0]
            cell = cell + self._midpoint.x.array.reshape(-1, gdim)[midpoint_dofs]
        out = self.current.x.array.reshape(-1, gdim)
        out[self.cell_dofs] = cell[:, None, :]

    def functions(self) -> list:
        return [*self.concentrations, self.potential, self.current]

    def cell_current(self) -> np.ndarray:
        """(owned cells, gdim) current density [A/m^2] of the last update()."""
        return self.current.x.array.reshape(-1, self.gdim)[self.cell_dofs[: self.n_owned, 0]]


_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _fields(model) -> _Fields:
    """The model's output fields, built (and compiled) once per model, updated to its state."""
    fields = _CACHE.get(model)
    if fields is None:
        fields = _CACHE[model] = _Fields(model)
    fields.update()
    return fields


def _extent(model) -> float:
    interfaces = model.column.interfaces
    return float(interfaces[-1] - interfaces[0])


# ------------------------------------------------------------------------------------ writing
def _broken_mesh(mesh: dolfinx.mesh.Mesh):
    """A copy of `mesh`'s owned cells in which no two cells share a vertex, kept on the same rank;
    and, per local cell of the copy, the original owned cell it copies."""
    comm = mesh.comm
    tdim = mesh.topology.dim
    n = mesh.topology.index_map(tdim).size_local
    geometry = mesh.geometry
    dofmap = geometry.dofmaps[0] if hasattr(geometry, "dofmaps") else geometry.dofmap
    nodes = dofmap[:n]
    nv = nodes.shape[1]
    x = geometry.x[nodes.ravel(), : geometry.dim]
    node_offset = comm.exscan(n * nv) or 0
    cell_offset = comm.exscan(n) or 0
    cells = (node_offset + np.arange(n * nv, dtype=np.int64)).reshape(n, nv)

    def stay(comm_, nparts, cell_types, local_cells):
        count = sum(len(c) for c in local_cells) // nv
        destinations = dolfinx.graph.adjacencylist(np.full(count, comm_.rank, dtype=np.int32))
        return getattr(destinations, "_cpp_object", destinations)

    element = mesh.ufl_domain().ufl_coordinate_element()
    broken = dolfinx.mesh.create_mesh(comm, cells, element, x, partitioner=stay)
    n_broken = broken.topology.index_map(tdim).size_local
    original = np.asarray(broken.topology.original_cell_index)[:n_broken] - cell_offset
    if n_broken != n or original.min(initial=0) < 0 or original.max(initial=-1) >= n:
        raise RuntimeError("the broken copy of the mesh did not stay on its ranks")
    return broken, original


class FieldWriter:
    """Write a model's fields at chosen times, for ParaView.

    ``FieldWriter(model, path, format="vtx")`` writes a VTX folder (``path`` with suffix ``.bp``),
    ``format="xdmf"`` an XDMF file (``.xdmf`` and its ``.h5``); ``write(t)`` adds the state of
    ``model.u`` at time t [s]; ``close()`` (or leaving a ``with`` block) finishes the file. The
    fields are listed in the module docstring. Collective over ``model.comm``.
    """

    FORMATS = ("vtx", "xdmf")

    def __init__(self, model, path, format: str = "vtx"):
        if format not in self.FORMATS:
            raise ValueError(f"unknown field format {format!r}; known: {', '.join(self.FORMATS)}")
        self.model = model
        self.format = format
        self._fields = _fields(model)
        comm = model.comm
        path = Path(path)
        self.path = path.with_suffix(".bp" if format == "vtx" else ".xdmf")
        if comm.rank == 0:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        comm.barrier()
        self._closed = False
        if format == "vtx":
            self._writer = dolfinx.io.VTXWriter(
                comm, self.path, self._fields.functions(), engine="BPFile", mesh_policy=dolfinx.io.VTXMeshPolicy.reuse
            )
            return
        # XDMF: P1 fields on the broken mesh carry the DG1 values
        broken, original = _broken_mesh(model.mesh)
        fields = self._fields
        n = fields.n_owned
        W = dolfinx.fem.functionspace(broken, ("Lagrange", 1))
        Wv = dolfinx.fem.functionspace(broken, ("Lagrange", 1, (fields.gdim,)))
        target = W.dofmap.list[:n]
        source = fields.cell_dofs[original]
        points = W.tabulate_dof_coordinates()[target]
        if not np.allclose(points, fields.V.tabulate_dof_coordinates()[source], rtol=0, atol=1e-12 * _extent(model)):
            raise RuntimeError("the broken mesh does not number its vertices like the mesh")
        self._copies = [
            (f, fem.Function(W if f.function_space is fields.V else Wv, name=f.name)) for f in fields.functions()
        ]
        self._target, self._source = target.ravel(), source.ravel()
        self._writer = dolfinx.io.XDMFFile(comm, self.path, "w")
        self._writer.write_mesh(broken)

    def write(self, t: float, refresh: bool = True) -> None:
        """Add the fields of the model's current state at time `t` [s]. Collective. `refresh`
        False: the fields were just computed for this state (another writer's write)."""
        if self._closed:
            raise RuntimeError("this FieldWriter is closed")
        if refresh:
            self._fields.update()
        if self.format == "vtx":
            self._writer.write(float(t))
            return
        for field, copy in self._copies:
            bs = field.function_space.dofmap.index_map_bs
            copy.x.array.reshape(-1, bs)[self._target] = field.x.array.reshape(-1, bs)[self._source]
            copy.x.scatter_forward()
            self._writer.write_function(copy, float(t))

    def close(self) -> None:
        if not self._closed:
            self._writer.close()
            self._closed = True

    def __enter__(self) -> FieldWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# ------------------------------------------------------------------ current at the skin surface
def _lateral_kind(model) -> str:
    geometry = getattr(model.column, "geometry", None)
    if geometry is not None:
        return geometry.kind
    return "column" if model.mesh.topology.dim == 1 else "planar"


def surface_current_density(model) -> tuple[np.ndarray, np.ndarray]:
    """Normal current density into the skin across the skin surface (depth 0), along it.

    Evaluated in the top skin layer's cells that touch the skin surface: the depth component of
    the current density i = F sum z J averaged over the cell (SurfaceCurrent.cell_crossing: the same
    numbers as the run's peak local current density in summary.json; on the 1D column, the
    cell-wise current of the module docstring at its one cell's midpoint), in A/m^2, positive
    into the skin (an anode above it), negative where current leaves the skin (under a return
    electrode). It is the current of the first stratum-corneum cell, not on the surface itself.

    Returns, on every rank, (positions, values) sorted by position: the lateral position of each
    cell's midpoint in m, x for a planar patch, r for an axisymmetric one, (x, y) rows for a block
    (sorted by x, then y), 0 for the 1D column (its one cell). Collective over ``model.comm``.
    """
    crossing = model.find(SurfaceCurrent)
    if crossing is not None:  # a patch: its surface row
        lateral, integrals, volumes = crossing.surface_row(model)
        return (lateral[:, 0] if model.depth_axis == 1 else lateral), integrals / volumes
    chosen = model.surface_row_cells  # the column: its one cell
    values = np.concatenate(model.comm.allgather(_fields(model).cell_current()[chosen, model.depth_axis]))
    return np.zeros(len(values)), values


# ------------------------------------------------------------------------------------ pictures
@dataclass
class FieldPicture:
    """What the field pictures of one moment show, gathered on rank 0 (capture): the section's cell
    faces (lateral, depth) [m] with the species' total concentration [mol/m^3] and the potential [V]
    at their vertices, the layer interfaces [m], and the current density into the skin along its
    surface [A/m^2] with the lateral positions [m]. Plain arrays: a Result keeps them after the model
    is gone."""

    title: str
    species: str
    time: float  # s
    gdim: int
    kind: str  # column, planar, axisymmetric or block
    x: np.ndarray
    c: np.ndarray
    phi: np.ndarray
    interfaces: np.ndarray
    positions: np.ndarray
    current: np.ndarray
    limit: float | None  # A/m^2, the safety limit of the current density
    geometry: Any = None  # iontosim.mesh.geometry.Geometry of a patch
    protocol: str = ""  # the scenario's protocol, as titles show it
    current_on: bool | None = None  # whether the current was on at `time` (None: not known)
    #: the appendage channels' mouths: lateral (start, end) [m] along the drawn axis (x or r)
    channels: list[tuple[float, float]] = dataclasses.field(default_factory=list)

    @property
    def moment(self) -> str:
        """When the picture was taken, for titles: "at 20 min (current on)"."""
        state = {True: " (current on)", False: " (current off)", None: ""}[self.current_on]
        return f"at {duration_text(self.time)}{state}"


def capture(
    model, species: str | None = None, time: float = 0.0, current_on: bool | None = None
) -> FieldPicture | None:
    """The pictures' data of the model's present state at `time` [s] (collective; rank 0 gets it,
    the others None)."""
    species = species or model.scenario.drug
    index = model.names.index(species)
    fields = _fields(model)
    positions, current = surface_current_density(model)
    gathered = model.comm.gather(_section(model, fields, index), root=0)
    channels = _channel_mouths(model)
    if model.comm.rank != 0:
        return None
    x, c, phi = (np.concatenate([g[k] for g in gathered]) for k in range(3))
    geometry = getattr(model.column, "geometry", None)
    return FieldPicture(
        title=f"{model.scenario.name}: {species}",
        species=species,
        time=time,
        gdim=fields.gdim,
        kind=_lateral_kind(model),
        x=x,
        c=c,
        phi=phi,
        interfaces=np.asarray(model.column.interfaces, dtype=float),
        positions=positions,
        current=current,
        limit=model.scenario.safety.max_current_density,
        geometry=geometry,
        protocol=model.scenario.protocol_text(),
        current_on=current_on,
        channels=channels,
    )


def _channel_mouths(model) -> list[tuple[float, float]]:
    """The appendage channels' mouths on the skin surface, lateral (start, end) [m] along x or r
    (collective): the built-in mesher's channels from the geometry (on a block those crossing the
    y = 0 plane, each once); a mesh file's from its appendage cells on the surface, touching
    cells merged into one span (2D)."""
    geometry = model.geometry
    if geometry is None or geometry.dim < 2:
        return []
    if geometry.mesh is None:
        return sorted({fp[0] for fp in geometry.appendage_footprints() if len(fp) == 1 or fp[1][0] == 0.0})
    if geometry.dim != 2:
        return []
    n = len(model.layer_of_cell)
    lateral = model.vertex_lateral().reshape(n, -1)[model.appendage_cells & model.surface_row_cells]
    spans = sorted(
        (float(lo), float(hi))
        for part in model.comm.allgather(np.column_stack([lateral.min(axis=1), lateral.max(axis=1)]))
        for lo, hi in part
    )
    merged: list[tuple[float, float]] = []
    for lo, hi in spans:
        if merged and lo <= merged[-1][1] * (1 + 1e-9):
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


def _section(model, fields: _Fields, species: int):
    """This rank's section: (lateral, depth) of the vertices of every drawn cell face (faces, k, 2)
    and the drug total and potential there (faces, k): the owned cells in 1D and 2D, the cell faces
    on the y = 0 plane in 3D (quadrilateral faces in tensor order)."""
    mesh = model.mesh
    gdim = fields.gdim
    x = mesh.geometry.x[fields.cell_nodes][:, :, :gdim]
    dofs = fields.cell_dofs[: fields.n_owned]
    c = fields.concentrations[species].x.array[dofs]
    phi = fields.potential.x.array[dofs]
    if gdim <= 2:
        return x, c, phi
    on_plane = np.abs(x[:, :, 1]) <= 1e-9 * _extent(model)
    keep = on_plane.sum(axis=1) == 4  # hexahedra with a face on y = 0
    faces, cf, pf = [], [], []
    for xs, cs, ps, mask in zip(x[keep], c[keep], phi[keep], on_plane[keep]):
        xs, cs, ps = xs[mask][:, [0, 2]], cs[mask], ps[mask]
        order = np.lexsort((xs[:, 0], xs[:, 1]))  # tensor order: x fastest, then depth
        faces.append(xs[order])
        cf.append(cs[order])
        pf.append(ps[order])
    shape = (-1, 4)
    return (np.array(faces).reshape(*shape, 2), np.array(cf).reshape(shape), np.array(pf).reshape(shape))


def _triangles(n_cells: int, nv: int) -> np.ndarray:
    """Triangles over the copies of every cell's vertices (cell k owns points k nv .. k nv + nv - 1)."""
    local = np.array([[0, 1, 2]]) if nv == 3 else np.array([[0, 1, 3], [0, 3, 2]])  # quads: tensor order
    return (np.arange(n_cells)[:, None, None] * nv + local[None]).reshape(-1, 3)


def _heading(fig: Figure, p: FieldPicture, what: str = "") -> None:
    """The house heading (figures.heading) with the moment the picture was taken."""
    scenario, species = p.title.split(": ", 1) if ": " in p.title else (p.title, p.species)
    heading(fig, scenario, f"{what or species} {p.moment}", p.protocol)


def _zoom(p: FieldPicture) -> tuple[tuple[float, float] | None, tuple[float, float]]:
    """Where the physics is [m]: a lateral window (None: the whole width) and a depth window (top,
    bottom). Laterally, around the first appendage channel (the current and the drug crowd into
    it), else around the anode's edge; in depth, a little of the donor through the top two skin
    layers."""
    interfaces = p.interfaces
    skin = interfaces[interfaces >= 0]
    top_layer = skin[1] - skin[0] if len(skin) > 1 else 20e-6
    above = -max(0.5 * top_layer, 10e-6)
    channels = p.channels
    if channels:  # the channel's mouth, its length and where it opens below
        lo, hi = channels[0]
        return (max(0.0, lo - 6.0 * (hi - lo)), hi + 6.0 * (hi - lo)), (above, top_layer * 1.5)
    depth = (above, skin[min(2, len(skin) - 1)] if len(skin) > 1 else interfaces[-1])
    geometry = p.geometry
    if geometry is not None and p.kind != "column" and not geometry.laterally_uniform:
        edge = geometry.edges[0]
        reach = depth[1] - depth[0]
        return (max(0.0, edge - reach), edge + reach), depth
    return None, depth


def draw_fields(picture: FieldPicture, axes: Any = None) -> Figure:
    """Maps of the species' total concentration (log colour scale, mol/m³) and of the potential [V]
    over the section: the skin with a little of the donor (left) and where the physics is (right:
    an appendage channel or the anode's edge, the top skin layers); lateral in mm, depth in µm
    pointing down, channels outlined (four axes). 2D meshes are drawn cell by cell with their
    discontinuous (DG1) values, 3D meshes by their y = 0 mirror plane; a 1D column as depth
    profiles (two axes)."""
    from matplotlib.colors import LogNorm

    p = picture
    peak = float(np.max(p.c, initial=0.0))
    floor = max(peak, 1e-300) * 1e-8
    c = np.maximum(p.c, floor)
    interfaces = p.interfaces
    if p.gdim == 1:
        return _draw_column(p, c, axes)
    fig, grid = axes_or_new(axes, 4, (13, 9), columns=2)
    n_cells, nv = c.shape
    lateral = p.x[:, :, 0].ravel() * 1e3  # mm
    depth = p.x[:, :, 1].ravel() * 1e6  # µm
    triangles = _triangles(n_cells, nv)
    skin = interfaces[interfaces >= 0]
    skin_depth = skin[-1] if len(skin) else interfaces[-1]
    whole = (None, (max(interfaces[0], -0.2 * skin_depth), skin_depth))  # the donor at most a sixth
    lateral_zoom, depth_zoom = _zoom(p)
    zoom_name = "near the channel" if p.channels else "near the anode edge" if lateral_zoom else "near the surface"
    lateral_label = {"axisymmetric": "r [mm]", "block": "x [mm] (y = 0 plane)"}.get(p.kind, "x [mm]")
    maps = (
        (
            c.ravel(),
            f"{p.species} total concentration [mol/m³]",
            LogNorm(vmin=floor, vmax=max(peak, floor * 10)),
            "viridis",
        ),
        (p.phi.ravel(), "potential [V]", None, "coolwarm"),
    )
    for row, (values, label, norm, cmap) in enumerate(maps):
        for col, (across, down) in enumerate((whole, (lateral_zoom, depth_zoom))):
            ax = grid[2 * row + col]
            if n_cells:
                art = ax.tripcolor(lateral, depth, triangles, values, shading="gouraud", norm=norm, cmap=cmap)
                fig.colorbar(art, ax=ax, label=label)
            for z in interfaces:
                ax.axhline(z * 1e6, color="0.3", ls="--", lw=0.5)
            for lo, hi in p.channels:  # the channels cross the top skin layer
                bottom = skin[1] if len(skin) > 1 else skin_depth
                ax.plot([lo * 1e3, lo * 1e3, hi * 1e3, hi * 1e3], [0, bottom * 1e6, bottom * 1e6, 0], color="w", lw=0.8)
            if across is not None:
                ax.set_xlim(across[0] * 1e3, across[1] * 1e3)
            ax.set_ylim(down[1] * 1e6, down[0] * 1e6)  # depth grows downward
            ax.set_xlabel(lateral_label)
            ax.set_ylabel("depth [µm]")
            ax.set_title(
                label.split(" [")[0] + (f" ({zoom_name})" if col else " (skin, top of the donor)"), fontsize=10
            )
    _heading(fig, p)
    return fig


def _draw_column(p: FieldPicture, c: np.ndarray, axes: Any) -> Figure:
    fig, (ax_c, ax_p) = axes_or_new(axes, 2, (12, 4.5), columns=2)
    depth = p.x[:, :, 0].ravel() * 1e6
    order = np.argsort(depth, kind="stable")
    ax_c.plot(depth[order], c.ravel()[order], color="tab:blue")
    ax_c.set_yscale("log")
    ax_c.set_ylabel(f"{p.species} total concentration [mol/m³]")
    ax_p.plot(depth[order], p.phi.ravel()[order], color="tab:purple")
    ax_p.set_ylabel("potential [V]")
    skin = p.interfaces[p.interfaces >= 0]
    linthresh = (skin[1] - skin[0]) * 1e6 if len(skin) > 1 else 10.0
    for ax in (ax_c, ax_p):
        ax.set_xscale("symlog", linthresh=max(linthresh, 1e-3))  # linear across the top skin layer
        ax.set_xlabel("depth [µm] (linear across the top skin layer, logarithmic below)")
        for z in p.interfaces:
            ax.axvline(z * 1e6, color="0.5", ls="--", lw=0.6)
        ax.grid(alpha=0.3)
    ax_c.set_title(p.species, fontsize=10)
    ax_p.set_title("potential", fontsize=10)
    _heading(fig, p)
    return fig


def draw_surface_current(picture: FieldPicture, axes: Any = None) -> Figure:
    """Current density into the skin [mA/cm²] along the skin surface, with the safety limit (and
    its negative when current also leaves the skin), the electrodes shaded and the appendage
    channels marked; a symmetric-log axis when a channel's spike would flatten the rest. On a block
    the row of cells nearest y = 0 is drawn."""
    p = picture
    positions, values = np.asarray(p.positions, dtype=float), np.asarray(p.current, dtype=float)
    geometry, kind, limit = p.geometry, p.kind, p.limit
    if positions.ndim == 2:  # block: the first row of cells in y
        row = np.isclose(positions[:, 1], positions[:, 1].min(initial=0.0), rtol=1e-9, atol=0.0)
        positions, values = positions[row, 0], values[row]
    fig, (ax,) = axes_or_new(axes, 1, (8, 4.8))
    ma = values * A_PER_M2_TO_MA_PER_CM2
    ax.plot(
        positions * 1e3,
        ma,
        marker="o" if len(ma) < 30 else None,
        ms=3,
        color="tab:green",
        label="into the skin (top skin-layer cells)",
    )
    if geometry is not None and kind not in (None, "column"):
        if geometry.laterally_uniform:
            ax.axvspan(0.0, geometry.width * 1e3, color="tab:red", alpha=0.08, lw=0, label="anode")
        else:
            anode, inner, outer = geometry.edges
            ax.axvspan(0.0, anode * 1e3, color="tab:red", alpha=0.08, lw=0, label="anode")
            ax.axvspan(inner * 1e3, outer * 1e3, color="tab:blue", alpha=0.1, lw=0, label="return electrode")
    for k, (lo, hi) in enumerate(p.channels):
        ax.axvspan(
            lo * 1e3, hi * 1e3, color="tab:purple", alpha=0.25, lw=0, label="appendage channel" if k == 0 else None
        )
    limit_ma = None if limit is None else limit * A_PER_M2_TO_MA_PER_CM2
    if limit_ma is not None:
        limit_lines(ax, limit_ma, ma, f"{limit_ma:g} mA/cm² limit")
    magnitude = np.abs(ma[np.isfinite(ma)])
    typical = float(np.median(magnitude)) if magnitude.size else 0.0
    if magnitude.size and typical > 0 and magnitude.max() > 30 * typical:
        ax.set_yscale("symlog", linthresh=min(typical, limit_ma or typical))
        low = float(np.min(ma[np.isfinite(ma)]))
        ax.set_ylim(min(low * 2, -(limit_ma or 0) * 2) if low < 0 else 0.0, magnitude.max() * 2)
        ax.set_ylabel("current density into the skin [mA/cm²]\n(linear near 0, logarithmic beyond)")
    else:
        ax.set_ylabel("current density into the skin [mA/cm²]")
    ax.axhline(0.0, color="0.5", lw=0.5)
    lateral = {"axisymmetric": "r", "block": "x (y = first cell row)"}.get(kind, "x")
    ax.set_xlabel(f"{lateral} along the skin surface [mm]")
    _heading(fig, p, "current density across the skin surface")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def write_pictures(picture: FieldPicture, folder: Path) -> list[Path]:
    """fields.png and surface_current.png of a run directory."""
    return [
        save(draw_fields(picture), Path(folder) / "fields.png"),
        save(draw_surface_current(picture), Path(folder) / "surface_current.png"),
    ]
