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


def mesh_cell_count(scenario) -> int:
    """Number of cells of the scenario's mesh, known before meshing (to refuse huge ones)."""
    layers, donor, extra = _parts(scenario)
    return scenario.geometry.to_geometry().cell_count(layers, donor, **extra)


def scenario_mesh(scenario, comm: MPI.Comm) -> SkinMesh:
    """Build the scenario's 2D/3D mesh on `comm` (collective; gmsh runs on rank 0)."""
    layers, donor, extra = _parts(scenario)
    return build_skin_mesh(comm, layers, donor, scenario.geometry.to_geometry(), **extra)
