"""`gdp-zero study serve` and `study export` refuse what would hurt a study, each with one line and no traceback.

The demo LLM (or the tiny local model) is refused unless `--allow-demo`; a model the endpoint does
not serve stops the server at start; a database that cannot be opened is one line for both
commands, from `--db` or from GDP_ZERO_STUDY_DB, its password never shown.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gdp_zero.llm.fake_server import FakeLLMServer
from gdp_zero.study.spec import DB_URL_ENV

REPO = Path(__file__).resolve().parents[2]
STUDY_FILE = REPO / "studies" / "gdpzero_vs_prompting.toml"
SECRET = "s3cret-db-password"


def run(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k not in (DB_URL_ENV, "OPENAI_API_KEY", "OPENAI_BASE_URL")}
    environment |= {"GRADIO_ANALYTICS_ENABLED": "False", "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run([sys.executable, "-m", "gdp_zero.cli", "study", *args], capture_output=True, text=True,
                          env=environment, cwd=REPO, timeout=timeout, check=False)


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in done.stderr, done.stderr
    return lines[0]


@pytest.mark.parametrize("llm", [["--llm", "fake"], []])  # [] is --llm auto without a key: the demo, or the local model
def test_serve_refuses_the_demo_llm_unless_a_pilot_allows_it(llm: list[str], tmp_path: Path) -> None:
    line = one_line_error(run("serve", str(STUDY_FILE), "--db", f"sqlite:///{tmp_path / 'study.db'}", *llm))
    assert "not a real model" in line and "--allow-demo" in line
    assert not (tmp_path / "study.db").exists()  # refused before anything was opened


def test_serve_stops_at_start_when_the_endpoint_does_not_serve_the_model(tmp_path: Path) -> None:
    with FakeLLMServer() as llm:
        done = run("serve", str(STUDY_FILE), "--db", f"sqlite:///{tmp_path / 'study.db'}", "--llm", "openai",
                   "--base-url", llm.base_url, "--model", "gpt-not-served", env={"OPENAI_API_KEY": "sk-fake"})
    line = one_line_error(done)
    assert "condition 'gdpzero'" in line and "gpt-not-served" in line and "fake-model" in line


def test_a_crowd_arena_is_held_to_the_same_rules_its_contestants_models_checked(tmp_path: Path) -> None:
    arena = REPO / "studies" / "crowd_arena.toml"
    line = one_line_error(run("serve", str(arena), "--db", f"sqlite:///{tmp_path / 'study.db'}", "--llm", "fake"))
    assert "not a real model" in line and "--allow-demo" in line and not (tmp_path / "study.db").exists()
    with FakeLLMServer() as llm:
        done = run("serve", str(arena), "--db", f"sqlite:///{tmp_path / 'study.db'}", "--llm", "openai",
                   "--base-url", llm.base_url, "--model", "gpt-not-served", env={"OPENAI_API_KEY": "sk-fake"})
    line = one_line_error(done)
    assert "contestant 'gdpzero_n10'" in line and "gpt-not-served" in line


@pytest.mark.parametrize("url", [f"postgresql://user:{SECRET}@127.0.0.1:1/study", f"mysql://user:{SECRET}@127.0.0.1/study",
                                 f"postgresql://user:{SECRET}@127.0.0.1:notaport/study"])
def test_a_database_that_cannot_be_used_is_one_line_for_serve_and_export_its_password_hidden(url: str, tmp_path: Path) -> None:
    serve = ["serve", str(STUDY_FILE), "--llm", "fake", "--allow-demo", "--local-only"]
    export = ["export", "--out", str(tmp_path / "out")]
    for command in (serve, export):
        for given, env in ((["--db", url], None), ([], {DB_URL_ENV: url})):  # the flag, or the environment
            line = one_line_error(run(*command, *given, env=env))
            assert SECRET not in line and "database" in line, line
            if ":1/" in url:  # a URL that parses: the message names it, the password hidden
                assert "user:***@127.0.0.1:1/study" in line, line
