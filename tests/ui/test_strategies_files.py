"""Strategies files from outside (issue 21 item 14): labels drawn as text, bad files named one by one.

Act names and source labels come from the files a person uploads, and Plotly renders text as
markup; a file nested too deeply or with fields of the wrong type is named with the field, the
other files are still analysed, and a huge field is not echoed whole.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from gdp_zero.analysis.figures import FIGURES
from gdp_zero.analysis.sources import SourceError, load_records_file, records_sources
from gdp_zero.analysis.strategies import analyse
from gdp_zero.domain import load_domain
from gdp_zero.records import SCHEMA_VERSION
from ui.strategies_view import collect_sources

ServedApp = Any  # tests/ui/conftest.py
DOMAIN = load_domain("p4g")
TIMEOUT_MS = 60_000
BOLD_ACT = "<b>Bold act</b>"
LINK_ACT = '<a href="https://example.com/phish">click here</a>'

pytestmark = [  # Gradio's own analytics DataFrame code warns under pandas 3; not ours.
    pytest.mark.filterwarnings("ignore:.*no_silent_downcasting.*"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]


def record(**changes: Any) -> dict[str, Any]:
    turns = []
    for number in range(4):
        turns += [{"speaker": "system", "act": BOLD_ACT if number % 2 else LINK_ACT, "text": f"Persuader line {number}."},
                  {"speaker": "user", "act": "positive-reaction-to-donation", "text": f"Persuadee line {number}."}]
    return {"schema_version": SCHEMA_VERSION, "id": "d1", "source": "selfplay", "domain": "p4g", "turns": turns, **changes}


def nested(depth: int) -> str:
    return '{"a": ' * depth + "1" + "}" * depth


@pytest.fixture
def markup_file(tmp_path: Path) -> Path:
    path = tmp_path / "markup-acts.json"
    path.write_text(json.dumps(record()), encoding="utf-8")
    return path


@pytest.fixture
def bad_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """Bad files by kind: (path, what the message must name besides the file)."""
    good = json.dumps(record())
    files = {
        "deep.json": ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        "deep.jsonl": ("[" * 100_000 + "]" * 100_000 + "\n", "deep.jsonl:1: lists or objects nested too deeply"),
        "deep-meta.json": (good[:-1] + ', "meta": ' + nested(900) + "}", "meta.a.a: lists or objects nested too deeply"),
        "turns-a-number.json": (json.dumps(record(turns=5)), "turns: input should be a valid array"),
        "act-an-object.json": (json.dumps(record(turns=[{"speaker": "system", "act": {"x": 1}, "text": "t"}])),
                               "turns.0.act: input should be a valid string"),
        "huge-version.json": (json.dumps(record(schema_version="v" * 15_000_000)), "schema_version: expected a whole number"),
        "huge-act.json": (json.dumps(record(turns=[{"speaker": "system", "act": ["y" * 15_000_000], "text": "t"}])),
                          "turns.0.act: input should be a valid string"),
    }
    for name, (text, _) in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    return {name: (tmp_path / name, expected) for name, (_, expected) in files.items()}


def test_each_bad_file_is_named_with_its_field_and_nothing_huge_is_echoed(bad_files: dict[str, tuple[Path, str]]) -> None:
    for name, (path, expected) in bad_files.items():
        with pytest.raises(SourceError) as caught:
            load_records_file(path)
        message = str(caught.value)
        assert message.startswith(str(path)) and expected in message, message[:300]
        assert len(message) < 400, (name, len(message))


def test_one_bad_file_does_not_fail_the_batch(markup_file: Path, bad_files: dict[str, tuple[Path, str]]) -> None:
    uploads = [str(markup_file)] + [str(path) for path, _ in bad_files.values()]
    sources, problems = collect_sources(None, uploads, None, DOMAIN, [markup_file.parent])
    assert [s.label for s in sources] == ["markup-acts"]
    assert len(problems) == len(bad_files)
    for (name, (_, expected)), problem in zip(bad_files.items(), problems):
        assert problem.startswith(name) and expected in problem and len(problem) < 400, problem[:300]


def test_figures_draw_act_names_and_labels_as_text(markup_file: Path) -> None:
    sources = records_sources(load_records_file(markup_file), "<i>my</i> runs", markup_file.name)
    analysis = analyse(sources, DOMAIN)
    for key, _, figure in analysis.figures:
        drawn = figure.to_json()
        for markup in ("<b>", "<a href", "<i>"):
            assert markup not in drawn, (key, markup)
    share = dict((key, figure) for key, _, figure in analysis.figures)["share"]
    assert {trace.name for trace in share.data} >= {"&lt;b&gt;Bold act&lt;/b&gt;", '&lt;a href="https://example.com/phish"&gt;click here&lt;/a&gt;'}
    assert analysis.table["act"].isin([BOLD_ACT]).any()  # the table and its CSV keep the names as written


def test_an_uploaded_markup_act_name_shows_as_text_in_the_figure(page: Page, app: ServedApp, markup_file: Path, tmp_path: Path) -> None:
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(app.url)
    expect(page.locator("#chat [data-testid='bot']")).to_have_count(1, timeout=TIMEOUT_MS)
    page.get_by_role("tab", name="Strategies").click()
    page.fill("#strategies-p4g textarea", "")
    page.locator("#strategies-files input[type=file]").set_input_files([str(markup_file)])
    expect(page.locator("#strategies-files tbody tr")).to_have_count(1, timeout=TIMEOUT_MS)
    page.click("#strategies-run")
    share = page.locator("#strategies-plot-share")
    expect(share).to_contain_text(BOLD_ACT, timeout=TIMEOUT_MS)  # the tags as characters in the legend
    # A long name is wrapped in the key: its lines, read one after the other, are the name as written.
    key = share.locator(".legend .legendtext").evaluate_all(
        "texts => texts.map(t => [...t.querySelectorAll('tspan.line')].map(line => line.textContent).join(' ') || t.textContent)")
    assert BOLD_ACT in key and LINK_ACT in key
    assert share.locator("svg a[href*='example.com']").count() == 0  # no live link in the figure
    assert share.locator("tspan[style*='font-weight:bold'], tspan[style*='font-weight: bold']").count() == 0
    for key, _, _, _ in FIGURES:  # every figure drew, none with a live link
        plot = page.locator(f"#strategies-plot-{key}")
        expect(plot.locator(".js-plotly-plot")).to_have_count(1)
        assert plot.locator("a[href*='example.com']").count() == 0, key
