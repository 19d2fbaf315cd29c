"""Appendage channels and the return electrode's pad (iontosim/mesh/geometry.py, skin_mesh.py).

Channels go through the stratum corneum only and must each lie under one electrode or none, apart
from each other and inside the patch: a bad layout is refused with the field named. The channel
area fractions are worked out by hand; channel edges are refined as electrode edges are. The
measures of every tag, on 1 and 2 ranks, are checked with the other cases in test_skin_mesh.py;
here, where the tags lie: RETURN on top of the pad, RETURN_SKIN on the skin under it.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import yaml
from mpi4py import MPI
from pydantic import ValidationError

from iontosim._fenics import dolfinx
from iontosim.mesh.geometry import Geometry
from iontosim.mesh.skin_mesh import RETURN, RETURN_SKIN, build_skin_mesh
from iontosim.scenario.errors import ScenarioError
from iontosim.scenario.load import scenario_from_dict
from tests.conftest import CONFIGS
from tests.mesh.test_skin_mesh import (
    BLOCK,
    DONOR_THICKNESS,
    PATCH,
    RETURN_THICKNESS,
    SKIN,
    R,
    build,
    designed,
    measured,
    relative_errors,
)

PLANAR = dict(kind="planar", **PATCH)  # anode edge 0.5 mm, return electrode 1.0 to 1.4 mm, width 2 mm
DISC = dict(kind="axisymmetric", **PATCH | {"anode_width": 0.5e-3})
SQUARE = dict(kind="block", **BLOCK)  # anode edge 0.3 mm, return electrode 0.5 to 0.8 mm, width 1 mm


# ---------------------------------------------------------------- layout checks


@pytest.mark.parametrize(
    "geometry, channels, message",
    [
        (
            PLANAR,
            dict(positions=[0.5e-3]),
            "appendages.positions: the channel at x = 0.0005 m straddles the anode edge",
        ),
        (PLANAR, dict(positions=[1.39e-3]), "straddles the return electrode's outer edge"),
        (PLANAR, dict(spacing=0.5e-3), "appendages.spacing: the channel at x = 0.0005 m straddles the anode edge"),
        (
            PLANAR,
            dict(positions=[0.2e-3, 0.25e-3]),
            "appendages.positions: the channels at x = 0.0002 m and x = 0.00025 m overlap",
        ),
        (PLANAR, dict(spacing=50e-6), "appendages.spacing: channels 5e-05 m apart overlap"),
        (PLANAR, dict(positions=[10e-6]), "overlaps its mirror image"),
        (PLANAR, dict(positions=[1.99e-3]), "beyond the modelled width"),
        (PLANAR, dict(positions=[(0.1e-3, 0.1e-3)]), "a planar patch takes one x per channel"),
        (SQUARE, dict(positions=[(0.3e-3, 0.1e-3)]), "straddles the anode edge at x = 0.0003 m"),
        (SQUARE, dict(positions=[(0.1e-3, 0.3e-3)]), "straddles the anode edge at y = 0.0003 m"),
        (SQUARE, dict(positions=[(0.65e-3, 0.3e-3)]), "straddles the return electrode's edge at y = 0.0003 m"),
        (SQUARE, dict(positions=[(0.1e-3, 0.1e-3), (0.1e-3, 0.14e-3)]), "overlap"),
        (SQUARE, dict(positions=[0.1e-3]), "a block patch takes (x, y) pairs"),
        (DISC, dict(spacing=0.2e-3), "appendages.spacing: an axisymmetric patch holds a single channel, on the axis"),
        (DISC, dict(positions=[0.2e-3]), "give positions [0]"),
        (DISC, dict(positions=[0.0], radius=0.6e-3), "straddles the anode edge"),
        (dict(kind="column"), dict(positions=[0.0]), "the column has no lateral extent"),
        (PLANAR, dict(), "exactly one of spacing (a regular lattice) and positions"),
        (PLANAR, dict(spacing=0.3e-3, positions=[0.0]), "exactly one of spacing"),
    ],
)
def test_a_bad_channel_layout_is_refused_naming_the_field(geometry, channels, message):
    with pytest.raises(ValidationError) as err:
        Geometry(**geometry, appendages=dict(radius=R) | channels)
    assert message in str(err.value)


def test_channels_may_lie_anywhere_clear_of_the_electrode_edges():
    # in the gap beside the return electrode's end in y, and under the return electrode at y = 0
    Geometry(**SQUARE, appendages=dict(radius=R, positions=[(0.4e-3, 0.3e-3), (0.65e-3, 0.0)]))
    Geometry(**PLANAR, appendages=dict(radius=R, positions=[0.0, 0.47e-3, 0.53e-3, 1.2e-3]))  # edges touch: fine
    Geometry(kind="planar", width=1e-3, anode_width=2e-3, appendages=dict(radius=R, spacing=0.1e-3))  # no return


def test_channel_area_fractions_by_hand():
    planar = Geometry(**PLANAR, appendages=dict(radius=R, spacing=0.3e-3))
    assert planar.appendage_centres() == [(k * 0.3e-3,) for k in range(7)]  # 1.8 mm + R fits in 2 mm
    assert planar.appendage_area_fraction() == pytest.approx((R + 6 * 2 * R) / 2e-3, rel=1e-12)
    disc = Geometry(**DISC, appendages=dict(radius=R, positions=[0.0]))
    assert disc.appendage_area_fraction() == pytest.approx((R / 2e-3) ** 2, rel=1e-12)
    # lattice 0, 0.35, 0.7 mm in x and y: a quarter at the corner, four halves, four whole squares
    block = Geometry(**SQUARE, appendages=dict(radius=R, spacing=0.35e-3))
    assert len(block.appendage_centres()) == 9
    assert block.appendage_area_fraction() == pytest.approx(math.pi * R**2 * (0.25 + 4 * 0.5 + 4) / 1e-3**2, rel=1e-12)
    assert Geometry(**PLANAR).appendage_area_fraction() == 0.0


def test_channel_edges_are_refined_like_electrode_edges():
    geometry = Geometry(**PLANAR, appendages=dict(radius=R, positions=[0.0, 0.3e-3, 1.7e-3]))
    h0 = geometry.size_function(SKIN)[0]
    breaks = geometry.lateral_breaks(0)
    for edge in [R, 0.3e-3 - R, 0.3e-3 + R, 0.5e-3, 1.0e-3, 1.4e-3, 1.7e-3 - R, 1.7e-3 + R]:
        assert min(abs(b - edge) for b in breaks) < 1e-15
    sizes = geometry.lateral_sizes(SKIN, 0)
    for i, segment in enumerate(sizes):  # the cells on both sides of every interior break
        assert segment[0] <= h0 * (1 + 1e-12) or i == 0
        assert segment[-1] <= h0 * (1 + 1e-12) or i == len(sizes) - 1
    fine = geometry.model_copy(update={"resolution": 2.0})
    assert fine.size_function(SKIN)[0] == pytest.approx(h0 / 2)
    assert len(np.concatenate(fine.lateral_sizes(SKIN, 0))) > 1.8 * len(np.concatenate(sizes))


# ---------------------------------------------------------------- where the tags lie


@pytest.fixture(scope="module")
def padded():
    return {name: build(name) for name in ("planar_pads", "block_pads")}


def _depths(sm, tag: int) -> np.ndarray:
    """Depth coordinate of the vertices of the facets tagged `tag` (this rank's)."""
    facets = sm.facet_tags.find(tag)
    x = sm.mesh.geometry.x[dolfinx.mesh.entities_to_geometry(sm.mesh, sm.mesh.topology.dim - 1, facets)]
    return x[..., sm.mesh.geometry.dim - 1].ravel()


@pytest.mark.parametrize("name", ["planar_pads", "block_pads"])
def test_return_is_the_top_of_its_pad_and_return_skin_the_skin_under_it(padded, name):
    sm = padded[name]
    assert np.allclose(_depths(sm, RETURN), -RETURN_THICKNESS, rtol=0, atol=1e-15)
    assert np.allclose(_depths(sm, RETURN_SKIN), 0.0, rtol=0, atol=1e-15)
    assert sm.boundaries[RETURN_SKIN] == "return_skin"
    stack = -DONOR_THICKNESS + np.cumsum([0.0, DONOR_THICKNESS] + [t for _, t in SKIN])
    np.testing.assert_allclose(sm.interfaces, stack, rtol=0, atol=1e-15)  # the donor + skin stack, as without the pad


def test_appendage_cells_lie_in_the_stratum_corneum_inside_the_channels(padded):
    sm = padded["block_pads"]
    tag = max(sm.regions)
    assert sm.regions[tag] == "appendages"
    centres = dolfinx.mesh.compute_midpoints(sm.mesh, 3, sm.cell_tags.find(tag))
    assert np.all((centres[:, 2] > 0) & (centres[:, 2] < SKIN[0][1]))
    assert np.all(sm.geometry.in_appendage(centres[:, :2]))


def test_a_return_pad_without_a_donor_pad_keeps_the_region_order():
    geometry = Geometry(**PLANAR, appendages=dict(radius=R, positions=[0.2e-3]))
    sm = build_skin_mesh(MPI.COMM_WORLD, SKIN[:2], 0.0, geometry, RETURN_THICKNESS)
    assert sm.regions == {1: "stratum_corneum", 2: "viable_epidermis", 3: "return_electrode", 4: "appendages"}
    want = designed(geometry, SKIN[:2], 0.0, RETURN_THICKNESS, 2 * R)
    want["cells"].pop(0)
    want["interior"].pop(6)  # no donor pad: no DONOR_SKIN
    errors = relative_errors(measured(sm), want)
    assert max(errors.values()) < 1e-12, errors
    assert geometry.cell_count(SKIN[:2], 0.0, RETURN_THICKNESS) == sm.mesh.topology.index_map(2).size_global


def test_without_a_return_electrode_the_pad_thickness_is_ignored():
    geometry = Geometry(kind="planar", width=0.2e-3, anode_width=0.4e-3)
    sm = build_skin_mesh(MPI.COMM_WORLD, SKIN[:2], DONOR_THICKNESS, geometry, RETURN_THICKNESS)
    assert "return_electrode" not in sm.regions.values() and RETURN_SKIN not in sm.boundaries
    with pytest.raises(ValueError, match="return_thickness >= 0"):
        build_skin_mesh(MPI.COMM_WORLD, SKIN[:2], DONOR_THICKNESS, Geometry(**PLANAR), -1e-3)


# ---------------------------------------------------------------- the scenario's geometry section


def _saline(geometry: dict) -> dict:
    """metal_electrode_saline.yaml (it has a return pad) on `geometry`, the pad's area made the
    one the geometry gives it."""
    from tests.conftest import with_return_electrode

    data = yaml.safe_load((CONFIGS / "metal_electrode_saline.yaml").read_text())
    sized = with_return_electrode(data, **geometry)
    data["geometry"] = geometry
    data["return_electrode"]["area"] = sized["return_electrode"]["area"]
    return data


SECTION = {
    "kind": "planar",
    "width": "2 mm",
    "anode_width": "1 mm",
    "return_gap": "0.5 mm",
    "return_width": "0.4 mm",
    "resolution": 0.5,
}


def test_the_geometry_section_reads_appendages_with_units():
    section = scenario_from_dict(_saline(SECTION | {"appendages": {"radius": "30 um", "spacing": "0.3 mm"}})).geometry
    assert section.to_geometry().appendages.radius == pytest.approx(R)
    assert section.to_geometry().appendages.spacing == pytest.approx(0.3e-3)
    block = SECTION | {
        "kind": "block",
        "width": "1 mm",
        "anode_width": "0.6 mm",
        "return_gap": "0.2 mm",
        "return_width": "0.3 mm",
        "appendages": {"radius": "30 um", "positions": [["0 um", "0 um"], ["0.15 mm", "0 mm"]]},
    }
    channels = scenario_from_dict(_saline(block)).geometry.to_geometry().appendages
    np.testing.assert_allclose(channels.positions, [(0.0, 0.0), (0.15e-3, 0.0)], rtol=1e-12)
    for bad, message in [
        ({"radius": "30 um", "positions": ["0.5 mm"]}, "appendages.positions: the channel"),
        ({"radius": "30 um", "positions": [0]}, "no units"),
        ({"radius": "30 um", "spacing": "-1 mm"}, "must be positive"),
    ]:
        with pytest.raises(ScenarioError, match="geometry") as err:
            scenario_from_dict(_saline(SECTION | {"appendages": bad}))
        assert message in str(err.value)


def test_the_mesh_command_meshes_the_return_pad(tmp_path):
    from typer.testing import CliRunner

    from iontosim.cli import app

    config = tmp_path / "patch.yaml"
    config.write_text(yaml.safe_dump(_saline(SECTION | {"appendages": {"radius": "30 um", "positions": ["0 um"]}})))
    out = MPI.COMM_WORLD.bcast(tmp_path / "m", root=0)
    result = CliRunner().invoke(app, ["mesh", str(config), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "6 return_electrode, 7 appendages" in result.output and "7 return_skin" in result.output
