"""`gdp-zero ui --arena FILE`: the real command serves the Arena tab; a bad arena file, or a contestant's model
the endpoint does not serve, stops it with one line before anything is served."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from gdp_zero.study.spec import STUDIES_DIR
from tests.ui.test_ui_launch import _free_port, _stop_with_ctrl_c, _wait_for

TWO_MODELS = Path(__file__).parents[1] / "arena" / "two_models.toml"
ENV = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"}


def ui(*argv: str) -> list[str]:
    return [sys.executable, "-m", "gdp_zero.cli", "ui", "--llm", "fake", "--host", "127.0.0.1", *argv]


def test_the_arena_tab_is_served_with_its_votes_database(tmp_path: Path) -> None:
    port = _free_port()
    db = tmp_path / "votes.db"
    proc = subprocess.Popen(ui("--port", str(port), "--arena", str(STUDIES_DIR / "arena_planners.toml"),
                               "--arena-db", f"sqlite:///{db}"),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=ENV)
    try:
        config = _wait_for(f"http://127.0.0.1:{port}/config", proc)
        assert "arena-tab" in config and "Which persuader persuades better?" in config
        assert db.is_file()  # the votes' database exists before the first vote
    finally:
        output = _stop_with_ctrl_c(proc)
    assert proc.returncode in (0, 130), output


def test_a_bad_arena_file_or_an_unserved_model_is_one_line(tmp_path: Path) -> None:
    missing = subprocess.run(ui("--arena", str(tmp_path / "nope.toml")), check=False, capture_output=True, text=True, env=ENV, timeout=120)
    assert missing.returncode == 2 and missing.stderr.strip() == f"error: {tmp_path / 'nope.toml'}: file not found"
    unserved = subprocess.run(ui("--arena", str(TWO_MODELS), "--arena-db", f"sqlite:///{tmp_path / 'v.db'}"),
                              check=False, capture_output=True, text=True, env=ENV, timeout=120)
    assert unserved.returncode == 2 and "fake-large" in unserved.stderr
    assert unserved.stderr.strip().count("\n") == 0 and "Traceback" not in unserved.stderr
