"""Field output (iontosim/output/fields.py): files ParaView opens, the current at the skin surface, maps.

The patch is the default scenario's skin under its gel on a laterally uniform planar strip (the
anode over the whole 0.1 mm width, half resolution, cells of at most 32 um: 1044 quadrilaterals, 4
across the strip, which is laterally uniform and so has no finer cells toward an edge), after
20 s at the LidoSite current (1.77 mA over 5 cm^2 = 3.54 A/m^2), as simulate() leaves it at its
profile time. The applied current then enters the skin uniformly and, where charge is conserved,
crosses every horizontal section whole.

Measured (1 and 2 ranks alike):
- strong electrolytes (ionization: strong_electrolyte), with the lumped and with the fitted flux
  (at the vertices of the boxes): the surface current density and the current through horizontal
  lines in the stratum corneum, viable epidermis and hypodermis equal the applied
  current to 1e-11 (tolerance 1e-8, the solver's); the same on the 1D column with the fitted flux
  (the lumped formula there would be 2 % off: the fitted flux is what the field evaluates);
- the default (weak electrolytes): uniform to round-off, 4.1e-4 below the applied current
  (tolerance 1e-3): the partner forms of lidocaine and epinephrine exchange protons with the
  layers' fixed pH, which the charge balance does not see (simulation.py: buffer uptake).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from mpi4py import MPI

from iontosim._fenics import dolfinx
from iontosim.mesh.geometry import Geometry
from iontosim.mesh.skin_mesh import build_skin_mesh
from iontosim.output import fields
from iontosim.scenario.load import scenario_from_dict
from iontosim.simulation import simulate
from tests.conftest import default_short_data, python_on_two_ranks

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
WIDTH = 1e-4  # m, the strip
ACROSS = 4  # its cells across: geometry.max_size 16 um at resolution 0.5
APPLIED = 1.77e-3 / 5e-4  # A/m^2
EXACT = 1e-8  # where charge is conserved: the solver's tolerance
WEAK = 1e-3  # weak electrolytes (measured 4.1e-4)


def solve(ionization: str = "weak_electrolyte", kind: str = "planar", comm=MPI.COMM_SELF, flux: str = "lumped"):
    """The model after 20 s of current (its state at the profile time) and the run's record."""
    data = default_short_data(on="20 s", rest=None)
    data["ionization"] = ionization
    data["numerics"] = {"flux": flux}
    skin_mesh = None
    if kind == "column":  # the model's own column, with the fitted flux at half resolution
        data["numerics"] = {"flux": "fitted", "refinement": 0.5}
    scenario = scenario_from_dict(data)
    if kind == "planar":
        layers = [(layer.name, layer.thickness) for layer in scenario.skin]
        skin_mesh = build_skin_mesh(
            comm,
            layers,
            scenario.donor.thickness,
            Geometry(kind="planar", width=WIDTH, anode_width=2 * WIDTH, resolution=0.5, max_size=1.6e-5),
        )
    seen = {}
    record = simulate(scenario, comm, skin_mesh=skin_mesh, fields=lambda model, t: seen.update(model=model, t=t))
    assert seen["t"] == pytest.approx(20.0)
    assert record.series["current_density"][-1] == pytest.approx(APPLIED, rel=1e-12)
    return seen["model"]


@pytest.fixture(scope="module", params=["lumped", "fitted"])
def strong_patch(request):
    model = solve("strong_electrolyte", flux=request.param)
    assert model.flux_used == request.param
    return model


@pytest.fixture(scope="module")
def default_patch():
    return solve()


@pytest.fixture(scope="module")
def strong_column():
    return solve("strong_electrolyte", kind="column")


def line_current(model, depth: float, n: int = 41) -> float:
    """Integral of the current density's depth component over the horizontal line at `depth`
    across the strip [A/m] (serial: point evaluation)."""
    f = fields._fields(model).current
    mesh = model.mesh
    points = np.zeros((n, 3))
    points[:, 0] = np.linspace(0.0, WIDTH, n)
    points[:, 1] = depth
    tree = dolfinx.geometry.bb_tree(mesh, mesh.topology.dim)
    colliding = dolfinx.geometry.compute_colliding_cells(
        mesh, dolfinx.geometry.compute_collisions_points(tree, points), points
    )
    cells = np.array([colliding.links(k)[0] for k in range(n)], dtype=np.int32)
    values = f.eval(points, cells)[:, 1]
    return float(np.sum(0.5 * (values[1:] + values[:-1]) * np.diff(points[:, 0])))


def row_depth(model, layer: int) -> float:
    """Depth of the midpoints of one row of cells inside `layer` (no facet there)."""
    x = model.mesh.geometry.x[fields._fields(model).cell_nodes][:, :, 1].mean(axis=1)
    return float(np.median(x[model.layer_of_cell == layer]))


# ------------------------------------------------------------------ current density
def test_the_applied_current_enters_the_skin_uniformly(strong_patch):
    positions, values = fields.surface_current_density(strong_patch)
    assert len(values) == ACROSS and np.all(np.diff(positions) > 0)
    assert 0 < positions[0] and positions[-1] < WIDTH
    assert values == pytest.approx(np.full(ACROSS, APPLIED), rel=EXACT)  # measured 1e-11
    from iontosim.output.surface_current import SurfaceCurrent

    crossed = strong_patch.find(SurfaceCurrent).crossed(strong_patch)  # the run's own peak
    assert crossed["peak"] == pytest.approx(APPLIED, rel=EXACT) and 0 < crossed["where"][0] < WIDTH


@pytest.mark.parametrize("layer", [1, 2, 5])  # stratum corneum, viable epidermis, hypodermis
def test_the_current_crosses_every_horizontal_line_whole(strong_patch, layer):
    assert line_current(strong_patch, row_depth(strong_patch, layer)) == pytest.approx(APPLIED * WIDTH, rel=EXACT)


def test_weak_electrolytes_the_surface_current_is_uniform_and_nearly_the_applied(default_patch):
    positions, values = fields.surface_current_density(default_patch)
    assert np.ptp(values) <= 1e-9 * APPLIED
    assert values == pytest.approx(np.full(len(values), APPLIED), rel=WEAK)  # measured -4.1e-4
    assert line_current(default_patch, row_depth(default_patch, 1)) == pytest.approx(APPLIED * WIDTH, rel=WEAK)


def test_the_plotted_surface_current_is_the_one_the_run_reports(default_patch):
    """summary.json's peak local current density (SurfaceCurrent.crossed) and the surface-current
    plot (fields.surface_current_density) are one quantity: the largest plotted value, and where it
    is, are the run's peak to rounding."""
    from iontosim.output.surface_current import SurfaceCurrent

    crossed = default_patch.find(SurfaceCurrent).crossed(default_patch)
    positions, values = fields.surface_current_density(default_patch)
    k = int(np.argmax(np.abs(values)))
    assert crossed["peak"] == pytest.approx(values[k], rel=1e-12)
    assert crossed["where"][0] == pytest.approx(positions[k], rel=1e-12)


def test_the_column_with_the_fitted_flux(strong_column, tmp_path):
    assert strong_column.flux_used == "fitted"
    positions, values = fields.surface_current_density(strong_column)
    assert positions.tolist() == [0.0]
    assert values[0] == pytest.approx(APPLIED, rel=EXACT)  # the lumped formula: 2 % off
    cell = fields._fields(strong_column).cell_current()[:, 0]
    assert cell == pytest.approx(np.full(len(cell), APPLIED), rel=EXACT)  # every cell of the column
    for kind in fields.FieldWriter.FORMATS:
        with fields.FieldWriter(strong_column, tmp_path / "column", format=kind) as writer:
            writer.write(20.0)
    assert (tmp_path / "column.bp" / "md.idx").is_file() and (tmp_path / "column.h5").is_file()
    assert pictures(strong_column, tmp_path)[0].read_bytes().startswith(PNG_MAGIC)


# ------------------------------------------------------------------ the fields themselves
def test_the_fields_hold_the_solver_nodal_values(default_patch):
    m = default_patch
    f = fields._fields(m)
    dofs = f.cell_dofs[: f.n_owned].ravel()  # (owned cell, vertex), the order of the nodal views
    totals = m.nodal_totals()
    for i, c in enumerate(f.concentrations):
        assert c.name == f"c_{m.names[i]} [mol/m^3]"
        assert c.x.array[dofs] == pytest.approx(totals[i], rel=1e-12, abs=0)
    assert f.potential.name == "potential [V]" and f.current.name == "current_density [A/m^2]"
    assert f.potential.x.array[dofs] == pytest.approx(m.u.x.array[m.psi_dofs] * m.thermal_voltage(), rel=1e-12)


def test_vtx_folder(default_patch, tmp_path):
    with fields.FieldWriter(default_patch, tmp_path / "out" / "fields.bp", format="vtx") as writer:
        writer.write(10.0)
        writer.write(20.0)
    folder = tmp_path / "out" / "fields.bp"
    assert writer.path == folder and folder.is_dir()
    names = {p.name for p in folder.iterdir()}
    assert {"md.idx", "md.0", "data.0"} <= names
    metadata = (folder / "md.0").read_bytes()  # the VTK schema ParaView reads names the fields
    for name in ["c_lidocaine [mol/m^3]", "c_Cl- [mol/m^3]", "potential [V]", "current_density [A/m^2]"]:
        assert f'Name="{name}"'.encode() in metadata
    assert (folder / "data.0").stat().st_size > 10_000


def test_xdmf_file_reads_back(default_patch, tmp_path):
    import re

    import h5py

    m = default_patch
    with fields.FieldWriter(m, tmp_path / "fields", format="xdmf") as writer:
        writer.write(10.0)
        writer.write(20.0)
    xdmf = tmp_path / "fields.xdmf"
    with dolfinx.io.XDMFFile(MPI.COMM_SELF, xdmf, "r") as f:
        mesh = f.read_mesh(name="mesh")
    cells = m.mesh.topology.index_map(2).size_global
    assert mesh.topology.index_map(2).size_global == cells
    assert mesh.geometry.index_map().size_global == 4 * cells  # every cell its own vertices
    text = xdmf.read_text()
    assert text.count('<Time Value="20"') == text.count('<Time Value="10"') == len(m.names) + 2  # one grid per field
    items = re.findall(r'Format="HDF">([^<]+)</DataItem>', text)
    f = fields._fields(m)
    with h5py.File(tmp_path / "fields.h5", "r") as h5:
        for item in items:  # every reference resolves
            file, path = item.split(":", 1)
            assert file == "fields.h5" and path in h5, path
        potential = h5["/Function/potential [V]/20"][:].ravel()
        current = h5["/Function/current_density [A/m^2]/20"][:]
    owned = f.cell_dofs[: f.n_owned].ravel()
    assert np.sort(potential) == pytest.approx(np.sort(f.potential.x.array[owned]), rel=1e-12)
    assert current.shape == (4 * cells, 3) and not current[:, 2].any()  # XDMF pads vectors to 3D
    assert np.sort(current[:, 1]) == pytest.approx(np.sort(f.current.x.array.reshape(-1, 2)[owned, 1]), rel=1e-12)


def test_unknown_format_is_refused(default_patch, tmp_path):
    with pytest.raises(ValueError, match="unknown field format"):
        fields.FieldWriter(default_patch, tmp_path / "x", format="vtk")


def pictures(model, folder: Path, species: str | None = None) -> list[Path] | None:
    """fields.png and surface_current.png of the model's state (collective; None off rank 0)."""
    picture = fields.capture(model, species)
    return fields.write_pictures(picture, folder) if picture is not None else None


def test_pictures(default_patch, tmp_path):
    picture = fields.capture(default_patch, "lidocaine")
    assert picture.limit == default_patch.scenario.safety.max_current_density
    for path in fields.write_pictures(picture, tmp_path):
        data = path.read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 10_000


def test_a_3d_block_with_a_return_pad(tmp_path):
    """The initial state of a small block (a quarter patch with a meshed return pad): every field
    and picture is made; the surface row covers the block's surface (x, y)."""
    from iontosim.mesh.of_scenario import scenario_mesh
    from iontosim.model import Model
    from tests.conftest import with_return_electrode

    data = with_return_electrode(
        default_short_data(),
        kind="block",
        resolution=0.25,
        width="1 mm",
        anode_width="0.6 mm",
        return_gap="0.2 mm",
        return_width="0.3 mm",
    )
    scenario = scenario_from_dict(data)
    model = Model(scenario, MPI.COMM_SELF, scenario_mesh(scenario, MPI.COMM_SELF))
    model.initial_state()
    positions, values = fields.surface_current_density(model)
    assert positions.ndim == 2 and positions.shape == (len(values), 2) and np.all(np.isfinite(values))
    for kind in fields.FieldWriter.FORMATS:
        with fields.FieldWriter(model, tmp_path / "block", format=kind) as writer:
            writer.write(0.0)
    assert (tmp_path / "block.bp" / "md.idx").is_file() and (tmp_path / "block.xdmf").is_file()
    for path in pictures(model, tmp_path):
        assert path.read_bytes().startswith(PNG_MAGIC)


# ------------------------------------------------------------------ 1 versus 2 ranks
def summary_of(model, out: Path) -> dict:
    """What the 1 versus 2 ranks test compares (collective): surface current, a global norm of
    every field, and the files written."""
    positions, values = fields.surface_current_density(model)
    f = fields._fields(model)
    owned = f.cell_dofs[: f.n_owned].ravel()
    norms = {}
    for fn in f.functions():
        values_at = fn.x.array.reshape(-1, fn.function_space.dofmap.index_map_bs)[owned]
        norms[fn.name] = model.comm.allreduce(float(np.sum(values_at**2)), op=MPI.SUM)
    for kind in fields.FieldWriter.FORMATS:
        with fields.FieldWriter(model, out / "fields", format=kind) as writer:
            writer.write(20.0)
    png = pictures(model, out)
    return {"positions": positions.tolist(), "values": values.tolist(), "norms": norms, "png": png is not None}


@pytest.mark.mpi
def test_two_ranks_give_the_same_fields(strong_patch, tmp_path):
    import json

    code = (
        "import json, sys\nfrom pathlib import Path\nfrom mpi4py import MPI\n"
        "from tests.output.test_fields import solve, summary_of\n"
        f"s = summary_of(solve('strong_electrolyte', comm=MPI.COMM_WORLD, flux={strong_patch.flux_used!r}), "
        "Path(sys.argv[1]))\n"
        "pngs = MPI.COMM_WORLD.gather(s.pop('png'))\n"
        "if MPI.COMM_WORLD.rank == 0:\n"
        "    print(json.dumps(s | {'pngs': pngs}))\n"
    )
    two_dir = tmp_path / "two"
    two = json.loads(python_on_two_ranks(code, str(two_dir)).strip().splitlines()[-1])
    one = summary_of(strong_patch, tmp_path / "one")
    assert two.pop("pngs") == [True, False]  # rank 0 draws
    assert two["positions"] == pytest.approx(one["positions"], rel=1e-12)
    assert two["values"] == pytest.approx(one["values"], rel=EXACT)
    for name, value in one["norms"].items():
        assert two["norms"][name] == pytest.approx(value, rel=1e-8), name
    for name in ("fields.bp/md.idx", "fields.xdmf", "fields.h5", "fields.png", "surface_current.png"):
        assert (two_dir / name).is_file(), name
