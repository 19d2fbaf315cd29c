"""The package installs whole: a wheel built from this checkout holds the shipped scenarios, sweeps
and validation cases, and runs a scenario by name from a folder outside the checkout."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--quiet",
            "--wheel-dir",
            str(dist),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    (path,) = dist.glob("iontosim-*.whl")
    return path


def test_the_wheel_holds_the_scenarios_sweeps_and_cases(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    scenarios = {p.name for p in (ROOT / "iontosim" / "scenarios").glob("*.yaml")}
    assert scenarios and {f"iontosim/scenarios/{n}" for n in scenarios} <= names
    assert any(n.startswith("iontosim/scenarios/sweeps/") for n in names)
    cases = sorted(p.parent.name for p in (ROOT / "iontosim" / "validation" / "cases").glob("*/case.yaml"))
    assert cases and {f"iontosim/validation/cases/{c}/case.yaml" for c in cases} <= names


def test_the_installed_wheel_runs_a_scenario_from_anywhere(wheel, tmp_path):
    """A fresh venv with the wheel installed (its dependencies taken from this environment's
    site-packages, not reinstalled), run from a folder outside the checkout."""
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    purelib = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    # the dependencies: this environment's site-packages, appended (its .pth files, among them the
    # editable install of the checkout, are not run), and the libraries wheels put beside them
    # (MPICH, gmsh: mpi4py looks for libmpi under sys.prefix/lib)
    (purelib / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    for library in (Path(sys.prefix) / "lib").iterdir():
        if library.name != Path(sysconfig.get_paths()["purelib"]).parent.name:
            (env_dir / "lib" / library.name).symlink_to(library)
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--quiet", str(wheel)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = subprocess.run(
        [str(python), "-c", "import iontosim; print(iontosim.__file__)"],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert where.startswith(str(purelib)), where
    iontosim = str(env_dir / "bin" / "iontosim")
    listed = subprocess.run([iontosim, "scenarios"], cwd=elsewhere, capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0 and "fentanyl_ionsys" in listed.stdout
    cases = subprocess.run([iontosim, "validate", "--list"], cwd=elsewhere, capture_output=True, text=True, timeout=120)
    assert cases.returncode == 0 and "ionsys_fentanyl_dose" in cases.stdout, cases.stderr
    run = subprocess.run(
        [iontosim, "run", "lidocaine_epinephrine", "--out", "lido", "--no-progress"],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr
    assert (elsewhere / "lido" / "summary.json").is_file()
