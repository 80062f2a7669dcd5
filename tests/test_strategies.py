"""Strategy analysis: the turn table, the chi-square against scipy, colours per act, the report from the CLI."""

from __future__ import annotations

import itertools
import math
import os
import re
import subprocess
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2_contingency

from gdp_zero.analysis.compare import (
    MIN_DIALOGUES,
    ComparisonUnavailable,
    compare_sources,
)
from gdp_zero.analysis.figures import (
    FIGURES,
    MIN_BAR_COUNT,
    MIN_TRANSITIONS,
    UNKNOWN_COLOR,
    act_style,
)
from gdp_zero.analysis.sources import Source, SourceError, load_sources
from gdp_zero.analysis.strategies import analyse
from gdp_zero.analysis.table import COLUMNS, Counting, Unit, records_table
from gdp_zero.analysis.tables import analysis_tables
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
    for number, record in enumerate(chats * 2):  # six dialogues: a dialogue-level test needs five per source
        append_record(runs, replace(record, source="selfplay", id=f"run-{number}"))
    sources = split_by_outcome(p4g) + [load_sources(f"planner={runs}", DOMAIN)[0]]
    result = compare_sources(records_table({s.label: s.records for s in sources}))

    # The same counts, independently: persuader acts per source straight from the records.
    counts = {s.label: Counter(t.act for r in s.records for t in r.turns if t.speaker == "system") for s in sources}
    acts = sorted(set().union(*counts.values()))
    observed = [[counts[s.label][a] for a in acts] for s in sources]
    assert result.counts.loc[[s.label for s in sources], acts].to_numpy().tolist() == observed
    expected = chi2_contingency(observed, correction=False)
    assert result.chi2 == pytest.approx(expected.statistic, rel=1e-12)
    assert result.turn_level_p == pytest.approx(expected.pvalue, rel=1e-9)
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
    assert analysis.comparison is None and analysis.comparison_text().startswith("Between the sources: no test: a comparison needs two sources")
    assert len(analysis.figures) == len(FIGURES)


def cie_lab(color: str) -> tuple[float, float, float]:
    """An sRGB hex colour in CIE L*a*b* (D65)."""
    rgb = [int(color.lstrip("#")[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    xyz = [sum(m * c for m, c in zip(row, linear)) / white for row, white in zip(
        ((0.4124, 0.3576, 0.1805), (0.2126, 0.7152, 0.0722), (0.0193, 0.1192, 0.9505)), (0.95047, 1.0, 1.08883))]
    fx, fy, fz = (t ** (1 / 3) if t > (6 / 29) ** 3 else t / (3 * (6 / 29) ** 2) + 4 / 29 for t in xyz)
    return 116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)


def ciede2000(first: str, second: str) -> float:
    """The CIEDE2000 colour difference (Sharma, Wu & Dalal 2005): about 2 is just noticeable, under 10 reads as one hue."""
    (l1, a1, b1), (l2, a2, b2) = cie_lab(first), cie_lab(second)
    mean_c = (math.hypot(a1, b1) + math.hypot(a2, b2)) / 2
    g = 0.5 * (1 - math.sqrt(mean_c ** 7 / (mean_c ** 7 + 25 ** 7)))
    c1, c2 = math.hypot((1 + g) * a1, b1), math.hypot((1 + g) * a2, b2)
    h1, h2 = (math.degrees(math.atan2(b, (1 + g) * a)) % 360 for a, b in ((a1, b1), (a2, b2)))
    dh = 0.0 if c1 * c2 == 0 else (h2 - h1 + 180) % 360 - 180
    dl, dc, big_dh = l2 - l1, c2 - c1, 2 * math.sqrt(c1 * c2) * math.sin(math.radians(dh / 2))
    mean_l, mean_cp = (l1 + l2) / 2, (c1 + c2) / 2
    mean_h = h1 + h2 if c1 * c2 == 0 else (h1 + h2) / 2 + (180 if abs(h1 - h2) > 180 else 0)
    t = (1 - 0.17 * math.cos(math.radians(mean_h - 30)) + 0.24 * math.cos(math.radians(2 * mean_h))
         + 0.32 * math.cos(math.radians(3 * mean_h + 6)) - 0.20 * math.cos(math.radians(4 * mean_h - 63)))
    sl = 1 + 0.015 * (mean_l - 50) ** 2 / math.sqrt(20 + (mean_l - 50) ** 2)
    sc, sh = 1 + 0.045 * mean_cp, 1 + 0.015 * mean_cp * t
    rt = -math.sin(math.radians(60 * math.exp(-(((mean_h % 360 - 275) / 25) ** 2)))) * 2 * math.sqrt(mean_cp ** 7 / (mean_cp ** 7 + 25 ** 7))
    return math.sqrt((dl / sl) ** 2 + (dc / sc) ** 2 + (big_dh / sh) ** 2 + rt * (dc / sc) * (big_dh / sh))


def test_persuader_act_colours_are_far_apart() -> None:
    style = act_style(DOMAIN)
    colours = {act: style.color(act) for act in DOMAIN.system_act_names} | {"(unknown)": UNKNOWN_COLOR}
    assert ciede2000("#ffffff", "#000000") == pytest.approx(100, abs=0.01)
    assert ciede2000("#DA16FF", "#FB00D1") < 10  # Dark24's two magentas, once foot in the door and proposition of donation
    closest = min((ciede2000(a, b), x, y) for (x, a), (y, b) in itertools.combinations(colours.items(), 2))
    assert closest[0] >= 20, closest


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
            elif trace.type == "scatter" and trace.showlegend is not False and trace.legendgroup:  # a key entry
                assert trace.marker.color == style.color(trace.legendgroup), (key, trace.legendgroup)
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
    assert "no test: my chat has 1 dialogue" in done.stdout and "report written to" in done.stdout
    page = out.read_text(encoding="utf-8")
    for key, *_ in FIGURES:
        assert f'id="figure-{key}"' in page
    assert re.search(r"<script[^>]*\bsrc=", page) is None and "plotly.js v" in page  # Plotly's JavaScript is inline
    assert "my chat" in page and "non-personal-Task-related-inquiry" in page


def test_cli_names_a_source_it_cannot_read(tmp_path: Path) -> None:
    (tmp_path / "broken.jsonl").write_text('{"not": "a record"}\n', encoding="utf-8")
    done = cli(str(tmp_path / "broken.jsonl"), "--out", str(tmp_path / "r.html"))
    assert done.returncode == 2
    assert "broken.jsonl:1: schema_version" in done.stderr
    done = cli(str(tmp_path / "missing.csv"), "--out", str(tmp_path / "r.html"))
    assert done.returncode == 2 and "missing.csv: no such file or folder" in done.stderr
    assert not (tmp_path / "r.html").exists()


# -- dialogue-level tests, counting units, n, confounds (issue 20) ----------------------------------------


def independent_permutation_p(sources: list[Source], permutations: int, seed: int) -> tuple[float, float]:
    """The permutation test written out from the raw records, one scipy chi-square per permutation: dialogues
    in (source as given, id) order, permutation b the b-th `rng.permutation` of their source numbers."""
    acts_of = {(i, r.id): [t.act for t in r.turns if t.speaker == "system"] for i, s in enumerate(sources) for r in s.records}
    dialogues = sorted(key for key, acts in acts_of.items() if acts)
    labels = np.array([source for source, _ in dialogues])

    def statistic(assigned: np.ndarray) -> float:
        counts = Counter((int(label), act) for label, key in zip(assigned, dialogues) for act in acts_of[key])
        frame = pd.Series(counts).unstack(fill_value=0)
        return float(chi2_contingency(frame.to_numpy(), correction=False).statistic)

    observed = statistic(labels)
    rng = np.random.default_rng(seed)
    reached = sum(statistic(rng.permutation(labels)) >= observed * (1 - 1e-9) for _ in range(permutations))
    return (1 + reached) / (1 + permutations), observed


def test_the_dialogue_level_p_equals_an_independent_permutation_computation(p4g: Source) -> None:
    sources = split_by_outcome(p4g)
    table = records_table({s.label: s.records for s in sources}, DOMAIN.success_act)
    result = compare_sources(table, permutations=400, seed=11)
    p_value, chi2 = independent_permutation_p(sources, permutations=400, seed=11)
    assert result.chi2 == pytest.approx(chi2, rel=1e-12)
    assert result.dialogue_p == p_value
    assert result.dialogue_p > result.turn_level_p  # turns of one dialogue are not independent: the turn-level p is too small
    assert list(result.dialogues) == [148, 152]
    assert result.v_low < result.cramers_v < result.v_high
    text = result.summary()
    assert text.startswith("Dialogue-level permutation test (400 permutations") and "Turn-level χ² test" in text
    assert text.index("Dialogue-level") < text.index(f"p = {result.turn_level_p:.3g}")


def test_the_readme_result_is_the_dialogue_level_one(p4g: Source) -> None:
    """The README's donors vs non-donors numbers are these, with the method named; by turns and by every act present."""
    result = compare_sources(records_table({s.label: s.records for s in split_by_outcome(p4g)}, DOMAIN.success_act))
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert f"p = {result.dialogue_p:.3g}" in readme and "permutation" in readme
    assert f"turn-level χ² = {result.chi2:.2f}, df = {result.dof}, p = {result.turn_level_p:.3g}" in readme
    every_act = compare_sources(records_table({s.label: s.records for s in split_by_outcome(p4g)}, DOMAIN.success_act),
                                counting=Counting("strategies"))
    assert (f"second labels included ({every_act.n} uses), the dialogue-level p is {every_act.dialogue_p:.3g} "
            f"(χ² = {every_act.chi2:.2f} over {every_act.counts.shape[1]} acts") in " ".join(readme.split())


def p4g_acts_by_pandas(p4g_dir: Path) -> pd.DataFrame:
    """300_dialog.csv read with pandas alone: one row per persuader sentence and act of either of its labels
    (er_label_1, er_label_2: two labels read as one act count once), with the turn (run of one speaker) it is in."""
    frame = pd.read_csv(p4g_dir / "300_dialog.csv")
    frame["B2"] = frame["B2"].astype(str).str.strip()
    frame["turn"] = ((frame["B2"] != frame["B2"].shift()) | (frame["B4"] != frame["B4"].shift())).cumsum()
    frame["sentence"] = range(len(frame))
    persuader = frame[frame["B4"] == 0]
    labels = persuader.melt(id_vars=["turn", "sentence"], value_vars=["er_label_1", "er_label_2"], value_name="label")
    labels = labels.dropna(subset=["label"])
    mapping = DOMAIN.corpus_label_map("system")
    labels["act"] = labels["label"].str.strip().map(lambda label: mapping.get(label, f"unmapped: {label}"))
    return labels.drop_duplicates(["sentence", "act"])


def test_counting_units_equal_independent_pandas_counts(p4g: Source, p4g_dir: Path) -> None:
    table = records_table({"P4G": p4g.records}, DOMAIN.success_act)
    acts = p4g_acts_by_pandas(p4g_dir)
    def counted(unit: Unit) -> dict[str, int]:
        return Counting(unit).rows(table, "system")["act"].value_counts().sort_index().to_dict()

    containing = acts.drop_duplicates(["turn", "act"])["act"].value_counts()
    assert counted("strategies") == containing.sort_index().to_dict()
    assert counted("sentence") == acts["act"].value_counts().sort_index().to_dict()
    # Second labels count in both: 22 persuader sentences have one, 19 of another act than their first.
    first_only = acts[acts["variable"] == "er_label_1"]
    assert (len(acts), len(first_only)) == (6036, 6017) and first_only["sentence"].is_unique  # as the README says
    assert counted("sentence")["proposition of donation"] == (first_only["act"] == "proposition of donation").sum() + 3
    # One act per turn undercounts: the numbers, from the same files (288 and 133 by first labels alone).
    by_turn = counted("turn")
    assert (containing["proposition of donation"], by_turn["proposition of donation"]) == (290, 169)
    assert (containing["foot in the door"], by_turn["foot in the door"]) == (135, 82)
    # Every figure says its unit.
    analysis = analyse([p4g], DOMAIN, Counting("strategies"))
    share = {k: f for k, _, f in analysis.figures}["share"]
    assert share.layout.xaxis.title.text == "share of persuader act uses in turns"
    assert "a P4G sentence's second label counts too" in analysis.counting.describe()


def test_figures_show_n_and_hide_rounds_and_rows_too_small_to_read(p4g: Source, chats: list[DialogueRecord]) -> None:
    analysis = analyse([p4g, Source("chat", tuple(chats), "test")], DOMAIN)
    figures = {key: figure for key, _, figure in analysis.figures}
    table = analysis.table
    system = table[(table["speaker"] == "system") & (table["source"] == "P4G humans")]
    n = int((system["act"] != "(unlabelled)").sum())
    assert f"n = {n} turns · 300 dialogues" in figures["share"].layout.annotations[0].text  # above the first bar
    per_round = system.groupby("exchange").size()
    bars = [trace for trace in figures["per-exchange"].data if trace.type == "bar"]
    assert {trace.xaxis for trace in bars} == {"x"}  # the chat's rounds (3 dialogues each) are all below the minimum
    assert {x for trace in bars for x in trace.x} == set(per_round[per_round >= MIN_BAR_COUNT].index)
    assert len(per_round[per_round < MIN_BAR_COUNT])  # P4G's late rounds hold one turn or a few: not drawn
    totals = next(trace for trace in figures["per-exchange"].data if trace.type == "scatter" and trace.mode == "text")
    assert list(map(int, totals.text)) == per_round[per_round >= MIN_BAR_COUNT].tolist()  # n above every bar
    for heatmap in figures["transitions"].data:
        rows = np.array(heatmap.customdata).sum(axis=1)
        z = np.array(heatmap.z, dtype=float)
        assert all(np.isnan(z[i]).all() == (rows[i] < MIN_TRANSITIONS) for i in range(len(rows)))
        assert np.array_equal(np.array(heatmap.text, dtype=float)[~np.isnan(z)], np.array(heatmap.customdata)[~np.isnan(z)])
    p4g_rows, chat_rows = (np.array(h.customdata).sum(axis=1) for h in figures["transitions"].data)
    assert (p4g_rows[p4g_rows > 0] >= MIN_TRANSITIONS).all() and (chat_rows < MIN_TRANSITIONS).all()


def test_a_source_too_small_is_drawn_but_not_tested(p4g: Source, chats: list[DialogueRecord]) -> None:
    analysis = analyse([p4g, Source("this chat", (chats[0],), "test")], DOMAIN)
    assert analysis.comparison is None
    assert "this chat has 1 dialogue with labelled persuader turns" in analysis.comparison_text()
    assert f"at least {MIN_DIALOGUES} per source" in analysis.comparison_text()
    assert "this chat" in set(analysis.table["source"])


def test_comparing_p4g_with_runs_that_stop_at_a_donation_says_so(p4g: Source, chats: list[DialogueRecord]) -> None:
    runs = Source("runs", tuple(replace(c, source="selfplay", id=f"r{i}") for i, c in enumerate(chats * 2)), "test")
    whole = analyse([p4g, runs], DOMAIN)
    assert any("a dialogue stops at the first agreement to donate" in c and "before-donation" in c for c in whole.cautions)
    before = analyse([p4g, runs], DOMAIN, Counting("turn", "before-donation"))
    assert any("removes that difference" in c for c in before.cautions)
    # Up to the first agreement: no P4G persuader turn after a persuadee's first "donate" is counted.
    table = before.table
    counted = Counting("turn", "before-donation").rows(table, "system")
    late = counted[counted["agreed_at"].notna() & (counted["exchange"] > counted["agreed_at"])]
    assert late.empty and len(counted) < len(Counting().rows(table, "system"))


def test_donors_vs_non_donors_within_a_source_and_every_table_as_csv(p4g: Source) -> None:
    analysis = analyse([p4g], DOMAIN, compare="outcome")
    assert [s.label for s in analysis.sources] == ["P4G humans: donated", "P4G humans: not donated"]
    assert len(analysis.tests) == 1 and analysis.comparison is not None
    expected = compare_sources(records_table({s.label: s.records for s in split_by_outcome(p4g)}, DOMAIN.success_act))
    assert analysis.comparison.dialogue_p == expected.dialogue_p and analysis.comparison.chi2 == pytest.approx(expected.chi2)
    tables = analysis_tables(analysis)
    assert {"sources", "tests", "act_counts", "act_counts_by_round", "success_by_round", "merged_labels"} <= set(tables)
    assert tables["tests"].loc[0, "p (dialogue level)"] == expected.dialogue_p
    counts = tables["act_counts"]
    persuader = counts[counts["speaker"] == "persuader"]
    assert persuader["count"].sum() == analysis.comparison.n
    merged = tables["merged_labels"].set_index("act")
    assert merged.loc["donation information", "corpus labels read as it"].count(",") == 3  # four labels, one act


def test_a_data_folder_is_searched_one_level_down_and_an_empty_csv_is_refused(p4g_dir: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "p4g").symlink_to(p4g_dir)  # as `gdp-zero ui --data-dir data` prefills the tab's path box
    assert len(load_sources(str(data), DOMAIN)[0].records) == 300
    header_only = tmp_path / "empty" / "300_dialog.csv"
    header_only.parent.mkdir()
    header_only.write_text((p4g_dir / "300_dialog.csv").read_text(encoding="utf-8").split("\n", 1)[0] + "\n")
    with pytest.raises(SourceError, match="no dialogues in it"):
        load_sources(str(header_only.parent), DOMAIN)
    done = cli(str(header_only), "--out", str(tmp_path / "r.html"))
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "no dialogues in it" in done.stderr
    assert not (tmp_path / "r.html").exists()


def test_cli_compares_donors_within_a_source_in_the_unit_asked_and_writes_every_table(p4g_dir: Path, tmp_path: Path) -> None:
    p4g = load_sources(str(p4g_dir), DOMAIN)[0]
    expected = analyse([p4g], DOMAIN, Counting("strategies", "before-donation"), "outcome")
    assert expected.comparison is not None
    done = cli(str(p4g_dir), "--compare", "outcome", "--unit", "strategies", "--scope", "before-donation",
               "--out", str(tmp_path / "r.html"), "--csv", str(tmp_path / "tables"))
    assert done.returncode == 0, done.stderr
    assert expected.comparison.summary() in done.stdout
    tests = pd.read_csv(tmp_path / "tables" / "tests.csv")
    assert tests.loc[0, "p (dialogue level)"] == pytest.approx(expected.comparison.dialogue_p)
    assert {f"{name}.csv" for name in analysis_tables(expected)} == {p.name for p in (tmp_path / "tables").iterdir()}
    done = cli(str(p4g_dir), "--out", str(tmp_path))  # a folder where the report should go: one line, nothing done
    assert done.returncode == 2 and done.stderr == f"error: {tmp_path}: is a folder; give the HTML file to write\n"
