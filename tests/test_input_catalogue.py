"""A catalogue of broken inputs, each refused through the command line with one line and exit 2.

The contract (iontosim/cli.py): a broken scenario file, sweep file or argument gives exit status 2
and exactly one line on the terminal, ``error: <where>: <field>: <reason>``, with no traceback,
within seconds and in little memory, and nothing at --out that looks like a finished run.

Two groups:

- CATALOGUE, run in this process with typer's CliRunner (no interpreter start per case). A case
  wrongly accepted must not start a long computation here: the time loop, the mesher, a sweep's
  and a sensitivity analysis's runs and the validation cases' solves are replaced by a stub that
  raises Accepted (the case then fails with exit status 1, saying so), and the address space is
  capped while a case runs, so that a guard that is missing fails with a MemoryError in seconds
  instead of filling the machine's memory.
- RESOURCE_GUARDS, run as subprocesses of the installed `iontosim` script (as tests/test_cli.py
  does) under /usr/bin/time: the inputs that would take minutes or gigabytes if they were not
  refused at once. Each must finish within 60 s with a peak resident size under 500 MB.
"""

from __future__ import annotations

import contextlib
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from iontosim import interruption
from iontosim.cli import app
from iontosim.scenario.catalogue import SCENARIOS_DIR as CONFIGS

# ------------------------------------------------------------------------------ building inputs

RUN = ("run", "{file}", "--out", "{out}", "--no-progress")
MESH = ("mesh", "{file}", "--out", "{out}")
STRIP = Path(__file__).resolve().parents[1] / "meshes" / "strip.geo"
SWEEP = ("sweep", "{file}", "--out", "{out}", "--no-progress")
SHIPPED_SWEEP = str(CONFIGS / "sweeps" / "lidocaine_isoelectric_point.yaml")
FRANZ = str(CONFIGS.parent / "validation" / "cases" / "roy_fentanyl_permeability" / "epidermis.yaml")

Text = str | bytes | Callable[[], str | bytes]


def ext(text: str, base: str = "lidocaine_epinephrine") -> str:
    """A scenario file that takes the shipped scenario `base` and changes what `text` writes."""
    return f"extends: {base}\n{text}"


def follicle(change: str) -> str:
    """A change to the geometry of the shipped follicle patch (hair_follicle_2d, a mesh file)."""
    return ext(f"geometry: {{{change}}}\n", "hair_follicle_2d")


def ext2d(text: str) -> str:
    """A change to the shipped 2D patch (lidocaine_epinephrine_2d)."""
    return ext(text, "lidocaine_epinephrine_2d")


def edit(*path_and_value) -> Callable[[], str]:
    """The shipped default scenario written out whole, with the value at `path` replaced (for
    changes inside lists, which `extends` would replace whole)."""
    *path, value = path_and_value

    def make() -> str:
        data = yaml.safe_load((CONFIGS / "lidocaine_epinephrine.yaml").read_text())
        node = data
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
        return yaml.safe_dump(data, sort_keys=False)

    return make


def edit_with(change: Callable[[dict], None]) -> Callable[[], str]:
    """The shipped default scenario written out whole after `change(data)`."""

    def make() -> str:
        data = yaml.safe_load((CONFIGS / "lidocaine_epinephrine.yaml").read_text())
        change(data)
        return yaml.safe_dump(data, sort_keys=False)

    return make


#: a user-defined drug in place of lidocaine; MYDRUG % "charge: 1, ..." is a valid scenario
MYDRUG = """extends: lidocaine_epinephrine
species_definitions:
  mydrug: {%s}
drug: mydrug
species: [mydrug, epinephrine, Na+, Cl-]
donor:
  contents:
    lidocaine: null
    mydrug: {concentration: 10 mM}
systemic: null
"""
GOOD_DRUG = "charge: 1, pKa: 8.0, acid_base: base, molar_mass: 300 g/mol"


def drug(definition: str) -> str:
    return MYDRUG % definition


#: a valid sweep file; sweep(...) replaces its parameters or design
SWEEP_BASE = "base: lidocaine_epinephrine\n"
SWEEP_PARAMETERS = "parameters:\n  protocol[0].current: {values: [1 mA, 2 mA]}\n"
SWEEP_DESIGN = "design: {kind: grid}\n"


def sweep(base: str = SWEEP_BASE, parameters: str = SWEEP_PARAMETERS, design: str = SWEEP_DESIGN, more: str = ""):
    return base + parameters + design + more


def alias_bomb() -> str:
    """'Billion laughs': nine levels of nine aliases each, 9^9 strings from ~1.5 kB of YAML."""
    lines = ["extends: lidocaine_epinephrine", 'lol0: &lol0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for k in range(1, 10):
        lines.append(f"lol{k}: &lol{k} [" + ", ".join([f"*lol{k - 1}"] * 9) + "]")
    lines.append("description: *lol9")
    return "\n".join(lines) + "\n"


def oversized() -> str:
    """A 20 MB scenario file (a description pasted in by mistake)."""
    return ext('description: "' + "x" * (20 * 1024 * 1024) + '"\n')


def deeply_nested() -> str:
    return "name: " + "[" * 100_000 + "]" * 100_000 + "\n"


@dataclass(frozen=True)
class Case:
    """One broken input: `text` is written to bad.yaml (unless None), `files` beside it (None: a
    folder), then `args` run with {file}, {out} and {tmp} filled in; the one line must name `field`."""

    field: str
    text: Text | None = None
    args: tuple[str, ...] = RUN
    files: dict[str, Text | None] = field(default_factory=dict)


#: cases the guards do not meet yet, each with the reason (strict: a fixed one must drop its mark)
NOT_YET = {
    "units-absurd-area-tiny": "quantities have upper physical bounds only; no lower ones yet",
}


def case(group: str, name: str, field_: str, text: Text | None = None, args=RUN, files=None):
    ident = f"{group}-{name}"
    marks = [pytest.mark.xfail(reason=NOT_YET[ident], strict=True)] if ident in NOT_YET else []
    return pytest.param(Case(field_, text, tuple(args), dict(files or {})), id=ident, marks=marks)


def _content(text: Text) -> bytes:
    text = text() if callable(text) else text
    return text if isinstance(text, bytes) else text.encode("utf-8")


# ------------------------------------------------------------------------------ the catalogue

CATALOGUE = [
    # ---- the file itself
    case("file", "missing", "<file>", None, ("run", "{tmp}/nope.yaml", "--out", "{out}")),
    case(
        "file", "directory-given", "<file>", None, ("run", "{tmp}/folder.yaml", "--out", "{out}"), {"folder.yaml": None}
    ),
    case("file", "unknown-shipped-name", "<file>", None, ("run", "lidocane_epinephrine", "--out", "{out}")),
    case("file", "empty", "<file>", ""),
    case("file", "only-a-comment", "<file>", "# nothing here\n"),
    case("file", "a-list", "<file>", "- name: a\n- name: b\n"),
    case("file", "a-scalar", "<file>", "42\n"),
    case("file", "yaml-unclosed-bracket", "<file>", "name: [unclosed\n"),
    case("file", "yaml-bad-indentation", "<file>", "name: x\n  drug: lidocaine\n"),
    case("file", "yaml-duplicate-key", "<file>", ext("name: a\nname: b\n")),
    case("file", "yaml-duplicate-nested-key", "<file>", ext("donor:\n  pH: 4.5\n  pH: 5.0\n")),
    case("file", "yaml-tab-indentation", "<file>", ext("donor:\n\tpH: 4.5\n")),
    case("file", "yaml-nul-character", "<file>", ext("description: a\x00b\n")),
    case("file", "not-utf8-latin1", "<file>", ext("description: café\n").encode("latin-1")),
    case("file", "utf16-with-bom", "<file>", ext("name: x\n").encode("utf-16")),
    case("file", "binary-junk", "<file>", bytes(range(256)) * 16),
    case("file", "alias-bomb", "<file>", alias_bomb),
    case("file", "oversized-20MB", "<file>", oversized),
    case("file", "deeply-nested", "<file>", deeply_nested),
    # ---- extends
    case("extends", "missing-file", "extends", "extends: nowhere.yaml\n"),
    case("extends", "unknown-name", "extends", "extends: lidocane_epinephrine\n"),
    case("extends", "itself", "extends", "extends: bad.yaml\nname: x\n"),
    case(
        "extends",
        "cycle",
        "extends",
        None,
        ("run", "{tmp}/a.yaml", "--out", "{out}"),
        {"a.yaml": "extends: b.yaml\n", "b.yaml": "extends: a.yaml\n"},
    ),
    case("extends", "a-list", "extends", "extends: [lidocaine_epinephrine, lidocaine_only]\n"),
    case("extends", "a-number", "extends", "extends: 42\n"),
    case("extends", "broken-base", "extends", "extends: base.yaml\n", files={"base.yaml": "name: [unclosed\n"}),
    case("extends", "base-not-a-mapping", "extends", "extends: base.yaml\n", files={"base.yaml": "- a\n"}),
    # ---- unknown fields, at every level
    case("unknown", "top-level", "temprature", ext("temprature: 310 K\n")),
    case("unknown", "donor", "donor.aera", ext("donor: {aera: 5 cm^2}\n")),
    case(
        "unknown",
        "donor-content",
        "donor.contents.lidocaine.mass",
        ext("donor: {contents: {lidocaine: {mass: 1 mg}}}\n"),
    ),
    case("unknown", "skin-layer", "skin[1].thicknes", edit("skin", 1, "thicknes", "57 um")),
    case("unknown", "fixed-charge", "skin[0].fixed_charge.pI", edit("skin", 0, "fixed_charge", "pI", 4.8)),
    case(
        "unknown",
        "protocol-step",
        "protocol[0].voltage",
        ext("protocol: [{current: 1 mA, duration: 1 min, voltage: 3 V}]\n"),
    ),
    case("unknown", "numerics", "numerics.timestep", ext("numerics: {timestep: 1 s}\n")),
    case("unknown", "outputs", "outputs.profile_time", ext("outputs: {profile_time: [1 min]}\n")),
    case("unknown", "clearance", "clearance.EC_50", ext("clearance: {EC_50: 1 mM}\n")),
    case("unknown", "electroosmosis", "electroosmosis.flow", ext("electroosmosis: {flow: 1 uL/h}\n")),
    case("unknown", "systemic", "systemic.lidocaine.half_life", ext("systemic: {lidocaine: {half_life: 1 h}}\n")),
    case("unknown", "setup", "setup.receptor_volume", ext("setup: {receptor_volume: 5 mL}\n")),
    case("unknown", "safety", "safety.max_voltage", ext("safety: {max_voltage: 10 V}\n")),
    case("unknown", "geometry", "geometry.resolutoin", ext2d("geometry: {resolutoin: 0.5}\n")),
    case("unknown", "species-definition", "species_definitions.mydrug.valence", drug(GOOD_DRUG + ", valence: 1")),
    case("unknown", "provenance-section", "provenance", ext("provenance: {temperature: x}\n")),
    case("unknown", "source-key", "temperature.source", ext("temperature: {value: 310 K, source: NOSUCHKEY}\n")),
    case("unknown", "value-without-source", "temperature", ext("temperature: {value: 310 K}\n")),
    # ---- wrong types
    case("type", "name-a-list", "name", ext("name: [a, b]\n")),
    case("type", "species-a-string", "species", ext("species: lidocaine\n")),
    case("type", "donor-a-list", "donor", ext("donor: [1, 2]\n")),
    case("type", "skin-a-mapping", "skin", ext("skin: {name: stratum_corneum}\n")),
    case("type", "protocol-a-string", "protocol", ext("protocol: 10 min\n")),
    case("type", "thickness-a-bool", "donor.thickness", ext("donor: {thickness: true}\n")),
    case("type", "pH-a-word", "donor.pH", ext("donor: {pH: acidic}\n")),
    case("type", "cells-a-fraction", "skin[0].cells", edit("skin", 0, "cells", 12.5)),
    case("type", "cells-a-word", "numerics.default_cells", ext("numerics: {default_cells: many}\n")),
    case("type", "profile-times-not-a-list", "outputs.profile_times", ext("outputs: {profile_times: 5 min}\n")),
    case("type", "contents-a-list", "donor.contents", ext("donor: {contents: [lidocaine]}\n")),
    case("type", "pH-model-unknown", "pH_model", ext("pH_model: sliding\n")),
    case("type", "species-definitions-a-list", "species_definitions", ext("species_definitions: [mydrug]\n")),
    # ---- units and magnitudes
    case("units", "missing", "donor.area", ext("donor: {area: 5}\n")),
    case("units", "wrong-dimension", "donor.thickness", ext("donor: {thickness: 2 mA}\n")),
    case("units", "unknown-unit", "donor.area", ext("donor: {area: 5 zorks^2}\n")),
    case("units", "unparseable", "donor.area", ext("donor: {area: 5 cm^^2 +}\n")),
    case("units", "nan-number", "donor.pH", ext("donor: {pH: .nan}\n")),
    case("units", "nan-quantity", "donor.thickness", ext("donor: {thickness: nan mm}\n")),
    case("units", "inf-number", "skin[0].diffusivity_factor", edit("skin", 0, "diffusivity_factor", float("inf"))),
    case("units", "inf-temperature", "temperature", ext("temperature: inf K\n")),
    case("units", "overflow-1e400", "donor.thickness", ext("donor: {thickness: 1e400 mm}\n")),
    case("units", "degC", "temperature", ext("temperature: 37 degC\n")),
    case("units", "zero-kelvin", "temperature", ext("temperature: 0 K\n")),
    case("units", "negative-thickness", "donor.thickness", ext("donor: {thickness: -2 mm}\n")),
    case("units", "absurd-thickness-1e300m", "skin[0].thickness", edit("skin", 0, "thickness", "1e300 m")),
    case(
        "units",
        "absurd-current-1e300A",
        "protocol[0].current",
        ext("protocol: [{current: 1e300 A, duration: 10 min}]\n"),
    ),
    case("units", "absurd-temperature", "temperature", ext("temperature: 1e6 K\n")),
    case("units", "absurd-area", "donor.area", ext("donor: {area: 1e10 m^2}\n")),
    case("units", "absurd-area-tiny", "donor.area", ext("donor: {area: 1e-20 cm^2}\n")),
    case("units", "absurd-profile-time", "outputs.profile_times[0]", ext("outputs: {profile_times: [1e300 s]}\n")),
    # ---- protocol
    case("protocol", "empty", "protocol", ext("protocol: []\n")),
    case("protocol", "step-without-current", "protocol[0]", ext("protocol: [{voltage: 3 V, duration: 1 min}]\n")),
    case("protocol", "step-unknown-word", "protocol[1]", ext("protocol: [{current: 1 mA, duration: 1 min}, pause]\n")),
    case(
        "protocol", "negative-duration", "protocol[0].duration", ext("protocol: [{current: 1 mA, duration: -1 min}]\n")
    ),
    case("protocol", "zero-duration", "protocol[0].duration", ext("protocol: [{current: 1 mA, duration: 0 min}]\n")),
    case("protocol", "no-duration", "protocol[0].duration", ext("protocol: [{current: 1 mA}]\n")),
    case(
        "protocol",
        "negative-current-density",
        "protocol[0].current_density",
        ext("protocol: [{current_density: -0.3 mA/cm^2, duration: 10 min}]\n"),
    ),
    case(
        "protocol",
        "inconsistent-current-and-density",
        "protocol[0].current_density",
        ext("protocol: [{current: 1.77 mA, current_density: 1 mA/cm^2, duration: 10 min}]\n"),
    ),
    case(
        "protocol",
        "rest-with-current",
        "protocol[1]",
        ext("protocol: [{current: 1 mA, duration: 1 min}, {rest: 5 min, current: 1 mA}]\n"),
    ),
    case("protocol", "repeat-zero", "protocol[0].repeat", ext("protocol: [{repeat: 0, steps: [{rest: 1 min}]}]\n")),
    case(
        "protocol", "repeat-a-word", "protocol[0].repeat", ext("protocol: [{repeat: often, steps: [{rest: 1 min}]}]\n")
    ),
    # repeat: 1000000000 is in RESOURCE_GUARDS (a subprocess): unguarded, it fills memory for a minute
    case(
        "protocol",
        "current-after-patch-removed",
        "protocol[2]",
        ext("protocol: [{current: 1 mA, duration: 1 min}, remove_patch, {current: 1 mA, duration: 1 min}]\n"),
    ),
    case(
        "protocol",
        "duty-cycle-above-1",
        "protocol[0].pulse.duty_cycle",
        ext(
            "protocol: [{current: 1 mA, duration: 10 min, pulse: {frequency: 1 kHz, duty_cycle: 1.5}},"
            " {rest: 50 min}]\n"
        ),
    ),
    case(
        "protocol",
        "pulse-frequency-zero",
        "protocol[0].pulse.frequency",
        ext(
            "protocol: [{current: 1 mA, duration: 10 min, pulse: {frequency: 0 Hz, duty_cycle: 0.5}}, {rest: 50 min}]\n"
        ),
    ),
    case(
        "protocol",
        "negative-reversal",
        "protocol[0].reverse_every",
        ext("protocol: [{current: 1 mA, duration: 10 min, reverse_every: -1 min}, {rest: 50 min}]\n"),
    ),
    # ---- donor
    case("donor", "unknown-species", "donor.contents.lidocane", ext("donor: {contents: {lidocane: {amount: 1 mg}}}\n")),
    case(
        "donor",
        "amount-and-concentration",
        "donor.contents.epinephrine",
        ext("donor: {contents: {epinephrine: {amount: 1 mg, concentration: 1 mM}}}\n"),
    ),
    case(
        "donor",
        "neither-amount-nor-concentration",
        "donor.contents.lidocaine",
        edit("donor", "contents", "lidocaine", {"salt": "HCl"}),
    ),
    case("donor", "not-electroneutral", "donor.balance_with", ext("donor: {balance_with: null}\n")),
    case("donor", "balance-with-a-cation", "donor.balance_with", ext("donor: {balance_with: Na+}\n")),
    case("donor", "bad-salt", "donor.contents.lidocaine.salt", ext("donor: {contents: {lidocaine: {salt: HBr}}}\n")),
    case("donor", "bad-electrode", "donor.electrode", ext("donor: {electrode: Pt}\n")),
    case("donor", "area-zero", "donor.area", ext("donor: {area: 0 cm^2}\n")),
    case("donor", "bad-polarity", "donor.polarity", ext("donor: {polarity: sideways}\n")),
    case("donor", "bad-kind", "donor.kind", ext("donor: {kind: sponge}\n")),
    case("donor", "thickness-and-volume", "donor.volume", edit("donor", "volume", "1 mL")),
    case("donor", "mixing-time-on-a-gel", "donor.mixing_time", ext("donor: {mixing_time: 10 s}\n")),
    case(
        "donor",
        "negative-amount",
        "donor.contents.lidocaine.amount",
        ext("donor: {contents: {lidocaine: {amount: -100 mg}}}\n"),
    ),
    case("donor", "content-not-in-species", "donor.contents.epinephrine", ext("species: [lidocaine, Na+, Cl-]\n")),
    case(
        "fluid",
        "not-electroneutral",
        "interstitial_fluid.balance_with",
        ext("interstitial_fluid: {balance_with: null}\n"),
    ),
    case("fluid", "no-units", "interstitial_fluid.Na+", ext("interstitial_fluid: {Na+: 140}\n")),
    # ---- skin layers
    case("skin", "no-layers", "skin", ext("skin: []\n")),
    case("skin", "removed", "skin", ext("skin: null\n")),
    case("skin", "duplicate-names", "skin[1].name", edit("skin", 1, "name", "stratum_corneum")),
    case("skin", "reserved-name", "skin[0].name", edit("skin", 0, "name", "donor")),
    case("skin", "porosity-above-1", "skin[0].porosity", edit("skin", 0, "porosity", 1.5)),
    case("skin", "porosity-zero", "skin[0].porosity", edit("skin", 0, "porosity", 0)),
    case("skin", "negative-thickness", "skin[1].thickness", edit("skin", 1, "thickness", "-57 um")),
    case(
        "skin",
        "isoelectric-point-99",
        "skin[0].fixed_charge.isoelectric_point",
        edit("skin", 0, "fixed_charge", "isoelectric_point", 99),
    ),
    case("skin", "pH-minus-3", "skin[1].pH", edit("skin", 1, "pH", -3)),
    case(
        "skin", "buffer-pKa-99", "skin[0].buffer.pKa", edit("skin", 0, "buffer", {"concentration": "20 mM", "pKa": 99})
    ),
    case("skin", "negative-clearance", "skin[2].clearance_rate", edit("skin", 2, "clearance_rate", "-1e-4 1/s")),
    case("skin", "grading-zero", "skin[3].grading", edit("skin", 3, "grading", 0)),
    case("skin", "cells-zero", "skin[0].cells", edit("skin", 0, "cells", 0)),
    case("skin", "cells-1e6", "skin[0].cells", edit("skin", 0, "cells", 1_000_000)),
    case("skin", "missing-pH", "skin[1].pH", edit_with(lambda d: d["skin"][1].pop("pH"))),
    case(
        "skin", "lipid-fraction-2", "skin[0].lipids.volume_fraction", edit("skin", 0, "lipids", {"volume_fraction": 2})
    ),
    # ---- outputs
    case("outputs", "profile-after-end", "outputs.profile_times[1]", ext("outputs: {profile_times: [10 min, 2 h]}\n")),
    case("outputs", "profile-unsorted", "outputs.profile_times[1]", ext("outputs: {profile_times: [10 min, 5 min]}\n")),
    case("outputs", "profile-negative", "outputs.profile_times[0]", ext("outputs: {profile_times: [-1 min]}\n")),
    case(
        "outputs",
        "threshold-a-current",
        "outputs.penetration_threshold",
        ext("outputs: {penetration_threshold: 1 mA}\n"),
    ),
    case(
        "outputs", "threshold-zero", "outputs.penetration_threshold", ext("outputs: {penetration_threshold: 0 ug/mL}\n")
    ),
    case(
        "outputs", "sampling-depth-negative", "outputs.sampling_depths[0]", ext("outputs: {sampling_depths: [-1 mm]}\n")
    ),
    case(
        "outputs",
        "effective-concentration-a-length",
        "outputs.effective_concentration",
        ext("outputs: {effective_concentration: 1 mm}\n"),
    ),
    # ---- species definitions (a user drug)
    case(
        "species",
        "pKa-99",
        "species_definitions.mydrug.pKa",
        drug("charge: 1, pKa: 99, acid_base: base, molar_mass: 300 g/mol"),
    ),
    case("species", "log-P-99", "species_definitions.mydrug.log_P", drug(GOOD_DRUG + ", log_P: 99")),
    case("species", "charge-zero", "species_definitions.mydrug.charge", drug("charge: 0, molar_mass: 300 g/mol")),
    case("species", "charge-fraction", "species_definitions.mydrug.charge", drug("charge: 0.5, molar_mass: 300 g/mol")),
    case("species", "molar-mass-no-units", "species_definitions.mydrug.molar_mass", drug("charge: 1, molar_mass: 300")),
    case(
        "species",
        "pKa-without-acid-base",
        "species_definitions.mydrug.pKa",
        drug("charge: 1, pKa: 8, molar_mass: 300 g/mol"),
    ),
    case("species", "binding-1", "species_definitions.mydrug.binding", drug(GOOD_DRUG + ", binding: 1")),
    case(
        "species",
        "diffusivity-a-length",
        "species_definitions.mydrug.diffusivity",
        drug(GOOD_DRUG + ", diffusivity: 1 um"),
    ),
    case(
        "species",
        "clashes-with-built-in",
        "species_definitions.Lidocaine",
        ext("species_definitions: {Lidocaine: {charge: 1, molar_mass: 234 g/mol}}\n"),
    ),
    case("species", "unknown-in-list", "species[1]", ext("species: [lidocaine, epinephrin, Na+, Cl-]\n")),
    case("species", "listed-twice", "species[4]", ext("species: [lidocaine, epinephrine, Na+, Cl-, Na+]\n")),
    # ---- numerics
    case("numerics", "dt-max-below-dt-initial", "numerics.dt_max", ext("numerics: {dt_initial: 1 min, dt_max: 1 s}\n")),
    case("numerics", "dt-growth-below-1", "numerics.dt_growth", ext("numerics: {dt_growth: 0.5}\n")),
    case("numerics", "unknown-linear-solver", "numerics.linear_solver", ext("numerics: {linear_solver: cholesky}\n")),
    case("numerics", "newton-tol-zero", "numerics.newton_tol", ext("numerics: {newton_tol: 0}\n")),
    case("numerics", "default-cells-zero", "numerics.default_cells", ext("numerics: {default_cells: 0}\n")),
    case("numerics", "refinement-1e6", "numerics.refinement", ext("numerics: {refinement: 1e6}\n")),
    case("numerics", "krylov-rtol-2", "numerics.krylov_rtol", ext("numerics: {krylov_rtol: 2}\n")),
    case("numerics", "unknown-step-control", "numerics.step_control", ext("numerics: {step_control: newton}\n")),
    case("numerics", "step-tolerance-1", "numerics.step_tolerance", ext("numerics: {step_tolerance: 1}\n")),
    case("numerics", "unknown-time-scheme", "numerics.time_scheme", ext("numerics: {time_scheme: crank_nicolson}\n")),
    case(
        "numerics",
        "bdf2-in-a-franz-cell",
        "numerics.time_scheme",
        ext("numerics: {time_scheme: bdf2}\n", base=FRANZ),
    ),
    case(
        "numerics",
        "bdf2-by-iterations-with-H+",
        "numerics.time_scheme",
        ext("numerics: {time_scheme: bdf2}\n", base="acetic_acid_cathodal"),
    ),
    case(
        "numerics",
        "bdf2-by-iterations-past-a-patch-removal",
        "numerics.step_control",
        ext(
            "numerics: {time_scheme: bdf2}\n"
            "protocol: [{current: 0.5 mA, duration: 10 min}, remove_patch, {rest: 10 min}]\n"
            "outputs: {profile_times: [5 min]}\n"
        ),
    ),
    # ---- safety, setup
    case(
        "safety",
        "negative-current-limit",
        "safety.max_current_density",
        ext("safety: {max_current_density: -0.5 mA/cm^2}\n"),
    ),
    case("safety", "pH-range-reversed", "safety.skin_pH_range", ext("safety: {skin_pH_range: [10, 4]}\n")),
    case(
        "setup",
        "franz-cell-without-receptor",
        "setup.receptor",
        ext("setup: {kind: franz_cell, membrane: {kind: as_given}}\n"),
    ),
    case("setup", "unknown-kind", "setup.kind", ext("setup: {kind: petri_dish}\n")),
    # ---- geometry (the 2D patch) and the mesh command
    case("geometry", "unknown-kind", "geometry.kind", ext2d("geometry: {kind: hexagon}\n")),
    case("geometry", "resolution-zero", "geometry.resolution", ext2d("geometry: {resolution: 0}\n")),
    case("geometry", "resolution-negative", "geometry.resolution", ext2d("geometry: {resolution: -1}\n"), MESH),
    case("geometry", "growth-5", "geometry.growth", ext2d("geometry: {growth: 5}\n")),
    case("geometry", "anode-wider-than-patch", "geometry", ext2d("geometry: {anode_width: 100 mm}\n")),
    case("geometry", "return-area-mismatch", "return_electrode.area", ext2d("return_electrode: {area: 50 cm^2}\n")),
    case("geometry", "moving-pH-on-a-patch", "pH_model", ext2d("pH_model: moving\n")),
    case("geometry", "mesh-without-geometry", "geometry", ext(""), MESH),
    # ---- a patch from a mesh file (iontosim/mesh/tagged.py)
    case("mesh-file", "missing", "geometry.mesh", ext("geometry: {kind: planar, mesh: nowhere.geo}\n")),
    case("mesh-file", "not-gmsh", "geometry.mesh", ext("geometry: {kind: planar, mesh: skin.vtk}\n")),
    case(
        "mesh-file",
        "unreadable",
        "geometry.mesh",
        ext("geometry: {kind: planar, mesh: broken.geo}\n"),
        files={"broken.geo": "Point(1) = {0, 0\n"},
    ),
    case("mesh-file", "group-missing", "geometry.tags.appendages", follicle("tags: {appendages: [canal]}")),
    case("mesh-file", "tag-of-nothing", "geometry.tags.dermis", follicle("tags: {dermis: skin}")),
    case("mesh-file", "cells-untagged", "geometry.mesh", follicle("tags: {appendages: follicle_canal}")),
    case("mesh-file", "unit-wrong", "geometry.mesh", follicle("mesh_unit: mm")),
    case("mesh-file", "unit-not-a-length", "geometry.mesh_unit", follicle("mesh_unit: s")),
    case("mesh-file", "kind-3d", "geometry.kind", follicle("kind: block")),
    case("mesh-file", "with-width", "geometry.width", follicle("width: 1 mm")),
    case("mesh-file", "resolution-too-fine", "geometry.resolution", follicle("resolution: 100")),
    case("mesh-file", "resolution-too-fine-mesh", "geometry.resolution", follicle("resolution: 100"), MESH),
    case("mesh-file", "tags-without-mesh", "geometry.tags", ext2d("geometry: {tags: {donor: gel}}\n")),
    case(
        "mesh-file",
        "layer-group-missing",
        "geometry.tags.hypodermis",
        ext("geometry: {kind: planar, mesh: strip.geo, mesh_unit: um}\n"),
        files={
            "strip.geo": lambda: STRIP.read_text().replace(
                'Physical Surface("hypodermis") = {layer[5]};', 'Physical Surface("hypodermis") = {};'
            )
        },
    ),
    # ---- sweep files
    case("sweep", "not-a-mapping", "<file>", "- base\n", SWEEP),
    case("sweep", "not-utf8", "<file>", sweep().encode("utf-8") + b"description: caf\xe9\n", SWEEP),
    case("sweep", "missing-file", "<file>", None, ("sweep", "{tmp}/nope.yaml", "--out", "{out}")),
    case("sweep", "base-missing", "base", sweep(base="base: nowhere.yaml\n"), SWEEP),
    case("sweep", "base-unknown-name", "base", sweep(base="base: lidocane_epinephrine\n"), SWEEP),
    case(
        "sweep",
        "base-broken",
        "base",
        sweep(base="base: broken.yaml\n"),
        SWEEP,
        {"broken.yaml": ext("donor: {pH: 15}\n")},
    ),
    case("sweep", "no-base", "base", sweep(base=""), SWEEP),
    case("sweep", "unknown-top-level", "paramters", sweep(more="paramters: {}\n"), SWEEP),
    case("sweep", "no-parameters", "parameters", sweep(parameters="parameters: {}\n"), SWEEP),
    case(
        "sweep",
        "unknown-parameter-path",
        "parameters[skin[0].thicknes]",
        sweep(parameters="parameters:\n  skin[0].thicknes: {values: [10 um, 20 um]}\n"),
        SWEEP,
    ),
    case(
        "sweep",
        "parameter-not-a-path",
        "parameters[skin[[0]",
        sweep(parameters="parameters:\n  skin[[0: {values: [10 um, 20 um]}\n"),
        SWEEP,
    ),
    case(
        "sweep",
        "grid-without-levels",
        "parameters[protocol[0].current].levels",
        sweep(parameters="parameters:\n  protocol[0].current: {range: [1 mA, 2 mA]}\n"),
        SWEEP,
    ),
    case(
        "sweep",
        "grid-1e9-levels",
        "parameters",
        sweep(parameters="parameters:\n  protocol[0].current: {range: [1 mA, 2 mA], levels: 1000000000}\n"),
        SWEEP,
    ),
    case(
        "sweep",
        "levels-1",
        "parameters[protocol[0].current].levels",
        sweep(parameters="parameters:\n  protocol[0].current: {range: [1 mA, 2 mA], levels: 1}\n"),
        SWEEP,
    ),
    case("sweep", "bad-design-kind", "design.kind", sweep(design="design: {kind: factorial}\n"), SWEEP),
    case(
        "sweep",
        "sobol-samples-not-power-of-2",
        "design.samples",
        sweep(design="design: {kind: sobol, samples: 10}\n"),
        SWEEP,
    ),
    case("sweep", "random-without-samples", "design.samples", sweep(design="design: {kind: random}\n"), SWEEP),
    case(
        "sweep",
        "values-of-the-wrong-unit",
        "parameters[skin[0].thickness].values[0]",
        sweep(parameters="parameters:\n  skin[0].thickness: {values: [1 mA, 2 mA]}\n"),
        SWEEP,
    ),
    case(
        "sweep",
        "values-of-mixed-units",
        "parameters[protocol[0].current].values[1]",
        sweep(parameters="parameters:\n  protocol[0].current: {values: [1 mA, 2 um]}\n"),
        SWEEP,
    ),
    case(
        "sweep",
        "range-reversed",
        "parameters[protocol[0].current].range",
        sweep(parameters="parameters:\n  protocol[0].current: {range: [2 mA, 1 mA], levels: 3}\n"),
        SWEEP,
    ),
    case(
        "sweep",
        "value-the-scenario-refuses",
        "parameters[donor.pH].values[1]",
        sweep(parameters="parameters:\n  donor.pH: {values: [4, 15]}\n"),
        SWEEP,
    ),
    case("sweep", "unknown-output", "outputs[0]", sweep(more="outputs: [happiness]\n"), SWEEP),
    case("sweep", "workers-zero", "--workers", None, ("sweep", SHIPPED_SWEEP, "--out", "{out}", "--workers", "0")),
    case(
        "sweep",
        "array-index-negative",
        "--array-index",
        None,
        ("sweep", SHIPPED_SWEEP, "--out", "{out}", "--array-index", "-1"),
    ),
    # ---- command-line arguments
    case(
        "args",
        "checkpoint-every-negative",
        "--checkpoint-every",
        None,
        ("run", "lidocaine_epinephrine", "--out", "{out}", "--checkpoint-every", "-1"),
    ),
    case(
        "args",
        "checkpoint-every-nan",
        "--checkpoint-every",
        None,
        ("run", "lidocaine_epinephrine", "--out", "{out}", "--checkpoint-every", "nan"),
    ),
    case(
        "args",
        "checkpoint-every-a-word",
        "--checkpoint-every",
        None,
        ("run", "lidocaine_epinephrine", "--out", "{out}", "--checkpoint-every", "often"),
    ),
    case("args", "unknown-option", "--bogus", None, ("run", "lidocaine_epinephrine", "--out", "{out}", "--bogus")),
    case(
        "args",
        "max-cells-zero-1d",
        "--max-cells",
        None,
        ("run", "lidocaine_epinephrine", "--out", "{out}", "--no-progress", "--max-cells", "0"),
    ),
    case(
        "args",
        "max-cells-negative-mesh",
        "--max-cells",
        None,
        ("mesh", "lidocaine_epinephrine_2d", "--out", "{out}", "--max-cells", "-5"),
    ),
    case("args", "resume-without-out", "--resume", None, ("run", "lidocaine_epinephrine", "--resume", "--no-progress")),
    case(
        "args",
        "resume-nothing-to-resume",
        "--resume",
        None,
        ("run", "lidocaine_epinephrine", "--out", "{out}", "--resume"),
    ),
    case(
        "args",
        "out-is-a-file",
        "--out",
        None,
        ("run", "lidocaine_epinephrine", "--out", "{out}"),
        {"out": "not a run\n"},
    ),
    case(
        "args",
        "out-inside-a-file",
        "--out",
        None,
        ("run", "lidocaine_epinephrine", "--out", "{tmp}/afile/run"),
        {"afile": "x\n"},
    ),
    case(
        "args",
        "out-a-foreign-folder",
        "--out",
        None,
        ("run", "lidocaine_epinephrine", "--out", "{out}", "--overwrite"),
        {"out/notes.txt": "keep me\n"},
    ),
    case(
        "args",
        "sensitivity-step-zero",
        "--step",
        None,
        ("sensitivity", "lidocaine_epinephrine", "--out", "{out}", "--step", "0"),
    ),
    case(
        "args",
        "sensitivity-step-nan",
        "--step",
        None,
        ("sensitivity", "lidocaine_epinephrine", "--out", "{out}", "--step", "nan"),
    ),
    case(
        "args",
        "sensitivity-unknown-parameter",
        "--parameter",
        None,
        ("sensitivity", "lidocaine_epinephrine", "--out", "{out}", "-p", "skin[0].thicknes"),
    ),
    case(
        "args",
        "sensitivity-workers-zero",
        "--workers",
        None,
        ("sensitivity", "lidocaine_epinephrine", "--out", "{out}", "--workers", "0"),
    ),
    case(
        "args",
        "sensitivity-broken-scenario",
        "donor.pH",
        ext("donor: {pH: 15}\n"),
        ("sensitivity", "{file}", "--out", "{out}"),
    ),
    case("args", "validate-unknown-case", "no_such_case", None, ("validate", "no_such_case", "--out", "{out}")),
    case(
        "args",
        "validate-missing-cases-dir",
        "--cases-dir",
        None,
        ("validate", "--cases-dir", "{tmp}/nowhere", "--out", "{out}"),
    ),
]


# ------------------------------------------------------------------------------ running one case


class Accepted(Exception):
    """Raised by the stubs below: the broken input got past every check."""


def _accepted(what: str):
    def stub(*args, **kwargs):
        raise Accepted(f"the input was accepted: {what} started")

    return stub


@pytest.fixture
def refuse_to_compute(monkeypatch, tmp_path):
    """Nothing long may start in this process: the time loop, the mesher, a sweep's cases, a
    sensitivity analysis's runs and validation solves raise Accepted instead. The signal handlers
    `iontosim run` installs are put back afterwards."""
    import iontosim.analysis.sensitivity
    import iontosim.mesh.of_scenario
    import iontosim.simulation
    import iontosim.sweep.command
    import iontosim.validation.suite

    monkeypatch.setattr(iontosim.simulation.TimeLoop, "run", _accepted("the time loop"))
    monkeypatch.setattr(iontosim.mesh.of_scenario, "scenario_mesh", _accepted("meshing"))
    monkeypatch.setattr(iontosim.sweep.command, "_run", _accepted("the sweep's cases"))
    monkeypatch.setattr(iontosim.analysis.sensitivity, "analyse", _accepted("the sensitivity runs"))
    monkeypatch.setattr(iontosim.validation.suite, "run_case", _accepted("a validation case"))
    monkeypatch.chdir(tmp_path)  # a default --out (runs/...) lands here
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    yield
    for signum, handler in handlers.items():
        signal.signal(signum, handler)
    interruption.reset()


#: extra address space a case may take in this process before its allocations fail
MEMORY_CAP = 1536 << 20


@contextlib.contextmanager
def _address_space_cap(extra: int = MEMORY_CAP):
    """Cap this process's address space at its present size plus `extra` (a missing size guard
    then fails with MemoryError in seconds instead of taking the machine's memory)."""
    status = Path("/proc/self/status")
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if not status.exists():
        yield
        return
    size = int(re.search(r"VmSize:\s+(\d+) kB", status.read_text()).group(1)) * 1024
    cap = size + extra if hard == resource.RLIM_INFINITY else min(size + extra, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _lay_out(tmp_path: Path, c: Case) -> dict[Path, bytes | None]:
    """Write the case's files; return what each holds (None: a folder) to check it is left alone."""
    written: dict[Path, bytes | None] = {}
    if c.text is not None:
        (tmp_path / "bad.yaml").write_bytes(_content(c.text))
    for name, text in c.files.items():
        path = tmp_path / name
        if text is None:
            path.mkdir(parents=True)
            written[path] = None
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(_content(text))
            written[path] = path.read_bytes()
    return written


def _fill(args: tuple[str, ...], tmp_path: Path) -> list[str]:
    where = {"file": str(tmp_path / "bad.yaml"), "out": str(tmp_path / "out"), "tmp": str(tmp_path)}
    return [a.format(**where) for a in args]


def _describe(result) -> str:
    text = f"exit {result.exit_code}; stderr:\n{result.stderr}\nstdout:\n{result.stdout}"
    if result.exc_info is not None and not isinstance(result.exception, SystemExit):
        import traceback

        text += "\nexception:\n" + "".join(traceback.format_exception(*result.exc_info)[-3:])
    return text


def _check_nothing_written(tmp_path: Path, written: dict[Path, bytes | None]) -> None:
    out = tmp_path / "out"
    if out not in written and not any(p.is_relative_to(out) for p in written):
        assert not out.exists(), f"{out} was created"
    assert not list(tmp_path.glob(".out.partial-*")), "a staging folder was left behind"
    assert not list(tmp_path.rglob("summary.json")), "something at --out looks like a finished run"
    for path, content in written.items():
        if content is None:
            assert path.is_dir()
        else:
            assert path.read_bytes() == content, f"{path} was changed"


@pytest.mark.parametrize("c", CATALOGUE)
def test_broken_input_is_one_line_exit_2(c: Case, tmp_path, refuse_to_compute):
    written = _lay_out(tmp_path, c)
    args = _fill(c.args, tmp_path)
    started = time.perf_counter()
    with _address_space_cap():
        result = CliRunner().invoke(app, args)
    seconds = time.perf_counter() - started
    described = _describe(result)
    assert result.exit_code == 2, described
    assert result.exception is None or isinstance(result.exception, SystemExit), described
    assert "Traceback" not in result.output, described
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, f"{len(lines)} lines: " + described
    assert lines == [line for line in result.stderr.splitlines() if line.strip()], "the line is not on stderr"
    assert lines[0].startswith("error: "), described
    assert c.field in lines[0], f"{c.field!r} not named: {lines[0]}"
    assert seconds < 20, f"took {seconds:.1f} s"
    _check_nothing_written(tmp_path, written)


def test_the_catalogue_is_large_and_distinct():
    ids = [p.id for p in CATALOGUE]
    assert len(ids) >= 80 and len(set(ids)) == len(ids)


# The inputs above are broken by one change each: the same files without it are valid.
CONTROLS = [
    pytest.param(ext(""), id="extends-default"),
    pytest.param(ext2d(""), id="extends-2d"),
    pytest.param(drug(GOOD_DRUG), id="user-drug"),
    pytest.param(edit("skin", 0, "cells", 64), id="edited-default"),
]


@pytest.mark.parametrize("text", CONTROLS)
def test_the_unbroken_scenarios_load(text, tmp_path):
    from iontosim.api import load

    path = tmp_path / "good.yaml"
    path.write_bytes(_content(text))
    load(path)


def test_the_unbroken_sweep_reads(tmp_path):
    from iontosim.sweep.spec import read_sweep

    path = tmp_path / "good.yaml"
    path.write_text(sweep())
    assert read_sweep(path).parameters


# ------------------------------------------------------------------------------ resource guards

BIN = Path(sys.executable).parent
CLI = str(BIN / "iontosim")
TIME = shutil.which("time", path="/usr/bin:/bin")
LIMIT_S = 60
LIMIT_MB = 500
#: the child's address space is capped here, so that a missing guard cannot take the machine
CHILD_CAP = 2 << 30


def _cap_child() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (CHILD_CAP, resource.RLIM_INFINITY))


@dataclass
class Finished:
    status: int
    stdout: str
    stderr: str
    seconds: float
    peak_mb: float


def _measured(args: list[str], cwd: Path) -> Finished:
    """Run `iontosim args` in its own process group, killed after LIMIT_S; its peak resident size
    from /usr/bin/time (else the largest child's, ru_maxrss, an upper bound)."""
    record = cwd / ".time"
    command = ([TIME, "-o", str(record), "-f", "%M"] if TIME else []) + [CLI, *args]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    started = time.perf_counter()
    proc = subprocess.Popen(
        command,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
        preexec_fn=_cap_child,
    )
    try:
        stdout, stderr = proc.communicate(timeout=LIMIT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate()
        pytest.fail(f"iontosim {' '.join(args)} still running after {LIMIT_S} s; stderr: {stderr[-500:]}")
    seconds = time.perf_counter() - started
    if TIME:
        peak_kb = int(record.read_text().split()[-1])
    else:
        peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return Finished(proc.returncode, stdout, stderr, seconds, peak_kb / 1024)


@pytest.fixture(scope="module")
def baseline_mb(tmp_path_factory) -> float:
    """Peak resident size of `iontosim scenarios`: the interpreter and its imports alone."""
    done = _measured(["scenarios"], tmp_path_factory.mktemp("baseline"))
    assert done.status == 0, done.stderr
    return done.peak_mb


RESOURCE_GUARDS = [
    pytest.param(("run", "{file}"), "<file>", alias_bomb, id="alias-bomb"),
    pytest.param(("run", "{file}"), "<file>", oversized, id="oversized-20MB"),
    pytest.param(
        ("run", "{file}"), "geometry.resolution", ext2d("geometry: {resolution: 1e6}\n"), id="resolution-1e6-2d"
    ),
    pytest.param(("run", "{file}"), "skin[0].cells", edit("skin", 0, "cells", 1_000_000), id="cells-1e6-1d"),
    pytest.param(
        ("run", "{file}"),
        "protocol[0].repeat",
        ext("protocol: [{repeat: 1000000000, steps: [{rest: 1 s}]}]\noutputs: {profile_times: [1 min]}\n"),
        id="repeat-1e9",
    ),
    pytest.param(
        ("sweep", "{file}"),
        "parameters",
        sweep(parameters="parameters:\n  protocol[0].current: {range: [1 mA, 2 mA], levels: 1000000000}\n"),
        id="sweep-grid-1e9-levels",
    ),
]


@pytest.mark.parametrize("args, field_, text", RESOURCE_GUARDS)
def test_resource_guard_refuses_at_once(args, field_, text, tmp_path, baseline_mb):
    (tmp_path / "bad.yaml").write_bytes(_content(text))
    done = _measured(_fill(args, tmp_path) + ["--out", str(tmp_path / "out"), "--no-progress"], tmp_path)
    said = (
        f"exit {done.status}, {done.seconds:.1f} s, peak {done.peak_mb:.0f} MB "
        f"(baseline {baseline_mb:.0f} MB); stderr:\n{done.stderr[-2000:]}"
    )
    assert done.status == 2, said
    assert "Traceback" not in done.stderr + done.stdout, said
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and field_ in lines[0], said
    assert done.seconds < LIMIT_S, said
    assert done.peak_mb < LIMIT_MB, said
    assert not (tmp_path / "out").exists()
