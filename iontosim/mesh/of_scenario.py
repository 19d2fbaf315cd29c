"""The skin mesh a scenario asks for: its layers and pads, meshed as its geometry section says."""

from __future__ import annotations

from iontosim._fenics import MPI

from .skin_mesh import SkinMesh, build_skin_mesh


def _parts(scenario) -> tuple[list[tuple[str, float]], float, dict]:
    geometry = scenario.geometry.to_geometry()
    layers = [(layer.name, layer.thickness) for layer in scenario.skin]
    extra = {}
    if scenario.return_electrode is not None and not geometry.laterally_uniform and geometry.return_gap is not None:
        extra["return_thickness"] = scenario.return_electrode.thickness  # the return pad is meshed too
    return layers, scenario.donor.thickness, extra


def on_mesh(scenario) -> bool:
    """Whether the scenario is solved on a 2D/3D mesh (a column geometry is the 1D solver's)."""
    return scenario.geometry is not None and scenario.geometry.kind != "column"


def check_size(scenario, max_cells: int) -> None:
    """Refuse (ScenarioError on geometry) a 2D/3D mesh of more than `max_cells` cells, before
    meshing it (a mesh file's .geo source is meshed once at its own sizes to count)."""
    from iontosim.scenario.errors import ScenarioError

    if not on_mesh(scenario):
        return
    layers, donor, extra = _parts(scenario)
    geometry = scenario.geometry.to_geometry()
    if geometry.mesh is not None:  # a mesh file: its own count, or its source's scaled
        from .tagged import cell_count

        cells, exact = cell_count(geometry)
        if cells > max_cells:
            raise ScenarioError(
                "geometry.resolution" if geometry.resolution != 1.0 else "geometry.mesh",
                f"the mesh would have {cells if exact else f'about {cells:.3g}'} cells, more than "
                f"--max-cells {max_cells}; lower geometry.resolution or coarsen the mesh file",
            )
        return
    # the closed-form bound first: the exact count builds every cell size, which hung at resolution 1e6
    cells = geometry.cell_count_at_least(layers)
    said = f"at least {cells:.3g}"
    if cells <= max_cells:
        cells = geometry.cell_count(layers, donor, **extra)
        said = str(cells)
    if cells > max_cells:
        raise ScenarioError(
            "geometry.resolution",
            f"the mesh would have {said} cells, more than --max-cells {max_cells}; "
            "lower geometry.resolution or the width",
        )


def scenario_mesh(scenario, comm: MPI.Comm) -> SkinMesh:
    """Build the scenario's 2D/3D mesh on `comm` (collective; gmsh runs on rank 0)."""
    layers, donor, extra = _parts(scenario)
    return build_skin_mesh(comm, layers, donor, scenario.geometry.to_geometry(), **extra)


def write_scenario_mesh(scenario, out, comm: MPI.Comm, overwrite: bool = False, max_cells: int = 2_000_000) -> str:
    """Build the scenario's mesh on `comm` and write it (XDMF) with a picture of its tags into the
    folder `out` (staged like a run directory); returns a line describing it. Raises ScenarioError
    for a mesh too large or one gmsh cannot make, OutputExists for an `out` that is taken."""
    from pathlib import Path

    from iontosim.api import on_root, staged
    from iontosim.rundir import RunDirectory
    from iontosim.scenario.errors import ScenarioError

    from .skin_mesh import write_mesh

    check_size(scenario, max_cells)
    directory = RunDirectory(Path(out), overwrite, marker=("mesh.png", "mesh.xdmf"))
    with staged(comm, directory) as stage:
        try:
            skin = scenario_mesh(scenario, comm)
        except ScenarioError:  # a mesh file's (mesh/tagged.py): it names its field
            raise
        except (RuntimeError, ValueError) as err:  # raised alike on every rank
            raise ScenarioError("geometry", str(err)) from None
        write_mesh(skin, stage)
        on_root(comm, directory.commit)
    count = comm.allreduce(skin.mesh.topology.index_map(skin.mesh.topology.dim).size_local)
    return (
        f"{scenario.geometry.kind} mesh: {count} cells; regions "
        + ", ".join(f"{tag} {name}" for tag, name in skin.regions.items())
        + "; boundaries "
        + ", ".join(f"{tag} {name}" for tag, name in skin.boundaries.items())
    )
