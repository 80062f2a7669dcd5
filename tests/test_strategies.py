"""Strategy analysis: the turn table, the chi-square against scipy, colours per act, the report from the CLI."""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest
from scipy.stats import chi2_contingency

from gdp_zero.analysis.compare import ComparisonUnavailable, compare_sources
from gdp_zero.analysis.figures import FIGURES, UNKNOWN_COLOR, act_style
from gdp_zero.analysis.sources import Source, load_sources
from gdp_zero.analysis.strategies import analyse
from gdp_zero.analysis.table import COLUMNS, records_table
from gdp_zero.domain import load_domain
from gdp_zero.factory import ChatOptions, build_session
from gdp_zero.planners import GDPZeroConfig
from gdp_zero.records import DialogueRecord, TurnRecord, append_record, save_record

REPO = Path(__file__).resolve().parents[1]
DOMAIN = load_domain("p4g")
SMALL_SEARCH = GDPZeroConfig(simulations=3, realizations=1, prior_samples=3, value_samples=3, seed=5)
MESSAGES = ["Hi, what is this about?", "I have not heard of them.", "How would the money be used?", "Maybe a little."]


@pytest.fixture(scope="module")
def p4g(p4g_dir: Path) -> Source:
    return load_sources(str(p4g_dir), DOMAIN)[0]


@pytest.fixture
async def chats(fake_server, make_settings) -> list[DialogueRecord]:
    """Three real chats with the planner on the fake LLM server, as a saved transcript would hold them."""
    records = []
    for _ in range(3):
        session = build_session(make_settings(fake_server.base_url), ChatOptions(planner="gdpzero", search=SMALL_SEARCH))
        try:
            await session.open()
            for message in MESSAGES:
                await session.send(message)
            records.append(session.record())
        finally:
            await session.aclose()
    return records


def split_by_outcome(p4g: Source) -> list[Source]:
    donated = tuple(r for r in p4g.records if r.end_reason == "success")
    others = tuple(r for r in p4g.records if r.end_reason != "success")
    return [Source("donated", donated, "p4g"), Source("did not donate", others, "p4g")]


def test_the_table_has_one_row_per_turn(p4g: Source, chats: list[DialogueRecord]) -> None:
    table = records_table({"P4G humans": p4g.records, "chat": chats})
    assert tuple(table.columns) == COLUMNS
    assert len(table) == sum(len(r.turns) for r in p4g.records) + sum(len(r.turns) for r in chats)
    chat = table[table["dialogue"] == chats[0].id]
    assert chat["act"].tolist() == [t.act for t in chats[0].turns]
    assert chat["text"].tolist() == [t.text for t in chats[0].turns]
    assert chat["turn"].tolist() == list(range(len(chats[0].turns)))
    # The k-th persuader turn and the reply to it share round k.
    assert chat[chat["speaker"] == "system"]["exchange"].tolist() == list(range(1, len(MESSAGES) + 2))
    assert chat[chat["speaker"] == "user"]["exchange"].tolist() == list(range(1, len(MESSAGES) + 1))
    # P4G outcomes from 300_info: 148 persuadees donated.
    p4g_rows = table[table["source"] == "P4G humans"].drop_duplicates("dialogue")
    assert p4g_rows["result"].value_counts().to_dict() == {"donated": 148, "not donated": 152}
    assert set(p4g_rows["outcome"]) == {1.0, -1.0}


def test_chi_square_equals_scipy_on_the_same_counts(p4g: Source, tmp_path: Path, chats: list[DialogueRecord]) -> None:
    runs = tmp_path / "runs.jsonl"
    for record in chats:
        append_record(runs, replace(record, source="selfplay"))
    sources = split_by_outcome(p4g) + [load_sources(f"planner={runs}", DOMAIN)[0]]
    result = compare_sources(records_table({s.label: s.records for s in sources}))

    # The same counts, independently: persuader acts per source straight from the records.
    counts = {s.label: Counter(t.act for r in s.records for t in r.turns if t.speaker == "system") for s in sources}
    acts = sorted(set().union(*counts.values()))
    observed = [[counts[s.label][a] for a in acts] for s in sources]
    assert result.counts.loc[[s.label for s in sources], acts].to_numpy().tolist() == observed
    expected = chi2_contingency(observed, correction=False)
    assert result.chi2 == pytest.approx(expected.statistic, rel=1e-12)
    assert result.p_value == pytest.approx(expected.pvalue, rel=1e-9)
    assert result.dof == expected.dof == (len(sources) - 1) * (len(acts) - 1)
    n = sum(map(sum, observed))
    assert result.cramers_v == pytest.approx(math.sqrt(expected.statistic / (n * (min(len(sources), len(acts)) - 1))))
    # Adjusted residual of one cell, by its formula; the top act holds the largest share of chi-square.
    row, column = 0, acts.index(result.contributions.index[0])
    rows, columns = [sum(r) for r in observed], [sum(c) for c in zip(*observed)]
    e = expected.expected_freq[row][column]
    adjusted = (observed[row][column] - e) / math.sqrt(e * (1 - rows[row] / n) * (1 - columns[column] / n))
    assert result.residuals.loc[sources[row].label, acts[column]] == pytest.approx(adjusted)
    per_act = [sum((observed[i][j] - expected.expected_freq[i][j]) ** 2 / expected.expected_freq[i][j]
                   for i in range(len(sources))) for j in range(len(acts))]
    assert result.contributions.index[0] == acts[per_act.index(max(per_act))]
    assert result.contributions.sum() == pytest.approx(1.0)
    assert f"χ² = {expected.statistic:.2f}" in result.summary()


def test_a_file_with_several_conditions_is_one_source_per_condition(tmp_path: Path, chats: list[DialogueRecord]) -> None:
    runs = tmp_path / "runs.jsonl"
    for record, condition in zip(chats, ["gdpzero", "prompting", "gdpzero"]):
        append_record(runs, replace(record, source="selfplay", condition=condition))
    sources = load_sources(str(runs), DOMAIN)
    assert [(s.label, len(s.records)) for s in sources] == [("runs: gdpzero", 2), ("runs: prompting", 1)]
    assert [r.id for r in sources[0].records] == [chats[0].id, chats[2].id]
    single = tmp_path / "one.jsonl"
    append_record(single, replace(chats[0], condition="gdpzero"))
    assert [s.label for s in load_sources(f"mine={single}", DOMAIN)] == ["mine"]


def test_no_test_without_two_sources(p4g: Source) -> None:
    with pytest.raises(ComparisonUnavailable, match="two sources"):
        compare_sources(records_table({"P4G humans": p4g.records}))
    analysis = analyse([p4g], DOMAIN)
    assert analysis.comparison is None and analysis.comparison_text().startswith("No test: a comparison needs two sources")
    assert len(analysis.figures) == len(FIGURES)


def test_every_figure_draws_an_act_in_its_one_colour(p4g: Source, chats: list[DialogueRecord]) -> None:
    odd = DialogueRecord(id="odd", source="chat", domain="p4g", outcome=1.0, end_reason="success", turns=(
        TurnRecord("system", "unmapped: compliment", "Nice hat."), TurnRecord("user", "donate", "Fine, $1."),
        TurnRecord("system", "greeting", "Hello."),
    ))
    analysis = analyse([p4g, Source("chat", tuple(chats) + (odd,), "test")], DOMAIN)
    style = act_style(DOMAIN)
    assert len(set(style.colors.values())) == len(style.colors)  # no two acts share a colour
    seen = Counter()
    for key, _, figure in analysis.figures:
        for trace in figure.data:
            if trace.type == "bar":
                assert trace.marker.color == style.color(trace.name), (key, trace.name)
                seen[trace.name] += 1
    assert style.color("unmapped: compliment") == UNKNOWN_COLOR and seen["unmapped: compliment"] >= 3
    assert set(DOMAIN.system_act_names) <= set(seen)  # P4G people use every persuader act


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "gdp_zero.cli", "strategies", *args],
                          capture_output=True, text=True, env=env, timeout=120)


def test_cli_writes_one_self_contained_report(p4g_dir: Path, tmp_path: Path, chats: list[DialogueRecord]) -> None:
    transcript = tmp_path / "transcript.json"
    save_record(transcript, chats[0])
    out = tmp_path / "report.html"
    done = cli(str(p4g_dir), f"my chat={transcript}", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "P4G humans: 300 dialogues" in done.stderr and "non-personal-Task-related-inquiry" in done.stderr
    assert "χ² =" in done.stdout and "report written to" in done.stdout
    page = out.read_text(encoding="utf-8")
    for key, title, _, _ in FIGURES:
        assert f'id="figure-{key}"' in page
    assert re.search(r"<script[^>]*\bsrc=", page) is None and "plotly.js v" in page  # Plotly's JavaScript is inline
    assert "my chat" in page and "non-personal-Task-related-inquiry" in page


def test_cli_names_a_source_it_cannot_read(tmp_path: Path) -> None:
    (tmp_path / "broken.jsonl").write_text('{"not": "a record"}\n', encoding="utf-8")
    done = cli(str(tmp_path / "broken.jsonl"), "--out", str(tmp_path / "r.html"))
    assert done.returncode == 2
    assert "broken.jsonl:1.schema_version" in done.stderr
    done = cli(str(tmp_path / "missing.csv"), "--out", str(tmp_path / "r.html"))
    assert done.returncode == 2 and "missing.csv: no such file or folder" in done.stderr
    assert not (tmp_path / "r.html").exists()
