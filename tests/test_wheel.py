"""An installed wheel works away from the source tree: it carries personas/ and studies/, and
self-play with the default personas and `study check` on the shipped study run from it.

The wheel is built offline from a copy of the sources (`pip wheel --no-build-isolation`: the
build backend of the test extra, no download) and installed with `--no-deps` into a fresh venv.
The venv sees this machine's installed dependencies through a plain path entry, not as a site
directory, so their .pth hooks do not run and the editable install of the working tree cannot
stand in for the wheel; the test checks that gdp_zero is imported from the venv.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from gdp_zero.personas import PERSONAS_DIR, load_personas
from gdp_zero.records import load_records

REPO = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "gdp_zero", "ui", "personas", "studies")
SHIPPED_STUDY = "gdpzero_vs_prompting.toml"


def run(*args: str | Path, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "PYTHON"))}
    return subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with only the wheel installed (its bin/ folder)."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "src"
    source.mkdir()
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "p4g"))
        else:
            shutil.copy2(REPO / name, source / name)
    built = run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                "-w", root / "dist", source, cwd=root)
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = (root / "dist").glob("gdp_zero-*.whl")

    venv = root / "venv"
    made = run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=root)
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"
    added = run(sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", wheel, cwd=root)
    assert added.returncode == 0, added.stdout + added.stderr
    site = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))", cwd=root).stdout.strip())
    (site / "machine_packages.pth").write_text(sysconfig.get_path("purelib") + "\n")
    return venv / "bin"


def test_the_wheel_carries_the_personas_and_studies_and_no_generated_personas(installed: Path) -> None:
    (wheel,) = (installed.parents[1] / "dist").glob("gdp_zero-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    shipped_personas = sorted(n.rsplit("/", 1)[1] for n in names if n.startswith("gdp_zero/shipped/personas/"))
    assert shipped_personas == sorted(p.name for p in PERSONAS_DIR.glob("*.toml"))
    assert f"gdp_zero/shipped/studies/{SHIPPED_STUDY}" in names
    assert not any("/p4g/" in n for n in names if n.startswith("gdp_zero/shipped/"))


def test_selfplay_and_study_check_run_from_the_installed_wheel(installed: Path, tmp_path: Path) -> None:
    where = run(installed / "python", "-c",
                "import gdp_zero.personas as p, gdp_zero.study.spec as s; print(p.__file__); print(p.PERSONAS_DIR); print(s.STUDIES_DIR)",
                cwd=tmp_path)
    module, personas_dir, studies_dir = (Path(line) for line in where.stdout.split())
    venv = installed.parent
    assert all(path.is_relative_to(venv) for path in (module, personas_dir, studies_dir)), where.stdout + where.stderr

    played = run(installed / "gdp-zero", "selfplay", "--llm", "fake", "--out", "x.jsonl", "--dialogues", "2",
                 "--max-turns", "2", "--sims", "2", "--prior-samples", "2", "--value-samples", "2", cwd=tmp_path)
    assert played.returncode == 0, played.stdout + played.stderr
    records = load_records(tmp_path / "x.jsonl")
    default_ids = {persona.id for persona in load_personas([PERSONAS_DIR])}
    assert len(records) == 2 and {r.persona["id"] for r in records if r.persona} <= default_ids
    assert all(r.source == "selfplay" and r.persona and r.turns for r in records)

    checked = run(installed / "gdp-zero", "study", "check", studies_dir / SHIPPED_STUDY, cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.startswith(f"{studies_dir / SHIPPED_STUDY}: OK")
