"""The user guide: it builds without a broken link, and what it names exists.

- `mkdocs build --strict` (mkdocs.yml, docs/) fails on a broken internal link or anchor, a page
  missing from the nav, and a scenario field without a description (docs/hooks/generated.py).
- Every repository path written in the guide (generated parts included) and in README.md exists.
- Every `iontosim COMMAND` written in code is a registered command (or listed in PENDING), and its
  `--options` on that line are options of that command; every `./dev TASK` is a task of ./dev.
- Every scenario file named by itself (`fentanyl_ionsys.yaml`) is in iontosim/scenarios/.
- Nothing shipped (code, configs, docs, notebooks, benchmarks, tests) cites a file outside the
  repository: the authors' reference notes beside it (EXTERNAL_DIRS, EXTERNAL_FILES) are named
  nowhere, and derived values cite docs/derivations.md and the primary sources instead.
"""

from __future__ import annotations

import difflib
import importlib.util
import os
import re
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

#: commands the guide documents before they are registered in iontosim/cli.py -> the function that
#: will be registered (module:function), whose options the guide is checked against meanwhile.
#: Empty it as they arrive: a registered command listed here fails test_pending_commands_are_not_registered.
PENDING = {}

#: top-level folders that hold what commands write, not the repository's files
OUTPUT_DIRS = {".venv", "runs", "meshes", "site"}
# -- outward-reference guard: begin (the names below are what the guard looks for; exempt from it)
#: the authors' reference folder beside the repository (shared/reference/model_parameters.md): not shipped,
#: so nothing in the repository may cite it (problem_with_path and test_no_outward_references report it)
EXTERNAL_DIRS = {"shared"}
#: files of that folder named without their path
EXTERNAL_FILES = {
    "MODEL.md",
    "ARCHITECTURE.md",
    "STYLE.md",
    "model_parameters.md",
    "model_parameters.yaml",
    "published_data.md",
}
#: a citation of those files in any form: "shared/reference/...", "MODEL.md section 9", "(model_parameters.md 2a)",
#: "published_data.md 3a", "tag D" (their confidence tag for derived values), the old key MODEL_MD_DEPTH
OUTWARD = re.compile(
    r"(?<![\w.-])shared/|\bMODEL\.md\b|\bARCHITECTURE\.md\b|\bSTYLE\.md\b|\bmodel_parameters\b"
    r"|\bpublished_data\b|\btag D\b|\bMODEL_MD\w*"
)
#: what the guard scans: every shipped file a reader sees (relative to the repository)
SHIPPED = (
    "iontosim/**/*.py",
    "iontosim/**/*.yaml",
    "iontosim/**/*.md",
    "iontosim/meshes/*.geo",
    "docs/**/*.md",
    "docs/**/*.py",
    "README.md",
    "notebooks/*.ipynb",
    "notebooks/*.md",
    "benchmarks/**/*.md",
    "benchmarks/**/*.py",
    "tests/**/*.py",
    "mkdocs.yml",
    "pyproject.toml",
    "dev",
)
# -- outward-reference guard: end
#: file names a command writes (not repository files) and placeholders for the user's own files
OUTPUT_FILES = {"config.resolved.yaml", "sweep.yaml", "report.md", "sensitivity.md"}
PLACEHOLDERS = {"PATCH.yaml", "SWEEP.yaml", "my_scenario.yaml"}

SOURCE_SUFFIXES = (".py", ".md", ".yaml", ".yml", ".toml")
URL = re.compile(r"https?://\S+|\b[\w.-]+\.(?:com|org|net|de|uk|edu|gov|io|info|fr|it)/\S*")
PATH = re.compile(r"(?<![\w/.@:-])((?:\.{1,2}/)*\.?[\w][\w.+-]*(?:/[\w.+<>-]+)*/?)")
CODE_BLOCK = re.compile(r"^(```|~~~)[^\n]*\n(.*?)^\1", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"`([^`\n]+)`")
COMMAND = re.compile(r"(?:^|[\s/(])iontosim[ \t]+([a-z][a-z0-9_-]*)(.*)$", re.MULTILINE)
DEV_TASK = re.compile(r"(?:^|\s)\./dev[ \t]+([a-z][a-z0-9_-]*)", re.MULTILINE)


@cache
def hooks():
    """docs/hooks/generated.py, the mkdocs hook that generates the reference pages."""
    spec = importlib.util.spec_from_file_location("iontosim_docs_hooks", DOCS / "hooks" / "generated.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@cache
def pages() -> dict[str, str]:
    """README.md and every page of the guide, generated parts filled in, by name."""
    out = {"README.md": (ROOT / "README.md").read_text(encoding="utf-8")}
    for path in sorted(DOCS.rglob("*.md")):
        if "hooks" not in path.relative_to(DOCS).parts:
            out[str(path.relative_to(ROOT))] = hooks().expand(path.read_text(encoding="utf-8"))
    return out


def code_of(text: str) -> list[str]:
    """The code in a page: fenced blocks and inline spans, one string each."""
    blocks = [m.group(2) for m in CODE_BLOCK.finditer(text)]
    rest = CODE_BLOCK.sub("", text)
    return blocks + CODE_SPAN.findall(rest)


@cache
def repository_names() -> tuple[set[str], set[str]]:
    """(top-level entries, every file name) of the repository, outputs and caches left out."""
    skip = OUTPUT_DIRS | {".git", "__pycache__", ".pytest_cache", "iontosim.egg-info"}
    top = {p.name for p in ROOT.iterdir() if p.name not in skip}
    names = set()
    for _, subfolders, files in os.walk(ROOT):
        subfolders[:] = [d for d in subfolders if d not in skip]  # never into .venv or runs
        names.update(files)
    return top, names


OUTSIDE = "outside the repository: cite the primary source (docs/sources.md) or docs/derivations.md"


def problem_with_path(token: str) -> str | None:
    """Why `token`, a path as written in the guide, names nothing in the repository (None: fine)."""
    path = re.sub(r"^(\.{1,2}/)+", "", token).rstrip(".,;:")
    if "<" in path:  # a placeholder (runs/<scenario>-<time>/): check the folder before it
        path = path[: path.index("<")].rsplit("/", 1)[0]
        if not path or "/" not in path and path in OUTPUT_DIRS:
            return None
    if path.split("/")[0] in EXTERNAL_DIRS or path in EXTERNAL_FILES:
        return OUTSIDE
    top, names = repository_names()
    if "/" in path:
        first = path.split("/")[0]
        if first in OUTPUT_DIRS:
            return None
        subpackages = {p.name for p in (ROOT / "iontosim").iterdir() if p.is_dir()}
        if first in top or first in subpackages:
            stripped = path.rstrip("/")
            if (ROOT / stripped).exists() or (ROOT / "iontosim" / stripped).exists():
                return None
            return "not in the repository"
        close = difflib.get_close_matches(first, sorted(top | subpackages), n=1, cutoff=0.8)
        if close:
            return f"not in the repository (did you mean {close[0]}/?)"
        return None  # not a repository path (mA/cm2, a web address's tail)
    if not path.endswith(SOURCE_SUFFIXES) or path in OUTPUT_FILES | PLACEHOLDERS:
        return None
    if path.endswith((".yaml", ".yml")) and not (ROOT / path).exists():
        return None if any((ROOT / "iontosim" / "scenarios").rglob(path)) else "not a scenario in iontosim/scenarios/"
    return None if path in names else "no such file in the repository"


def test_site_builds_strict(tmp_path, caplog):
    """`mkdocs build --strict`, in this process (the imports are shared with the other tests)."""
    pytest.importorskip("mkdocs")
    from mkdocs.commands.build import build
    from mkdocs.config import load_config
    from mkdocs.exceptions import Abort

    config = load_config(str(ROOT / "mkdocs.yml"), site_dir=str(tmp_path / "site"), strict=True)
    try:
        build(config)
    except Abort as err:
        warnings = [r.getMessage() for r in caplog.records if r.levelname in ("WARNING", "ERROR")]
        pytest.fail(f"{err}\n" + "\n".join(warnings))
    assert (tmp_path / "site" / "config-reference.html").exists()


def test_every_scenario_field_is_described():
    """Each field of the schema reaches the reference with a description (no warning needed)."""
    missing = []
    for cls, _ in hooks().scenario_sections():
        described = hooks().field_descriptions(cls)
        missing += [
            f"{cls.__qualname__}.{name}" for name in cls.model_fields if name != "provenance" and name not in described
        ]
    assert not missing, f"add a '#:' comment above these fields in the schema: {missing}"


def test_paths_exist():
    problems = []
    for name, text in pages().items():
        for token in PATH.findall(URL.sub(" ", text)):
            why = problem_with_path(token)
            if why:
                problems.append(f"{name}: {token}: {why}")
    assert not problems, "\n".join(problems)


def test_commands_exist():
    registered = set(hooks().registered_commands())
    dev_tasks = set(re.findall(r"^\s+([a-z]+)\)", (ROOT / "dev").read_text(encoding="utf-8"), re.MULTILINE))
    problems = []
    for name, text in pages().items():
        for code in code_of(text):
            for m in COMMAND.finditer(code):
                command, rest = m.group(1), m.group(2)
                if command not in registered and command not in PENDING:
                    problems.append(f"{name}: 'iontosim {command}' is not a command ({', '.join(sorted(registered))})")
                    continue
                rest = re.split(r"\s#|\||&&|;", rest)[0]
                known = hooks().command_options(command, PENDING.get(command))
                for option in re.findall(r"(?<!\S)(--?[a-zA-Z][\w-]*)", rest):
                    if option not in known:
                        problems.append(f"{name}: 'iontosim {command}' has no option {option}")
            for task in DEV_TASK.findall(code):
                if task not in dev_tasks:
                    problems.append(f"{name}: './dev {task}' is not a task of ./dev ({', '.join(sorted(dev_tasks))})")
    assert not problems, "\n".join(problems)


def test_pending_commands_are_not_registered():
    arrived = set(PENDING) & set(hooks().registered_commands())
    assert not arrived, f"registered now, remove from PENDING in tests/test_docs.py: {sorted(arrived)}"


def test_the_checks_catch_mistakes():
    """The path rules themselves: a wrong path, config or command is reported."""
    assert problem_with_path("iontosim/scenario/schema.py") is None
    assert problem_with_path("scenario/schema.py") is None  # relative to the package, as docs/physics.md writes
    assert problem_with_path("iontosim/scenario/nothing.py") == "not in the repository"
    assert problem_with_path("iontsim/scenario/schema.py").startswith("not in the repository")
    assert problem_with_path("lidocaine_epinephrine.yaml") is None
    assert problem_with_path("lidocaine_epinephrin.yaml") == "not a scenario in iontosim/scenarios/"
    assert problem_with_path("runs/<scenario>-<time>/") is None
    assert problem_with_path("mA/cm2") is None
    assert "run" in hooks().registered_commands() and "--resume" in hooks().command_options("run")


def shipped_files() -> list[Path]:
    """Every file SHIPPED names, outputs and caches left out."""
    skip = OUTPUT_DIRS | {".git", "__pycache__", ".pytest_cache", ".ipynb_checkpoints", "iontosim.egg-info"}
    found = {p for pattern in SHIPPED for p in ROOT.glob(pattern) if p.is_file()}
    return sorted(p for p in found if not skip & set(p.relative_to(ROOT).parts))


def guard_lines(path: Path, lines: list[str]) -> set[int]:
    """Line numbers (1-based) of this file's guard blocks, which name the outside files on purpose."""
    if path != Path(__file__).resolve():
        return set()
    exempt, inside = set(), False
    for number, line in enumerate(lines, 1):
        if line.startswith("# -- outward-reference guard: begin"):
            inside = True
        if inside:
            exempt.add(number)
        if line.startswith("# -- outward-reference guard: end"):
            inside = False
    return exempt


def outward_references() -> list[tuple[str, int, str]]:
    """(file, line, text) of every citation of a file outside the repository in a shipped file."""
    found = []
    for path in shipped_files():
        lines = path.read_text(encoding="utf-8").splitlines()
        exempt = guard_lines(path, lines)
        name = path.relative_to(ROOT).as_posix()
        found += [
            (name, n, line.strip()) for n, line in enumerate(lines, 1) if n not in exempt and OUTWARD.search(line)
        ]
    return found


def test_no_outward_references():
    """The project stands alone: nothing shipped cites the reference notes beside the repository."""
    assert len(shipped_files()) > 200  # the patterns still find the code, configs, docs and tests
    problems = [f"{name}:{n}: {text[:160]}" for name, n, text in outward_references()]
    assert not problems, (
        "cite the primary source (a key of iontosim/library/sources.py) or docs/derivations.md instead of a "
        "file outside the repository:\n" + "\n".join(problems)
    )


# -- outward-reference guard: begin (the checks of the guard itself spell out what it must catch)
def test_the_outward_guard_catches_references():
    assert problem_with_path("shared/reference/model_parameters.md") == OUTSIDE
    assert problem_with_path("MODEL.md") == OUTSIDE and problem_with_path("published_data.md") == OUTSIDE
    for text in (
        "estimate: not in shared/reference",
        "(model_parameters.md 2a)",
        "MODEL.md section 9",
        "source: model_parameters.md",
        "TMS back-calculation, tag D",
        "(tag D/E)",
        "published_data.md 3a",
        "see STYLE.md",
        "/work/shared/reference",
        "source: MODEL_MD_DEPTH",
    ):
        assert OUTWARD.search(text), text
    for text in ("06_model_vs_published_data.ipynb", "tag: DERIVED", "shared by all the cases", "MODEL_NAME"):
        assert not OUTWARD.search(text), text


# -- outward-reference guard: end
