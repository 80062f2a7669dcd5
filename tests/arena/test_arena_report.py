"""`gdp-zero arena report VOTES --out report.html`: from a study database or a votes CSV, offline HTML and CSV."""

from __future__ import annotations

import io
import uuid
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pandas as pd
import pytest

from gdp_zero.arena.leaderboard import leaderboard
from gdp_zero.cli import main
from gdp_zero.study import crud
from gdp_zero.study.db import open_database

VOTES = [("x", "y", "a")] * 6 + [("y", "x", "a")] * 3 + [("x", "z", "tie")] * 2 + [("z", "x", "a")] * 2 + \
        [("y", "z", "b")] * 4 + [("z", "y", "both_bad"), ("y", "z", "a"), ("z", "x", "b")]


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def stored(url: str, arena: str, votes: list[tuple[str, str, str]], contestants: dict | None = None) -> None:
    database = open_database(url)
    with database.transaction() as session:
        for a, b, winner in votes:
            crud.add_arena_vote(session, arena=arena, battle=uuid.uuid4().hex, voter="v", model_a=a, model_b=b,
                                winner=winner, exchanges=1, dialogue_a={}, dialogue_b={}, contestants=contestants or {},
                                draw={})
    database.dispose()


def test_the_report_from_a_database_holds_the_leaderboard_figures_and_csv(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'votes.db'}"
    stored(url, "planners", VOTES)
    out = tmp_path / "report.html"
    code, printed, _ = run("arena", "report", url, "--out", str(out), "--rounds", "200", "--seed", "3")
    assert code == 0, printed
    expected = leaderboard(pd.DataFrame(VOTES, columns=["model_a", "model_b", "winner"]), rounds=200, seed=3).table()
    page = out.read_text(encoding="utf-8")
    for key in ("ratings", "win-rate", "battles"):
        assert f"id=\"figure-{key}\"" in page or f"id='figure-{key}'" in page, key
    assert page.count("plotly.js v") == 1  # Plotly inline once: the file opens offline
    assert "<script src=\"http" not in page and "<script src='http" not in page
    written = pd.read_csv(out.with_suffix(".csv"))
    pd.testing.assert_frame_equal(written, expected, check_dtype=False)
    assert "planners: leaderboard" in page and f"{len(VOTES)} votes" in page
    assert expected["contestant"].iloc[0] in printed


def test_the_report_from_a_votes_csv_and_one_line_errors(tmp_path: Path):
    csv = tmp_path / "votes.csv"
    pd.DataFrame(VOTES, columns=["model_a", "model_b", "winner"]).to_csv(csv, index=False)
    code, _, _ = run("arena", "report", str(csv), "--out", str(tmp_path / "r.html"), "--rounds", "50")
    assert code == 0 and (tmp_path / "r.csv").is_file()

    url = f"sqlite:///{tmp_path / 'two.db'}"
    stored(url, "one", VOTES[:3])
    stored(url, "two", VOTES[3:6])
    for argv, problem in (
        ((url,), "name the arena with --arena (arenas with votes in it: one, two)"),
        ((url, "--arena", "three"), "no votes of arena 'three'"),
        ((str(tmp_path / "missing.db"),), "missing.db: file not found"),
        ((str(tmp_path / "missing.csv"),), "missing.csv: file not found"),
    ):
        code, _, err = run("arena", "report", *argv, "--out", str(tmp_path / "x.html"))
        assert code == 2 and problem in err and err.count("\n") == 1, err
    broken = tmp_path / "broken.csv"
    broken.write_text("a,b\n1,2\n", encoding="utf-8")
    code, _, err = run("arena", "report", str(broken), "--out", str(tmp_path / "x.html"))
    assert code == 2 and "no column model_a, model_b, winner" in err
    assert not (tmp_path / "x.html").exists()


def test_arena_check_lists_the_contestants(capsys: pytest.CaptureFixture[str]):
    from gdp_zero.study.spec import STUDIES_DIR

    code, printed, _ = run("arena", "check", str(STUDIES_DIR / "arena_planners.toml"))
    assert code == 0
    assert "gdpzero_n10: planner gdpzero (simulations=10)" in printed and "prompting: planner prompting (defaults)" in printed



def test_a_contestant_whose_settings_changed_between_votes_is_not_pooled_into_one_rating(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'changed.db'}"
    before = {"a": {"name": "x", "planner": "gdpzero", "search": {"simulations": 10}, "label": "X"},
              "b": {"name": "y", "planner": "prompting"}}
    relabelled = {**before, "a": {**before["a"], "label": "X, renamed"}}  # a new label alone is the same condition
    stored(url, "planners", VOTES[:4], before)
    stored(url, "planners", [("x", "y", "b")], relabelled)
    code, _, _ = run("arena", "report", url, "--out", str(tmp_path / "ok.html"), "--rounds", "20")
    assert code == 0
    after = {**before, "a": {**before["a"], "search": {"simulations": 30}}}
    database = open_database(url)
    with database.transaction() as session:
        crud.add_arena_vote(session, arena="planners", battle="changed", voter="v", model_a="x", model_b="y", winner="a",
                            exchanges=1, dialogue_a={}, dialogue_b={}, contestants=after, draw={})
    database.dispose()
    code, _, err = run("arena", "report", url, "--out", str(tmp_path / "mixed.html"))
    assert code == 2 and "x ran with different settings or models in different votes" in err
    assert not (tmp_path / "mixed.html").exists()
