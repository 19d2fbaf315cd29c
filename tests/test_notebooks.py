"""The teaching notebooks (notebooks/*.ipynb) run from top to bottom, quickly and quietly.

Every notebook in notebooks/ is found by its name, so a new one is tested without editing this
file. Each runs in a fresh Jupyter kernel (nbclient, the machinery nbmake uses) with notebooks/ as
its working directory, the way a student opens it. It fails if a cell raises, if anything reaches
stderr (a warning spilled into the notebook), or if it takes longer than its time budget: the
notebooks are written to run in under a minute on a 2-core laptop. The notebooks are stored
without outputs, so that their diffs show only what was written.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))

#: s, one cell: a cell that hangs fails instead of blocking the run
CELL_TIMEOUT = 300
#: s of wall time for a whole notebook, kernel start included: twice the one-minute target, for
#: slower or busier CI machines
NOTEBOOK_BUDGET = 120


def _read(path: Path):
    nbformat = pytest.importorskip("nbformat")
    return nbformat.read(path, as_version=4)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_the_notebook_is_stored_without_outputs(path):
    nb = _read(path)
    dirty = [
        k
        for k, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count") is not None)
    ]
    assert not dirty, f"{path.name}: cells {dirty} hold outputs; clear them before saving (Kernel > Restart & Clear)"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_the_notebook_runs_cleanly_within_its_budget(path):
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    nb = _read(path)
    client = nbclient.NotebookClient(
        nb, timeout=CELL_TIMEOUT, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    started = time.perf_counter()
    client.execute()  # raises CellExecutionError naming the cell and its traceback
    elapsed = time.perf_counter() - started
    spilled = [
        (k, out.text.strip().splitlines()[0] if out.text.strip() else "")
        for k, cell in enumerate(nb.cells)
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if out.output_type == "stream" and out.name == "stderr"
    ]
    assert not spilled, f"{path.name} wrote to stderr (cell, first line): {spilled}"
    assert elapsed < NOTEBOOK_BUDGET, f"{path.name} took {elapsed:.0f} s (budget {NOTEBOOK_BUDGET} s)"
