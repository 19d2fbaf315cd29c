"""Pages generated from the code, so that they cannot drift from it (an mkdocs hook).

A page asks for a generated part with a marker line, replaced when the site is built:

    <!-- generated: config-fields -->   every scenario field (iontosim/scenario/schema.py)
    <!-- generated: units -->           the dimensions a quantity may have (iontosim/scenario/units.py)
    <!-- generated: sources -->         the bibliography (iontosim/library/sources.py)
    <!-- generated: commands -->        the command line (iontosim/cli.py)
    <!-- generated: command NAME [MODULE:FUNCTION] -->
                                        one command; until NAME is registered in iontosim/cli.py,
                                        read from MODULE:FUNCTION with a visible TODO
    <!-- generated: hpc-dependencies --> the pip line for a site DOLFINx (pyproject.toml)

Field descriptions are the schema's own ``#:`` comments (the field's name in
iontosim/mesh/geometry.py for the geometry section), else a line of EXTRA below. A field with
neither is a warning, which fails ``mkdocs build --strict`` (tests/test_docs.py): document a new
field where it is declared. tests/test_docs.py also imports this module to check the generated
text for paths and commands.
"""

from __future__ import annotations

import ast
import inspect
import logging
import re
import sys
import types
import typing
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # the hook runs inside mkdocs; iontosim is normally installed (-e) anyway
    sys.path.insert(0, str(ROOT))

from pydantic import BaseModel  # noqa: E402
from pydantic.fields import FieldInfo  # noqa: E402

log = logging.getLogger("mkdocs.plugins.iontosim")

MARKER = re.compile(r"^<!-- generated: ([a-z-]+)((?: [\w.:-]+)*) -->$", re.MULTILINE)

# ---------------------------------------------------------------- descriptions not in the schema

#: "Class.field" -> description, for fields without a ``#:`` comment where they are declared.
#: Moving a line into the schema as a ``#:`` comment is better; a line here for a field that the
#: schema documents, or for a field that does not exist, is a warning.
EXTRA: dict[str, str] = {
    # Scenario
    "Scenario.name": "The scenario's name: the default run directory is `runs/<name>-<time>`.",
    "Scenario.description": "Free text: what is simulated and why.",
    "Scenario.temperature": "Skin and body temperature (in kelvin only: `310.15 K`); sets RT/F.",
    "Scenario.drug": "The species whose delivery, penetration depth and plasma level are reported.",
    "Scenario.species": "Every mobile species of the run (built-in names of `iontosim species` or "
    "`species_definitions`), drug included.",
    "Scenario.donor": "The drug reservoir under the donor electrode.",
    "Scenario.interstitial_fluid": "The tissue fluid: the initial composition of the skin and the "
    "fixed composition of the deep boundary.",
    "Scenario.skin": "The skin layers, top (electrode side) first.",
    "Scenario.electroosmosis": "Electroosmotic flow, calibrated by a measured volume flow per charge; "
    "left out, no flow.",
    "Scenario.clearance": "Dermal clearance into the blood and its vasoconstriction.",
    "Scenario.systemic": "One-compartment systemic kinetics per species that the clearance removes.",
    "Scenario.protocol": "The current protocol: a list of steps, written as on the "
    "[Writing a config](configuration.md#protocols) page.",
    "Scenario.numerics": "Discretisation and solver settings.",
    "Scenario.outputs": "What the run records besides its time series.",
    "Scenario.safety": "Limits the run is checked against; a breach is a warning.",
    "GeometrySection.kind": "`column`: the 1D column (the default without a geometry section); "
    "`planar`: a 2D section across a strip anode; `axisymmetric`: a disc "
    "anode (2D, r and depth); `block`: a 3D quarter of a square anode.",
    "Numerics.krylov_max_iter": "Krylov iterations after which a linear solve counts as failed "
    "(the step is retried shorter); see `krylov_rtol`.",
    # FixedCharge
    "FixedCharge.isoelectric_point": "pH at which the fixed charge changes sign (pI).",
    "FixedCharge.charge_at_reference_pH": "Signed fixed charge at `reference_pH` (negative above the pI); "
    "fixes X_max of X(pH) = X_max tanh(ln10 (pI - pH)/2).",
    "FixedCharge.reference_pH": "The pH at which `charge_at_reference_pH` is given.",
    # Buffer
    "Buffer.concentration": "Total buffer (HB + B), per pore volume.",
    "Buffer.pKa": "Acid dissociation constant of HB <-> B + H+.",
    "Buffer.acid_charge": "Charge of the acid form HB (B has one less).",
    # Layer
    "Layer.name": "Layer name (unique; not `donor`, `return_electrode` or `appendages`); results "
    "report amounts per layer by it.",
    "Layer.thickness": "Layer thickness.",
    "Layer.pH": "The layer's (buffered) pH: sets its fixed charge and the ionized fraction of weak electrolytes in it.",
    "Layer.porosity": "Aqueous volume fraction: scales storage (amounts per tissue volume).",
    "Layer.diffusivity_factor": "D_eff = factor x D_aq: porosity and tortuosity of the aqueous pathway.",
    "Layer.pore_radius": "Renkin hindrance of diffusion in pores of this radius; left out, none.",
    "Layer.partition": "Tissue/water partition coefficient: one number for every species, or "
    "`{species: number}`; left out, each species' own (1 unless its definition says).",
    "Layer.fixed_charge": "The layer's fixed charge from its isoelectric point; left out, uncharged.",
    "Layer.clearance_rate": "First-order clearance of drug species into the blood (vascular layers).",
    "Layer.buffer": "An immobile buffer in the layer (needs H+ and OH- among the species).",
    "Layer.cells": "Cells across the layer in the 1D column; left out, `numerics.default_cells`.",
    "Layer.grading": "Ratio of the bottom cell's size to the top cell's in the 1D column (1: uniform).",
    # Appendages
    "Appendages.name": "Always `appendages` (the region's name).",
    "Appendages.pH": "pH in the channels; left out, the top skin layer's.",
    "Appendages.porosity": "Aqueous volume fraction in the channels.",
    "Appendages.diffusivity_factor": "D_eff = factor x D_aq in the channels.",
    "Appendages.pore_radius": "Renkin hindrance in the channels; left out, none.",
    "Appendages.partition": "Channel/water partition coefficient, as for a layer.",
    "Appendages.fixed_charge": "Fixed charge of the channel walls; left out, uncharged.",
    # DonorContent
    "DonorContent.amount": "Mass put in the gel (of the salt when `salt` is given).",
    "DonorContent.concentration": "Concentration in the gel (give this or `amount`).",
    "DonorContent.salt": "The salt form weighed in `amount` (a salt of the species, e.g. `HCl`).",
    # Donor
    "Donor.kind": "A finite gel that depletes (the only kind so far).",
    "Donor.area": "Area of the pad and its electrode: a current is divided by it.",
    "Donor.thickness": "Pad thickness (its volume is area x thickness).",
    "Donor.pH": "pH of the pad: ionization of weak electrolytes in it; with H+ and OH- among the "
    "species, their initial concentrations.",
    "Donor.diffusivity_factor": "D_eff = factor x D_aq in the pad.",
    "Donor.contents": "What the pad holds, by species: `{amount: ...}` or `{concentration: ...}`.",
    "Donor.balance_with": "The ion added to make the pad electroneutral.",
    "Donor.buffer": "An immobile buffer in the pad (needs H+ and OH- among the species).",
    "Donor.cells": "Cells across the pad in the 1D column; left out, `numerics.donor_cells`.",
    # Fluid
    "Fluid.concentrations": "Species concentrations, written directly in the section (`Na+: 140 mM`).",
    "Fluid.balance_with": "The ion added to make the fluid electroneutral.",
    # Electroosmosis
    "Electroosmosis.volume_per_charge": "Measured electroosmotic volume flow per charge passed.",
    "Electroosmosis.reference_pH": "The pH of that measurement.",
    "Electroosmosis.reference_salt": "The salt concentration of that measurement.",
    # Clearance
    "Clearance.counter_ion": "Removed with cleared drug ions so that clearance carries no current.",
    "Clearance.vasoconstrictor": "Species whose local concentration C_v slows clearance; left out, none.",
    "Clearance.max_effect": "Emax: the largest fractional reduction of clearance.",
    "Clearance.EC50": "Vasoconstrictor concentration at half the maximal effect.",
    "Clearance.hill": "Hill exponent of the effect on C_v.",
    # Pharmacokinetics
    "Pharmacokinetics.volume_of_distribution": "Apparent volume of distribution.",
    "Pharmacokinetics.elimination_half_life": "Elimination half-life.",
    # Pulse
    "Pulse.frequency": "Pulse frequency; periods of at least `numerics.min_resolved_pulse_period` "
    "are resolved, faster pulses act as their mean current.",
    "Pulse.duty_cycle": "Fraction of each period with current on.",
    # Step
    "Step.kind": "Set by the way a step is written (`current`/`current_density` or `rest`): not written in a config.",
    "Step.duration": "How long the step lasts.",
    "Step.current": "Total current over the donor area (magnitude; the sign comes from `donor.polarity`).",
    "Step.current_density": "Current per donor area (magnitude); give this or `current`.",
    "Step.pulse": "Pulsed direct current: `current` is then the on-current.",
    "Step.reverse_every": "Polarity reversal: the current changes sign after each such interval.",
    # Numerics
    "Numerics.refinement": "Multiplies the number of cells of every layer and of the pads in the 1D "
    "column (2: twice finer).",
    "Numerics.default_cells": "Cells across a skin layer that does not give `cells`.",
    "Numerics.donor_cells": "Cells across a pad that does not give `cells`.",
    "Numerics.dt_initial": "First time step, and the step after every protocol switch.",
    "Numerics.dt_growth": "Factor by which the step grows after an easy Newton solve (step_control: iterations).",
    "Numerics.newton_tol": "Newton stops when the update of ln c and of the potential drops are below this.",
    "Numerics.newton_max_iter": "Newton iterations after which the step is retried at a quarter of its length.",
    "Numerics.concentration_floor": "Smallest concentration of a species that a fluid or pad does not "
    "contain (ln c needs c > 0); nodes a million times below it do not "
    "count when Newton's convergence is judged.",
    # Outputs
    "Outputs.profile_times": "Times of the depth profiles (and, on a patch, of the fields), strictly "
    "increasing, within the protocol.",
    "Outputs.penetration_threshold": "Drug concentration that defines the penetration depth: a "
    "concentration (`5 uM`) or a mass concentration (`1 ug/mL`, "
    "converted with the drug's molar mass).",
    # SpeciesDefinition
    "SpeciesDefinition.charge": "Charge number of the ionized form: a non-zero integer (`+1`, `-2`).",
    "SpeciesDefinition.pKa": "pKa of the weak acid or base (needs `acid_base`).",
    "SpeciesDefinition.acid_base": "`base`: the ionized form's partner has one proton less (charge "
    "z - 1, as lidocaine-H+ and lidocaine); `acid`: one proton more "
    "(z + 1, as acetate and acetic acid). Needs `pKa`.",
    "SpeciesDefinition.molar_mass": "Molar mass of the species.",
    "SpeciesDefinition.diffusivity": "Free-solution diffusivity at 25 C; left out, Hayduk-Laudie "
    "from the molar mass (+/-30 %).",
    "SpeciesDefinition.salts": "Molar masses of its salts by name, for `donor.contents.*.salt`.",
}

#: where the meaning of a section's fields is written, when not in the schema class itself
DOC_ELSEWHERE = {
    "GeometrySection": ("iontosim.mesh.geometry", "Geometry"),
    "GeometrySection.AppendageLayout": ("iontosim.mesh.geometry", "Appendages"),
}

# ---------------------------------------------------------------- source comments


@cache
def _module_tree(module_name: str) -> tuple[ast.Module, list[str]]:
    source = Path(inspect.getsourcefile(sys.modules[module_name])).read_text(encoding="utf-8")
    return ast.parse(source), source.splitlines()


def _class_node(module_name: str, qualname: str) -> tuple[ast.ClassDef | None, list[str]]:
    tree, lines = _module_tree(module_name)
    body: list[ast.stmt] = tree.body
    node = None
    for part in qualname.split("."):
        node = next((n for n in body if isinstance(n, ast.ClassDef) and n.name == part), None)
        if node is None:
            return None, lines
        body = node.body
    return node, lines


def field_comments(module_name: str, qualname: str) -> dict[str, str]:
    """name -> the ``#:`` comment lines just above its declaration in the class body."""
    node, lines = _class_node(module_name, qualname)
    out: dict[str, str] = {}
    if node is None:
        return out
    for stmt in node.body:
        if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            found, k = [], stmt.lineno - 2
            while k >= 0 and lines[k].strip().startswith("#:"):
                found.append(lines[k].strip()[2:].strip())
                k -= 1
            if found:
                out[stmt.target.id] = _join_comment(found[::-1])
    return out


def _join_comment(parts: list[str]) -> str:
    """Comment lines to markdown: a line starting with '- ' starts a list item."""
    text, items = [], []
    for part in parts:
        if part.startswith("- "):
            items.append(part[2:])
        elif items:
            items[-1] += " " + part
        else:
            text.append(part)
    out = " ".join(text)
    if items:
        out += "<ul>" + "".join(f"<li>{_inline(item)}</li>" for item in items) + "</ul>"
    return out


def _inline(text: str) -> str:
    """Backticks to <code> inside HTML (markdown is not read there); escape < and >."""
    text = text.replace("<", "&lt;").replace(">", "&gt;")
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", text)


def _docstring(cls: type) -> str:
    return inspect.cleandoc(cls.__doc__ or "").replace("``", "`")


# ---------------------------------------------------------------- types, units, defaults


def _metadata(info: FieldInfo) -> list:
    found = list(info.metadata)

    def walk(tp):
        if typing.get_origin(tp) is typing.Annotated:
            found.extend(tp.__metadata__)
        for arg in typing.get_args(tp):
            walk(arg)

    walk(info.annotation)
    return found


def _bounds(info: FieldInfo) -> str:
    """The allowed range, read from the field's validators (quantities.parser) and constraints."""
    import annotated_types as at

    gt = ge = lt = le = None
    found = _metadata(info)
    for meta in list(found):  # Field(gt=...) inside Annotated[...] carries its own metadata
        if isinstance(meta, FieldInfo):
            found.extend(meta.metadata)
    for meta in found:
        func = getattr(meta, "func", None)
        if func is not None and getattr(func, "__closure__", None) and func.__qualname__.startswith("parser."):
            cells = dict(zip(func.__code__.co_freevars, (c.cell_contents for c in func.__closure__)))
            gt, ge, lt, le = (cells.get(k, v) for k, v in (("gt", gt), ("ge", ge), ("lt", lt), ("le", le)))
        elif isinstance(meta, at.Gt):
            gt = meta.gt
        elif isinstance(meta, at.Ge):
            ge = meta.ge
        elif isinstance(meta, at.Lt):
            lt = meta.lt
        elif isinstance(meta, at.Le):
            le = meta.le
    low = f"> {gt:g}" if gt is not None else (f">= {ge:g}" if ge is not None else "")
    high = f"< {lt:g}" if lt is not None else (f"<= {le:g}" if le is not None else "")
    return ", ".join(t for t in (low, high) if t)


def _strip(tp):
    while typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    return tp


def _is_union(tp) -> bool:
    return typing.get_origin(tp) in (typing.Union, types.UnionType)


def _type_text(tp, anchors: dict[type, str]) -> str:
    tp = _strip(tp)
    origin = typing.get_origin(tp)
    if _is_union(tp):
        return " or ".join(_type_text(a, anchors) for a in typing.get_args(tp) if a is not type(None))
    if origin is typing.Literal:
        return " or ".join(f"`{a}`" for a in typing.get_args(tp))
    if origin is list:
        item = typing.get_args(tp)[0]
        text = _type_text(item, anchors)
        return f"list of ({text})" if _is_union(_strip(item)) else f"list of {text}"
    if origin is tuple:
        args = typing.get_args(tp)
        return "[" + ", ".join(_type_text(a, anchors) for a in args if a is not Ellipsis) + "]"
    if origin is dict:
        key, value = typing.get_args(tp)
        return f"{{name: {_type_text(value, anchors)}}}"
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return f"[{_section_title(tp)}](#{anchors[tp]})" if tp in anchors else tp.__name__
    return {float: "number", int: "integer", str: "text", bool: "true/false"}.get(tp, str(tp))


def _unit(info: FieldInfo) -> str:
    from iontosim.scenario.quantities import dimension_of
    from iontosim.scenario.units import DIMENSIONS

    dim = dimension_of(info)
    if dim is None or dim == "dimensionless":
        return ""
    si, example = DIMENSIONS[dim]
    return f"{dim.replace('_', ' ')} (SI {si}), e.g. `{example}`"


def _default(info: FieldInfo) -> str:
    from pydantic_core import PydanticUndefined

    from iontosim.scenario.quantities import dimension_of
    from iontosim.scenario.units import format_si

    if info.default_factory is not None:
        value = info.default_factory()
    elif info.default is PydanticUndefined:
        return "required"
    else:
        value = info.default
    if value is None:
        return "none"
    if isinstance(value, BaseModel):
        return "all defaults"
    if value == {} or value == [] or value == "":
        return "empty"
    dim = dimension_of(info)
    if isinstance(value, float) and dim is not None:
        return f"`{format_si(value, dim)}`"
    if isinstance(value, tuple):
        return "`[" + ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value) + "]`"
    return f"`{value}`"


# ---------------------------------------------------------------- the scenario reference


def _models_in(tp) -> list[type]:
    tp = _strip(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [tp]
    return [m for a in typing.get_args(tp) for m in _models_in(a)]


def scenario_sections() -> list[tuple[type, list[str]]]:
    """Every model reachable from Scenario, in reading order, with the config paths it sits at."""
    from iontosim.scenario.schema import Scenario

    order: list[type] = []
    paths: dict[type, list[str]] = {}

    def visit(cls: type, path: str) -> None:
        if cls in paths:
            paths[cls].append(path)
            return
        order.append(cls)
        paths[cls] = [path]
        for name, info in cls.model_fields.items():
            if name == "provenance":
                continue
            tp = _strip(info.annotation)
            origin = typing.get_origin(tp)
            suffix = "[]" if origin is list else (".*" if origin is dict else "")
            for model in _models_in(info.annotation):
                visit(model, f"{path}.{name}{suffix}".lstrip("."))

    visit(Scenario, "")
    return [(cls, paths[cls]) for cls in order]


def _section_title(cls: type) -> str:
    return "top level" if cls.__name__ == "Scenario" else cls.__qualname__.split(".")[-1]


def _anchor(cls: type) -> str:
    return "scenario" if cls.__name__ == "Scenario" else cls.__qualname__.replace(".", "-").lower()


def field_descriptions(cls: type) -> dict[str, str]:
    """name -> description: the schema's own comments, then the documented twin, then EXTRA."""
    own = field_comments(cls.__module__, cls.__qualname__)
    twin: dict[str, str] = {}
    if cls.__qualname__ in DOC_ELSEWHERE:
        module, qualname = DOC_ELSEWHERE[cls.__qualname__]
        __import__(module)
        twin = field_comments(module, qualname)
    out = {}
    for name, info in cls.model_fields.items():
        key = f"{cls.__qualname__}.{name}"
        text = info.description or own.get(name) or twin.get(name) or EXTRA.get(key)
        if (info.description or own.get(name) or twin.get(name)) and key in EXTRA:
            log.warning(f"docs/hooks/generated.py: EXTRA[{key!r}] is documented in the code now: remove it")
        if text:
            out[name] = text
    return out


def _check_extra(classes: list[type]) -> None:
    known = {f"{cls.__qualname__}.{name}" for cls in classes for name in cls.model_fields}
    for key in EXTRA:
        if key not in known:
            log.warning(f"docs/hooks/generated.py: EXTRA[{key!r}] names no field of the scenario schema")


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def config_reference() -> str:
    """Markdown: a section per part of the scenario with every field's type, unit, default and meaning."""
    from iontosim.scenario.species_definitions import SpeciesDefinition

    sections = scenario_sections()
    # reading order: the scenario's parts first, the user's own species last
    sections.sort(key=lambda item: item[0] is SpeciesDefinition)
    anchors = {cls: _anchor(cls) for cls, _ in sections}
    _check_extra([cls for cls, _ in sections])
    out = []
    for cls, paths in sections:
        shown = ", ".join(f"`{p}`" for p in paths) if paths != [""] else "the file itself"
        out.append(f"### {_section_title(cls)} {{#{anchors[cls]}}}\n")
        out.append(f"Written at: {shown}. Declared as `{cls.__module__}.{cls.__qualname__}`.\n")
        doc = _docstring(cls)
        if doc:
            out.append(doc + "\n")
        described = field_descriptions(cls)
        out.append("| field | type | unit | allowed | default | description |")
        out.append("|---|---|---|---|---|---|")
        for name, info in cls.model_fields.items():
            if name == "provenance":
                continue
            text = described.get(name)
            if text is None:
                log.warning(
                    f"scenario field {cls.__qualname__}.{name} has no description: add a '#:' comment "
                    f"above it in {cls.__module__.replace('.', '/')}.py"
                )
                text = ""
            unit = _unit(info)
            kind = _type_text(info.annotation, anchors)
            if unit:  # a number with a unit is written as text: "18 um"
                kind = kind.replace("number", "quantity")
            out.append(
                "| "
                + " | ".join(_cell(c) for c in (f"`{name}`", kind, unit, _bounds(info), _default(info), text))
                + " |"
            )
        out.append("")
    return "\n".join(out)


def units_table() -> str:
    from iontosim.scenario.units import DIMENSIONS

    rows = ["| dimension | SI unit (resolved config, results) | written for example |", "|---|---|---|"]
    for name, (si, example) in DIMENSIONS.items():
        rows.append(f"| {name.replace('_', ' ')} | {f'`{si}`' if si else '(pure number)'} | `{example}` |")
    return "\n".join(rows) + "\n"


# ---------------------------------------------------------------- bibliography


def cited_by() -> dict[str, list[str]]:
    """source key -> the configs that cite it (in `source: KEY` or `source: [KEY, ...]`)."""
    from iontosim.library.sources import SOURCES

    out: dict[str, list[str]] = {key: [] for key in SOURCES}
    pattern = re.compile(r"source:\s*(\[[^\]]*\]|[^,}\s]+)")
    for path in sorted((ROOT / "iontosim" / "scenarios").glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        keys = set()
        for m in pattern.finditer(text):
            keys.update(k.strip(" []\"'") for k in m.group(1).split(","))
        for key in sorted(keys & set(out)):
            out[key].append(path.name)
    return out


def bibliography() -> str:
    from iontosim.library.sources import SOURCES

    cites = cited_by()
    rows = ["| key | reference | cited by configs |", "|---|---|---|"]
    for key in sorted(SOURCES, key=str.lower):
        where = ", ".join(f"`{name}`" for name in cites[key]) or "-"
        rows.append(f'| <a id="{_key_anchor(key)}"></a>`{key}` | {_cell(SOURCES[key])} | {where} |')
    return "\n".join(rows) + "\n"


def _key_anchor(key: str) -> str:
    return "src-" + re.sub(r"[^a-z0-9]+", "-", key.lower()).strip("-")


# ---------------------------------------------------------------- command line


def _commands() -> dict:
    """name -> command object of the `iontosim` command line (iontosim/cli.py), in its order.
    Typer ships its own copy of click, so only duck-typed attributes are used."""
    import typer

    from iontosim.cli import app

    return dict(typer.main.get_command(app).commands)


def registered_commands() -> list[str]:
    """The names of the commands of the `iontosim` command line."""
    return list(_commands())


def _draft_command(name: str, fallback: str):
    """The command that `module:function` would be once registered (for commands not yet in cli.py)."""
    import importlib

    import typer

    module, function = fallback.split(":")
    draft = typer.Typer(add_completion=False)
    draft.command(name)(getattr(importlib.import_module(module), function))
    return typer.main.get_command(draft)


def command_options(name: str, fallback: str | None = None) -> set[str]:
    """Every option spelling of one command (`--out`, `-o`, `--no-progress`, ...); a command not
    registered yet is read from `fallback` (module:function)."""
    commands = _commands()
    cmd = commands[name] if name in commands else _draft_command(name, fallback)
    return {o for p in cmd.params if p.param_type_name == "option" for o in list(p.opts) + list(p.secondary_opts)}


def _escape_html(text: str) -> str:
    """Help texts are plain text: keep <scenario> from being read as an HTML tag."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _command_text(name: str, cmd) -> str:
    """Markdown of one command: usage, help and a table of its arguments and options."""
    arguments = [p for p in cmd.params if p.param_type_name == "argument"]
    usage = " ".join(
        [f"iontosim {name}", "[OPTIONS]"] + [p.name.upper() if p.required else f"[{p.name.upper()}]" for p in arguments]
    )
    out = [
        f"### iontosim {name} {{#cmd-{name}}}\n",
        f"```text\n{usage}\n```\n",
        _escape_html(inspect.cleandoc(cmd.help or "")) + "\n",
    ]
    rows = ["| argument or option | default | meaning |", "|---|---|---|"]
    for param in cmd.params:
        if param.param_type_name == "argument":
            label = f"`{param.name.upper()}`"
        else:
            label = ", ".join(f"`{o}`" for o in list(param.opts) + list(param.secondary_opts))
        if param.required:
            default = "required"
        elif isinstance(param.default, bool):
            default = "on" if param.default else "off"
        elif param.default is None:
            default = "-"
        else:
            default = f"`{param.default}`"
        rows.append(f"| {label} | {default} | {_cell(_escape_html(getattr(param, 'help', None) or ''))} |")
    out.append("\n".join(rows) + "\n")
    return "\n".join(out)


def commands_reference() -> str:
    """Markdown: every registered command with its usage, help and options."""
    return "\n".join(_command_text(name, cmd) for name, cmd in _commands().items())


def command_reference(name: str, fallback: str | None = None) -> str:
    """One command. Not registered yet: read from `fallback` (module:function), marked TODO."""
    registered = _commands()
    if name in registered:
        return _command_text(name, registered[name])
    if fallback is None:
        log.warning(f"'iontosim {name}' is not a registered command and the page gives no module:function")
        return ""
    module = fallback.split(":")[0]
    cmd = _draft_command(name, fallback)
    return (
        f"> **TODO:** `iontosim {name}` is not registered in `iontosim/cli.py` yet; this is read "
        f"from `{module.replace('.', '/')}.py`.\n\n" + _command_text(name, cmd)
    )


# ---------------------------------------------------------------- installation


def hpc_dependencies() -> str:
    """The pip line for a site DOLFINx: pyproject.toml's dependencies without the DOLFINx wheel."""
    import tomllib

    deps = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    wheel = [d for d in deps if d.startswith("dolfinx-solver")]
    rest = [d for d in deps if d not in wheel]
    line = " ".join(f'"{d}"' for d in rest)
    return (
        "The dependencies of `pyproject.toml` other than the DOLFINx wheel "
        f"({', '.join(f'`{d}`' for d in wheel)}):\n\n```bash\npip install {line}\n```\n\n"
        "pip leaves alone what the environment already has in a suitable version (numpy, scipy, "
        "h5py from conda, say). `gmsh` is a binary wheel with its own libraries; a site gmsh with "
        "its Python module does as well.\n"
    )


# ---------------------------------------------------------------- validation cases


def validation_cases() -> str:
    """The shipped validation cases (iontosim/validation/cases/*/case.yaml): name, role, title, sources."""
    import yaml

    rows = ["| case | role | what is compared | sources |", "|---|---|---|---|"]
    for path in sorted((ROOT / "iontosim" / "validation" / "cases").glob("*/case.yaml")):
        try:
            case = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as err:
            log.warning(f"{path.relative_to(ROOT)}: {err}")
            continue
        sources = case.get("source") or []
        sources = [sources] if isinstance(sources, str) else sources
        rows.append(
            f"| `{path.parent.name}` | {case.get('role', '')} | {_cell(str(case.get('title', '')))} | "
            + ", ".join(f"[{k}](sources.md#{_key_anchor(k)})" for k in sources)
            + " |"
        )
    if len(rows) == 2:
        return "No case is shipped yet.\n"
    return "\n".join(rows) + "\n"


def shipped_scenarios() -> str:
    """The shipped scenarios (iontosim/scenarios/*.yaml), as `iontosim scenarios` lists them, with
    their protocol and whether they run on a 1D column or a 2D/3D patch."""
    import iontosim
    from iontosim.scenario import catalogue

    rows = ["| name | what it is | protocol | solved on |", "|---|---|---|---|"]
    for name in catalogue.names():
        scenario = iontosim.load(name)
        where = "1D column" if scenario.geometry is None else f"{scenario.geometry.kind} patch"
        rows.append(f"| `{name}` | {_cell(catalogue.describe(name))} | {_cell(scenario.protocol_text())} | {where} |")
    return "\n".join(rows) + "\n"


GENERATORS = {
    "shipped-scenarios": shipped_scenarios,
    "validation-cases": validation_cases,
    "hpc-dependencies": hpc_dependencies,
    "config-fields": config_reference,
    "units": units_table,
    "sources": bibliography,
    "commands": commands_reference,
    "command": command_reference,
}


def expand(markdown: str) -> str:
    """Replace every marker line of a page by its generated text."""

    def replace(m: re.Match) -> str:
        name, args = m.group(1), m.group(2).split()
        if name not in GENERATORS:
            log.warning(f"unknown generated part {name!r}; known: {', '.join(GENERATORS)}")
            return m.group(0)
        return GENERATORS[name](*args)

    return MARKER.sub(replace, markdown)


def on_page_markdown(markdown: str, page, config, files, **kwargs) -> str:  # mkdocs hook
    return expand(markdown)
