"""The Strategies tab and the HTML report in Debian's chromium: P4G people next to a saved chat, offline report."""

from __future__ import annotations

import html
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from gdp_zero.analysis.figures import FIGURES
from gdp_zero.analysis.report import write_report
from gdp_zero.analysis.sources import SourceError, load_sources
from gdp_zero.analysis.strategies import analyse
from gdp_zero.analysis.table import Counting
from gdp_zero.analysis.tables import analysis_tables
from gdp_zero.domain import load_domain
from ui.strategies_view import allowed_path, collect_sources

ServedApp = Any  # tests/ui/conftest.py
REPO = Path(__file__).resolve().parents[2]
DOMAIN = load_domain("p4g")
TIMEOUT_MS = 60_000  # for the page and for assertions that wait on the server

pytestmark = [  # Gradio's own analytics DataFrame code warns under pandas 3; not ours.
    pytest.mark.filterwarnings("ignore:.*no_silent_downcasting.*"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]


@pytest.fixture(scope="module")
def transcript(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A transcript saved by `gdp-zero chat --save` on the demo (fake) LLM, as a person would make one."""
    path = tmp_path_factory.mktemp("chat") / "my-chat.json"
    lines = "Hi, who is this?\nI have heard of them.\nWhat would my money do?\nOK, I could give a little.\n/quit\n"
    done = subprocess.run(
        [sys.executable, "-m", "gdp_zero.cli", "chat", "--llm", "fake", "--sims", "3", "--realizations", "1", "--save", str(path)],
        input=lines, capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert done.returncode == 0, done.stderr
    return path


# What does not read on the Strategies tab as it is shown: a table or figure wider than the window
# without a scroll box of its own, a legend outside its figure or over a plot area (Plotly's drag
# rectangle of each subplot), text in a figure smaller than 10 px.
LAYOUT_PROBLEMS_JS = """() => {
  const problems = [];
  const width = document.documentElement.clientWidth;
  const tab = document.querySelector('#strategies-run').closest('[role=tabpanel]');
  const inside = (r) => r.left >= -1 && r.right <= width + 1;
  for (const element of tab.querySelectorAll('table, .js-plotly-plot')) {
    if (!element.offsetParent || inside(element.getBoundingClientRect())) continue;
    let box = element.parentElement;
    while (box !== tab && !(['auto', 'scroll'].includes(getComputedStyle(box).overflowX) && inside(box.getBoundingClientRect()))) {
      box = box.parentElement;
    }
    if (box === tab) {
      problems.push(`${element.closest('[id]').id}: ${element.tagName.toLowerCase()} ${Math.round(element.getBoundingClientRect().width)} px wide in a ${width} px window, no scroll box of its own`);
    }
  }
  for (const plot of tab.querySelectorAll('[id^=strategies-plot-] .js-plotly-plot')) {
    const id = plot.closest('[id^=strategies-plot-]').id;
    const figure = plot.querySelector('.main-svg').getBoundingClientRect();
    const legend = plot.querySelector('.legend');
    if (legend) {
      const key = legend.getBoundingClientRect();
      if (key.left < figure.left - 1 || key.right > figure.right + 1 || key.top < figure.top - 1 || key.bottom > figure.bottom + 1) {
        problems.push(`${id}: legend runs out of its figure`);
      }
      for (const area of plot.querySelectorAll('.draglayer .nsewdrag')) {
        const a = area.getBoundingClientRect();
        if (key.left < a.right && a.left < key.right && key.top < a.bottom && a.top < key.bottom) problems.push(`${id}: legend over a plot area`);
      }
    }
    for (const text of plot.querySelectorAll('.main-svg text, .main-svg tspan')) {
      const matrix = text.getScreenCTM();  // Plotly shrinks text that does not fit a bar by a transform, not its font size
      const size = parseFloat(getComputedStyle(text).fontSize) * Math.hypot(matrix.a, matrix.b);
      if (text.textContent.trim() && size < 9.9) problems.push(`${id}: '${text.textContent.slice(0, 40)}' at ${size.toFixed(1)} px`);
    }
  }
  return problems;
}"""


def layout_problems(page: Page) -> list[str]:
    """Checked once every figure has been drawn for the window's width (Plotly redraws on a resize)."""
    page.wait_for_function("(width) => [...document.querySelectorAll('[id^=strategies-plot-] .js-plotly-plot')].every("
                           "plot => plot._fullLayout.width <= width || plot.closest('#strategies-plot-transitions'))",
                           arg=page.viewport_size["width"] if page.viewport_size else 0)
    page.wait_for_timeout(300)
    problems: list[str] = page.evaluate(LAYOUT_PROBLEMS_JS)
    return problems


def figure_traces(page: Page, key: str) -> int:
    selector = f"#strategies-plot-{key} .js-plotly-plot"
    page.wait_for_function(f"() => document.querySelector('{selector}')?.data?.length > 0")
    return page.evaluate(f"() => document.querySelector('{selector}').data.length")


def test_strategies_tab_shows_p4g_people_next_to_a_saved_transcript(
    page: Page, app: ServedApp, p4g_dir: Path, transcript: Path, screenshot_dir: Path, publish_screenshots: Any
) -> None:
    sources = [load_sources(str(p4g_dir), DOMAIN)[0], load_sources(str(transcript), DOMAIN)[0]]
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(app.url)
    expect(page.locator("#chat [data-testid='bot']")).to_have_count(1, timeout=TIMEOUT_MS)
    page.get_by_role("tab", name="Strategies").click()

    # The path box holds the server's data folder; P4G is found in it as it is.
    expect(page.locator("#strategies-p4g textarea")).to_have_value(str(p4g_dir))
    page.locator("#strategies-files input[type=file]").set_input_files([str(transcript)])
    expect(page.locator("#strategies-files tbody tr")).to_have_count(1, timeout=TIMEOUT_MS)  # uploaded
    page.click("#strategies-run")

    test = page.locator("#strategies-test")
    # One saved chat is drawn, with its n, but not tested against 300 dialogues.
    expect(test).to_contain_text("no test: my-chat has 1 dialogue", timeout=TIMEOUT_MS)
    expect(page.locator("#strategies-sources")).to_contain_text("P4G humans")
    expect(page.locator("#strategies-sources")).to_contain_text("my-chat")
    expect(page.locator("#strategies-messages")).to_contain_text("non-personal-Task-related-inquiry")  # unmapped, listed
    expect(test).to_contain_text("people talked on after the persuadee agreed")  # the confound, said where it applies
    for key, _, _, _ in FIGURES:
        assert figure_traces(page, key) > 0, key
    expect(page.locator("#strategies-plot-share")).to_contain_text("n = 3109 turns · 300 dialogues")
    page.screenshot(path=str(screenshot_dir / "strategies-tab.png"), full_page=True)

    # Donors with non-donors within each source, every act present in a turn counted.
    expected = analyse(sources, DOMAIN, Counting("strategies"), "outcome")
    assert expected.comparison is not None
    page.get_by_label("donors with non-donors, within each source").check()
    page.get_by_label("every act present in a turn").check()
    page.click("#strategies-run")
    expect(test).to_contain_text(expected.comparison.summary(), timeout=TIMEOUT_MS)  # the same numbers in-process
    expect(page.locator("#strategies-top-acts")).to_contain_text(expected.comparison.contributions.index[0])
    donated = Counting("strategies").rows(expected.table, "system").query("source == 'P4G humans: donated'")
    expect(page.locator("#strategies-plot-share")).to_contain_text(
        f"n = {len(donated)} act uses in turns · {donated['dialogue'].nunique()} dialogues", timeout=TIMEOUT_MS)
    page.locator("#strategies-messages").scroll_into_view_if_needed()
    page.evaluate("() => window.scrollBy(0, document.getElementById('strategies-messages').getBoundingClientRect().top - 10)")
    page.screenshot(path=str(screenshot_dir / "strategies.png"))
    publish_screenshots(screenshot_dir, "strategies.png")
    page.locator("#strategies-plot-per-exchange").scroll_into_view_if_needed()
    page.screenshot(path=str(screenshot_dir / "strategies-wide-figures.png"))
    assert layout_problems(page) == []
    # On a phone: tables and the heatmaps scroll in their own boxes, keys stay under their plots, n readable.
    page.set_viewport_size({"width": 420, "height": 900})
    assert layout_problems(page) == []
    page.locator("#strategies-sources").scroll_into_view_if_needed()
    page.screenshot(path=str(screenshot_dir / "strategies-narrow.png"))
    for key, _, _, _ in FIGURES:
        page.locator(f"#strategies-plot-{key}").screenshot(path=str(screenshot_dir / f"strategies-narrow-{key}.png"))
    page.set_viewport_size({"width": 1400, "height": 1000})

    # Every table as CSV: the dialogue-level p in the tests table is the one shown.
    csv = page.locator("#strategies-csv tr", has_text="gdp-zero-tests").locator("a")
    expect(csv).to_have_count(1)
    tests_csv = page.request.get(csv.get_attribute("href") or "").text()
    assert f"{expected.comparison.dialogue_p}" in tests_csv and "permutation of sources between dialogues" in tests_csv
    expect(page.locator("#strategies-csv")).to_contain_text("gdp-zero-act_counts")

    with page.expect_download() as info:
        page.click("#strategies-download")
    assert info.value.suggested_filename == "gdp-zero-strategies.html"
    report = Path(info.value.path()).read_text(encoding="utf-8")
    assert html.escape(expected.comparison.summary()) in report
    assert all(f'id="figure-{key}"' in report for key, _, _, _ in FIGURES)
    assert app.secret not in report


def test_a_bad_source_is_named_and_the_others_still_analysed(page: Page, app: ServedApp, transcript: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.jsonl"
    broken.write_text("not json at all\n{}\n", encoding="utf-8")
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(app.url)
    expect(page.locator("#chat [data-testid='bot']")).to_have_count(1, timeout=TIMEOUT_MS)
    page.get_by_role("tab", name="Strategies").click()
    page.fill("#strategies-p4g textarea", str(tmp_path / "nowhere"))
    page.locator("#strategies-files input[type=file]").set_input_files([str(transcript), str(broken)])
    expect(page.locator("#strategies-files tbody tr")).to_have_count(2, timeout=TIMEOUT_MS)  # uploaded
    page.get_by_label("Include this page's chat").check()
    page.click("#strategies-run")
    messages = page.locator("#strategies-messages")
    expect(messages).to_contain_text("P4G: this server reads P4G files only under", timeout=TIMEOUT_MS)
    expect(messages).to_contain_text("broken.jsonl:1: not a JSON line")
    expect(page.locator("#strategies-sources")).to_contain_text("this chat")  # the page's own greeting
    # One greeting against one transcript: drawn, but too small to test.
    expect(page.locator("#strategies-test")).to_contain_text("no test: my-chat has 1 dialogue")


def test_p4g_paths_are_read_only_under_the_servers_data_folders(p4g_dir: Path, tmp_path: Path) -> None:
    assert allowed_path(str(p4g_dir / "300_dialog.csv"), [p4g_dir]) == (p4g_dir / "300_dialog.csv").resolve()
    for outside in ("/etc/passwd", str(p4g_dir / ".." / ".." / "secret.csv"), str(tmp_path)):
        with pytest.raises(SourceError, match="reads P4G files only under"):
            allowed_path(outside, [p4g_dir])
    with pytest.raises(SourceError, match="start it with gdp-zero ui --data-dir FOLDER"):
        allowed_path(str(p4g_dir), [])


def test_a_label_cannot_smuggle_a_path_from_outside_the_data_folders(p4g_dir: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.csv"
    secret.write_text("ssn,name\n123,Alice\n", encoding="utf-8")
    sources, problems = collect_sources(f"{p4g_dir}/x={secret}", [], None, DOMAIN, [p4g_dir])
    assert sources == [] and len(problems) == 1
    assert "reads P4G files only under" in problems[0] and "ssn" not in problems[0]
    sources, problems = collect_sources(f"corpus={p4g_dir}", [], None, DOMAIN, [p4g_dir])
    assert problems == [] and [s.label for s in sources] == ["corpus"]


def test_the_report_opens_offline_and_shows_every_figure(
    new_context: Any, p4g_dir: Path, transcript: Path, tmp_path: Path, screenshot_dir: Path
) -> None:
    analysis = analyse([load_sources(str(p4g_dir), DOMAIN)[0], load_sources(f"saved chat={transcript}", DOMAIN)[0]], DOMAIN,
                       compare="outcome")
    path = write_report(tmp_path / "report.html", analysis)
    context = new_context()
    context.set_offline(True)
    requested: list[str] = []
    context.on("request", lambda request: requested.append(request.url))
    page = context.new_page()
    page.goto(path.as_uri())
    for key, title, _, _ in FIGURES:
        figure = page.locator(f"#figure-{key}")
        expect(figure.locator(".main-svg").first).to_be_visible(timeout=TIMEOUT_MS)
        assert page.evaluate(f"() => document.getElementById('figure-{key}').data.length") > 0, title
    expect(page.locator("#chi-square")).to_contain_text("P4G humans, donors vs non-donors: Dialogue-level permutation test")
    expect(page.locator("#csv a")).to_have_count(len(analysis_tables(analysis)))  # every table, inside the file
    expect(page.locator("#unmapped")).to_contain_text("non-personal-Task-related-inquiry")
    assert [url for url in requested if not url.startswith("file:")] == []  # nothing from the network
    page.screenshot(path=str(screenshot_dir / "strategies-report.png"), full_page=True)
