"""2D/3D skin meshes (iontosim/mesh/skin_mesh.py): every tag measures what the design says.

The skin is the default scenario's (lidocaine_epinephrine.yaml) under its 2 mm gel, in a patch
narrowed to 2 mm (1 mm at half resolution for the 3D block: 14 000 hexahedra) to keep the meshes
small. The "*_pads" cases add a 1 mm return-electrode pad and appendage channels through the
stratum corneum, with the channel areas worked out here by hand (slits, a disc on the axis, squares
of a disc's area cut by the mirror planes). Each region's area or volume is its thickness times the
lateral measure (2 pi r weighted when axisymmetric), each facet tag's measure its designed length
or area; the untagged boundary (mirror planes, axis, pad side walls) is checked too, which catches
any unconnected, doubled interface. The mesh is extruded, so these hold to round-off: tolerance
1e-12 relative (measured < 2e-13 on 1 and 2 ranks).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from mpi4py import MPI
from pydantic import ValidationError

from iontosim._fenics import dolfinx, ufl
from iontosim.mesh.column import LayerGeometry, build_column
from iontosim.mesh.geometry import Geometry, graded_sizes
from iontosim.mesh.skin_mesh import (
    ANODE,
    DEEP,
    DONOR,
    DONOR_SKIN,
    LATERAL,
    RETURN,
    RETURN_SKIN,
    SKIN_SURFACE,
    build_skin_mesh,
    write_mesh,
)
from iontosim.scenario.load import load_scenario
from tests.conftest import CONFIGS, ROOT

SCENARIO = load_scenario(CONFIGS / "lidocaine_epinephrine.yaml")
SKIN = [(layer.name, layer.thickness) for layer in SCENARIO.skin]
DONOR_THICKNESS = SCENARIO.donor.thickness  # 2 mm
PATCH = dict(width=2e-3, anode_width=1e-3, return_gap=0.5e-3, return_width=0.4e-3)
BLOCK = dict(width=1e-3, anode_width=0.6e-3, return_gap=0.2e-3, return_width=0.3e-3)
RETURN_THICKNESS = 1e-3  # a soaked gauze pad (metal_electrode_saline.yaml)
R = 30e-6  # appendage radius (sweat-duct scale)
SIDE = math.sqrt(math.pi) * R  # block channels: squares of a disc's area
PLANAR_CHANNELS = dict(radius=R, spacing=0.3e-3)  # at 0 (halved), 0.3 ... 1.8 mm: clear of every edge
BLOCK_CHANNELS = dict(radius=R, positions=[(0, 0), (0.15e-3, 0), (0.65e-3, 0), (0.15e-3, 0.65e-3)])
CASES = {  # name -> (geometry, layers, return pad thickness, channel area on the modelled skin surface)
    "column": (Geometry(kind="column"), SKIN, 0.0, 0.0),
    "planar": (Geometry(kind="planar", **PATCH), SKIN, 0.0, 0.0),
    "axisymmetric": (Geometry(kind="axisymmetric", **PATCH | {"anode_width": 0.5e-3}), SKIN, 0.0, 0.0),
    "block": (Geometry(kind="block", **BLOCK, resolution=0.5), SKIN, 0.0, 0.0),
    # a slit of half width at the mirror plane, six whole ones at 0.3 mm spacing
    "planar_pads": (
        Geometry(kind="planar", **PATCH, appendages=PLANAR_CHANNELS),
        SKIN,
        RETURN_THICKNESS,
        R + 6 * 2 * R,
    ),
    "axisymmetric_pads": (
        Geometry(kind="axisymmetric", **PATCH | {"anode_width": 0.5e-3}, appendages=dict(radius=R, positions=[0.0])),
        SKIN,
        RETURN_THICKNESS,
        math.pi * R**2,
    ),
    # a quarter at the corner, halves on y = 0 under the anode and the return, a whole one on free skin
    "block_pads": (
        Geometry(kind="block", **BLOCK, resolution=0.25, appendages=BLOCK_CHANNELS),
        SKIN,
        RETURN_THICKNESS,
        SIDE**2 * (0.25 + 0.5 + 0.5 + 1),
    ),
}
TOL = 1e-12


def designed(
    geometry: Geometry, layers, donor: float, pad: float = 0.0, channels: float = 0.0
) -> dict[str, dict[int, float]]:
    """Region and boundary measures (m, m^2 or m^3; per unit area for the column) by design, with
    a return pad `pad` m thick and appendage channels of skin-surface area `channels`."""
    kind = geometry.kind
    depth = sum(t for _, t in layers)
    if kind == "column":
        cells = {DONOR: donor} | {i + 1: t for i, (_, t) in enumerate(layers)}
        return {"cells": cells, "facets": {ANODE: 1.0, DEEP: 1.0}, "interior": {DONOR_SKIN: 1.0}, "untagged": 0.0}
    w = geometry.width
    a, r0, r1 = geometry.edges

    def area(x0: float, x1: float, y1: float) -> float:  # a patch [x0, x1] x [0, y1] of the skin surface
        if kind == "planar":
            return x1 - x0
        if kind == "axisymmetric":
            return math.pi * (x1**2 - x0**2)
        return (x1 - x0) * y1

    anode, ret, whole = area(0, a, a), area(r0, r1, a), area(0, w, w)
    lateral = {"planar": depth, "axisymmetric": 2 * math.pi * w * depth, "block": 2 * w * depth}[kind]
    untagged = {
        "planar": depth + 2 * donor,  # mirror plane x = 0, donor wall x = a
        "axisymmetric": 2 * math.pi * a * donor,  # the axis weighs nothing
        "block": 2 * (w * depth + a * donor) + 2 * a * donor,
    }[kind]  # x = 0, y = 0; walls x, y = a
    untagged += {
        "planar": 2 * pad,  # the return pad's walls x = r0, r1
        "axisymmetric": 2 * math.pi * (r0 + r1) * pad,
        "block": 2 * a * pad + 2 * (r1 - r0) * pad,
    }[kind]  # walls x = r0, r1; y = 0, a
    n = len(layers)
    cells = {DONOR: anode * donor} | {i + 1: t * whole for i, (_, t) in enumerate(layers)}
    facets = {ANODE: anode, RETURN: ret, SKIN_SURFACE: whole - anode - ret, DEEP: whole, LATERAL: lateral}
    interior = {DONOR_SKIN: anode}
    if pad > 0:
        cells[n + 1] = ret * pad
        interior[RETURN_SKIN] = ret  # RETURN is then the pad's top, of the same area
    if channels > 0:
        top = layers[0][1]
        cells[1] -= channels * top
        cells[n + 1 + (pad > 0)] = channels * top
    return {"cells": cells, "facets": facets, "interior": interior, "untagged": untagged}


def build(name: str, comm=MPI.COMM_WORLD):
    geometry, layers, pad, _ = CASES[name]
    return build_skin_mesh(comm, layers, DONOR_THICKNESS, geometry, pad)


def design(name: str) -> dict[str, dict[int, float]]:
    geometry, layers, pad, channels = CASES[name]
    return designed(geometry, layers, DONOR_THICKNESS, pad, channels)


def region_names(name: str) -> dict[int, str]:
    """The region order the model relies on: donor, skin layers top first, return pad, appendages."""
    geometry, layers, pad, channels = CASES[name]
    names = ["donor"] + [n for n, _ in layers] + ["return_electrode"] * (pad > 0) + ["appendages"] * (channels > 0)
    return dict(enumerate(names))


def measured(sm) -> dict[str, dict[int, float]]:
    """The same measures assembled on the mesh (collective), plus each rank's owned cells."""
    domain = sm.mesh
    weight = 2 * math.pi * ufl.SpatialCoordinate(domain)[0] if sm.geometry.kind == "axisymmetric" else 1.0
    one = dolfinx.fem.Constant(domain, 1.0) * weight
    dx = ufl.Measure("dx", domain, subdomain_data=sm.cell_tags)
    ds = ufl.Measure("ds", domain, subdomain_data=sm.facet_tags)
    dS = ufl.Measure("dS", domain, subdomain_data=sm.facet_tags)

    def total(form) -> float:
        return domain.comm.allreduce(dolfinx.fem.assemble_scalar(dolfinx.fem.form(form)), MPI.SUM)

    interior = (DONOR_SKIN, RETURN_SKIN)
    facets = {t: total(one * ds(t)) for t in sm.boundaries if t not in interior}
    return {
        "cells": {t: total(one * dx(t)) for t in sm.regions},
        "facets": facets,
        "interior": {t: total(one("+") * dS(t)) for t in sm.boundaries if t in interior},
        "untagged": total(one * ds) - sum(facets.values()),
        "owned": domain.comm.allgather(domain.topology.index_map(domain.topology.dim).size_local),
    }


def relative_errors(got: dict, want: dict) -> dict[str, float]:
    """Largest relative error per group; every designed tag must be present."""
    out = {}
    for group in ("cells", "facets", "interior"):
        assert set(got[group]) == set(want[group]), group
        out[group] = max(abs(got[group][t] / want[group][t] - 1) for t in want[group])
    scale = max(want["facets"].values())
    out["untagged"] = abs(got["untagged"] - want["untagged"]) / scale
    return out


@pytest.fixture(scope="module")
def meshes():
    return {name: build(name) for name in CASES}


# ---------------------------------------------------------------- the size function


def test_graded_sizes_fill_the_length_and_grow_smoothly():
    for length, first, growth, cap in [(5e-3, 3e-6, 1.3, 6e-4), (57e-6, 4e-6, 1.3, 6e-4), (1e-6, 3e-6, 1.3, 1e-3)]:
        sizes = graded_sizes(length, first, growth, cap)
        assert sizes.sum() == pytest.approx(length, rel=1e-14)
        ratios = sizes[1:] / sizes[:-1]
        assert np.all(ratios >= 1 - 1e-12) and np.all(ratios <= growth + 1e-12)
        assert sizes[0] <= first and sizes.max() <= cap  # never coarser than asked


def test_stratum_corneum_gets_its_cells_and_resolution_scales_all_sizes():
    geometry = CASES["planar"][0]
    fine = geometry.model_copy(update={"resolution": 2.0})
    depth, depth2 = geometry.depth_sizes(SKIN, DONOR_THICKNESS), fine.depth_sizes(SKIN, DONOR_THICKNESS)
    assert len(depth[1]) == geometry.surface_cells and len(depth2[1]) == 2 * geometry.surface_cells
    assert np.ptp(depth[1]) < 1e-20  # uniform across the stratum corneum
    lateral = np.concatenate(geometry.lateral_sizes(SKIN, 0))
    assert lateral.min() <= depth[1][0] * (1 + 1e-12)  # electrode edges as fine as the SC
    count, count2 = geometry.cell_count(SKIN, DONOR_THICKNESS), fine.cell_count(SKIN, DONOR_THICKNESS)
    assert 3.0 < count2 / count < 5.0  # twice finer in two directions


def test_a_graded_stratum_corneum_is_the_column_s_and_the_pad_meets_its_top_cell():
    """surface_grading grades the top skin layer as `grading` grades a layer of the 1D column (one
    definition, exact); the donor pad continues from its top cell, the next layer from its
    bottom cell, so sizes do not jump at the interfaces."""
    from iontosim.mesh.column import LayerGeometry, layer_vertices

    geometry = CASES["planar"][0].model_copy(update={"surface_cells": 12, "surface_grading": 4.0})
    donor, top, below = geometry.depth_sizes(SKIN, DONOR_THICKNESS)[:3]
    vertices, _ = layer_vertices([LayerGeometry("stratum_corneum", SKIN[0][1], 12, 4.0)], 0.0)
    assert np.allclose(top, np.diff(vertices), rtol=1e-12, atol=0)
    assert top[-1] / top[0] == pytest.approx(4.0, rel=1e-12)
    assert donor[-1] <= top[0] * (1 + 1e-12) and below[0] <= top[-1] * geometry.growth * (1 + 1e-12)


def test_geometry_section_is_checked():
    with pytest.raises(ValidationError, match="extra"):
        Geometry(kind="planar", **PATCH, cells=10)
    with pytest.raises(ValidationError, match="beyond the modelled width"):
        Geometry(kind="planar", **PATCH | {"return_width": 2e-3})
    with pytest.raises(ValidationError, match="needs width"):
        Geometry(kind="block", anode_width=1e-3, return_gap=1e-3, return_width=1e-3)
    assert Geometry(kind="column").dim == 1


# ---------------------------------------------------------------- tagged measures


@pytest.mark.parametrize("name", list(CASES))
def test_every_tag_measures_its_design(meshes, name):
    sm = meshes[name]
    errors = relative_errors(measured(sm), design(name))
    assert max(errors.values()) < TOL, errors
    # every cell carries a region tag, and the tags are the column's (donor 0, layers 1..n), then
    # the return pad and the appendages
    domain = sm.mesh
    owned = domain.topology.index_map(domain.topology.dim).size_local
    assert np.count_nonzero(sm.cell_tags.indices < owned) == owned
    assert sm.regions == region_names(name)


@pytest.mark.parametrize("name", list(CASES))
def test_cell_count_is_known_before_meshing(meshes, name):
    geometry, layers, pad, _ = CASES[name]
    domain = meshes[name].mesh
    built = domain.topology.index_map(domain.topology.dim).size_global
    assert geometry.cell_count(layers, DONOR_THICKNESS, pad) == built
    # the closed-form bound the size guard uses first (it refuses resolution 1e6 at once)
    assert 0 < geometry.cell_count_at_least(layers) <= built


def test_column_tags_match_the_1d_column(meshes):
    sm = meshes["column"]
    column = build_column(
        MPI.COMM_WORLD,
        [LayerGeometry("donor", DONOR_THICKNESS, 8)] + [LayerGeometry(name, t, 8) for name, t in SKIN],
        top=-DONOR_THICKNESS,
    )
    for mesh in (sm, column):  # the electrode at the top of the gel, the deep boundary at the bottom
        x = mesh.mesh.geometry.x[:, 0]
        for tag, depth in [(ANODE, -DONOR_THICKNESS), (DEEP, sum(t for _, t in SKIN))]:
            vertices = mesh.facet_tags.find(tag)
            assert np.allclose(x[dolfinx.mesh.entities_to_geometry(mesh.mesh, 0, vertices)], depth, rtol=1e-12)
    np.testing.assert_allclose(sm.interfaces, column.interfaces, rtol=1e-15)


def test_skin_without_a_donor_pad_has_the_electrode_on_the_skin():
    geometry = CASES["planar"][0]
    sm = build_skin_mesh(MPI.COMM_WORLD, SKIN[:2], 0.0, geometry)
    want = designed(geometry, SKIN[:2], 0.0)
    got = measured(sm)
    assert DONOR not in sm.regions and DONOR_SKIN not in sm.boundaries
    assert got["facets"][ANODE] == pytest.approx(want["facets"][ANODE], rel=TOL)
    assert got["cells"] == pytest.approx({t: v for t, v in want["cells"].items() if t != DONOR}, rel=TOL)


# ---------------------------------------------------------------- output


@pytest.mark.parametrize("name", ["planar", "block", "planar_pads", "block_pads"])
def test_written_mesh_reads_back_with_its_tags(meshes, name, tmp_path):
    sm = meshes[name]
    paths = write_mesh(sm, MPI.COMM_WORLD.bcast(tmp_path, root=0))  # one folder, also under mpirun
    assert all(p.is_file() for p in paths)
    png = next(p for p in paths if p.suffix == ".png")
    assert png.stat().st_size > 20_000
    with dolfinx.io.XDMFFile(MPI.COMM_WORLD, paths[0], "r") as f:
        domain = f.read_mesh()
        domain.topology.create_connectivity(domain.topology.dim - 1, domain.topology.dim)
        cells = f.read_meshtags(domain, "regions")
        facets = f.read_meshtags(domain, "boundaries")
    dx = ufl.Measure("dx", domain, subdomain_data=cells)
    ds = ufl.Measure("ds", domain, subdomain_data=facets)
    one = dolfinx.fem.Constant(domain, 1.0)
    want = design(name)
    for tag, value in want["cells"].items():
        got = MPI.COMM_WORLD.allreduce(dolfinx.fem.assemble_scalar(dolfinx.fem.form(one * dx(tag))))
        assert got == pytest.approx(value, rel=TOL)
    got = MPI.COMM_WORLD.allreduce(dolfinx.fem.assemble_scalar(dolfinx.fem.form(one * ds(RETURN))))
    assert got == pytest.approx(want["facets"][RETURN], rel=TOL)


# ---------------------------------------------------------------- two ranks


def report(name: str) -> None:
    """Print (rank 0) the measured tag measures of one case as JSON: the 2-rank test runs this."""
    values = measured(build(name))
    if MPI.COMM_WORLD.rank == 0:
        print(json.dumps(values))


@pytest.mark.mpi
@pytest.mark.slow
def test_two_ranks_give_the_same_tagged_measures(meshes):
    mpirun = Path(sys.executable).parent / "mpirun"
    if not mpirun.exists():
        pytest.skip("no mpirun beside this Python")
    code = "import sys; from tests.mesh.test_skin_mesh import report; [report(kind) for kind in sys.argv[1:]]"
    proc = subprocess.run(
        [str(mpirun), "-n", "2", sys.executable, "-c", code, *CASES],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ, OMP_NUM_THREADS="1"),
    )
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == len(CASES), proc.stdout
    for kind, line in zip(CASES, lines):
        two = json.loads(line)
        assert len(two["owned"]) == 2 and min(two["owned"]) > 0, kind  # really distributed
        want = design(kind)
        want = {g: {str(t): v for t, v in want[g].items()} if isinstance(want[g], dict) else want[g] for g in want}
        errors = relative_errors(two, want)
        assert max(errors.values()) < TOL, (kind, errors)
        serial = measured(meshes[kind])
        assert two["cells"] == pytest.approx({str(t): v for t, v in serial["cells"].items()}, rel=1e-12), kind


@pytest.mark.parametrize("kind", ["planar", "axisymmetric"])
def test_a_laterally_uniform_patch_is_meshed_as_coarse_across_as_the_cap_allows(kind):
    """An anode over the whole width and no return electrode is the column's problem: its edge
    is the lateral wall, where no current crowds, so the cells across are uniform at the size
    cap (max_size / resolution), the fewest the size function allows; appendages bring back
    the refinement at their edges."""
    width = 1e-3
    anode = 2 * width if kind == "planar" else width
    for resolution in (1.0, 2.0):
        geometry = Geometry(kind=kind, width=width, anode_width=anode, resolution=resolution, max_size=0.3e-3)
        (sizes,) = geometry.lateral_sizes(SKIN, 0)
        assert len(sizes) == math.ceil(width / (0.3e-3 / resolution))  # 4, then 7
        assert np.ptp(sizes) < 1e-15 and sizes.sum() == pytest.approx(width, rel=1e-12)
        assert len(sizes) == geometry.cell_count_at_least(SKIN) // round(SKIN[0][1] / geometry.size_function(SKIN)[0])
    sm = build_skin_mesh(MPI.COMM_SELF, SKIN, DONOR_THICKNESS, geometry)
    across = np.unique(np.round(sm.mesh.geometry.x[:, 0] / width, 9))
    np.testing.assert_allclose(across, np.linspace(0.0, 1.0, 8), atol=1e-9)
    ducts = Geometry.model_validate(geometry.model_dump() | {"appendages": {"radius": R, "positions": [0.0]}})
    assert np.concatenate(ducts.lateral_sizes(SKIN, 0)).min() < 0.1 * sizes.min()
