"""The admin dashboard and the researcher preview in chromium, on a study with known participations.

Four participants complete over the HTTP API (balanced assignment puts two in each condition), a
fifth stops before consent; the researcher logs in, walks the preview (which must not count),
reads the counts, opens a GDP-Zero participant's transcript with its acts and a turn's tree, reads
the tests (checked against scipy on the stored answers) and downloads the exports.
"""

from __future__ import annotations

import io
import uuid
from pathlib import Path

import pandas as pd
import pytest
from playwright.sync_api import Browser, Page, expect
from scipy import stats

from gdp_zero.study import crud
from gdp_zero.study.db import open_database
from gdp_zero.study.export import PARTICIPANT_COLUMNS
from tests.study.web.study_web import ADMIN_PASSWORD, ApiParticipant, GradioCall, StudyServer, publish_screenshot

TIMEOUT_MS = 30_000


def log_in(page: Page, url: str) -> None:
    page.goto(url)
    page.get_by_label("username").fill("researcher")
    page.get_by_label("password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Login").click()
    expect(page.get_by_label("password")).to_have_count(0)  # logged in (the admin or preview page): the cookie is set


def table_rows(page: Page, elem_id: str) -> list[list[str]]:
    """A Gradio table's cells as shown, the header row first."""
    return page.evaluate(
        f"""() => [...document.querySelectorAll('#{elem_id} [role=row]')]
              .map(r => [...r.querySelectorAll('[role=columnheader], [role=gridcell]')].map(c => c.innerText.trim()))"""
    )


def test_dashboard_counts_transcripts_and_an_uncounted_preview(study_server: StudyServer, ui_browser: Browser,
                                                               screenshot_dir: Path) -> None:
    call = GradioCall(study_server.url)
    persuasive = [5, 2, 4, 1]  # the post-survey's first answer, one per participant
    for answer in persuasive:  # balanced assignment: two participants in each condition
        ApiParticipant(call, f"ADM{uuid.uuid4().hex[:10]}").complete(
            ["Hello.", "Tell me more.", "Fine."], [4, 3, 5, 2], post=(answer, 3, "Strongly disagree", 4, 4, "0.5", ""))
    ApiParticipant(call, f"ADM{uuid.uuid4().hex[:10]}").step("enter")  # entered, never consented: no condition

    context = ui_browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)

    # The preview: the whole flow's start, marked, in a condition the researcher picks.
    log_in(page, study_server.url + "preview/?condition=gdpzero")
    expect(page.locator("#preview-banner")).to_be_visible()
    page.click("#consent-agree")
    page.locator("#pre-donation_intention label").nth(2).click()
    page.click("#pre-submit")
    expect(page.locator("#study-chat [data-testid='bot']")).to_have_count(1)
    expect(page.locator("#message-row")).to_be_visible()  # the shipped study does not rate the greeting

    log_in(page, study_server.url + "admin/")
    expect(page.locator("#admin-updated")).to_contain_text("Updated", timeout=TIMEOUT_MS)  # read from the database
    header, *body = table_rows(page, "admin-counts")
    rows = {row[0]: row for row in body}
    assert rows["gdpzero"][header.index("model")] == "fake-model"  # the model each condition runs on
    column = {name: header.index(name) for name in ("started", "completed", "active", "dropped")}
    for name in ("gdpzero", "prompting"):  # two completed each; the preview is not among them
        assert rows[name][column["started"]] == "2" and rows[name][column["completed"]] == "2", rows
    assert rows["(unassigned)"][column["active"]] == "1", rows
    # Neither the preview's open chat nor the unassigned start holds a quota slot.
    expect(page.locator("#admin-unstarted")).to_contain_text("0 slots held by unfinished starts")
    page.screenshot(path=str(screenshot_dir / "study-admin-overview.png"), full_page=True)

    # The transcript browser: the GDP-Zero participant's chat with acts, and a turn's tree.
    database = open_database(study_server.db_url)
    try:
        with database.transaction() as session:
            study_id = crud.study_row(session).id
            gdpzero = next(p for p in crud.participations(session, study_id)
                           if p.condition is not None and p.condition.name == "gdpzero" and p.status == "completed")
            number, participant = gdpzero.id, gdpzero.participant_id
            bots = sum(m.speaker == "system" for m in crud.messages_of(session, number))
            users = sum(m.speaker == "user" for m in crud.messages_of(session, number))
    finally:
        database.dispose()
    page.get_by_role("tab", name="Transcripts").click()
    page.click("#admin-participation input")
    page.locator("#admin-participation [role=option]").filter(has_text=participant).click()
    info = page.locator("#admin-participation-info")
    expect(info).to_contain_text(participant)
    expect(info).to_contain_text("gdpzero")
    transcript = page.locator("#admin-transcript")
    expect(transcript.locator("[data-testid='bot']")).to_have_count(bots)
    expect(transcript.locator("[data-testid='bot'] .act-tag")).to_have_count(bots)
    expect(transcript.locator("[data-testid='user'] .act-tag")).to_have_count(users)
    page.wait_for_function("() => document.querySelector('#admin-tree .js-plotly-plot')?.data?.length > 0")
    expect(page.locator("#admin-root-table")).to_contain_text("✓")  # the chosen act
    assert page.locator("#admin-turn input").input_value().startswith(f"turn {bots} ·")
    page.screenshot(path=str(screenshot_dir / "study-admin-transcript.png"), full_page=True)
    assert f"#{number} ·" in page.locator("#admin-participation input").input_value()

    # Results: Welch's t on the post-survey's "persuasive" agrees with scipy on the answers given.
    page.get_by_role("tab", name="Results").click()
    expect(page.locator("#results-note")).to_contain_text("Population: completers")
    expect(page.locator("#results-note")).to_contain_text("4 participants (gdpzero 2, prompting 2)")
    expect(page.locator("#results-note")).to_contain_text("bot messages from number 1 on")
    expect(page.locator("#admin-tests")).to_contain_text("completers, 4 participants")  # the table's label
    header, *body = table_rows(page, "admin-tests")
    row = next(r for r in body if r[header.index("source")] == "post" and r[header.index("item")] == "persuasive")
    by_condition = stored_answers(study_server, "persuasive")
    expected = stats.ttest_ind(by_condition["gdpzero"], by_condition["prompting"], equal_var=False).pvalue
    assert float(row[header.index("welch_p")]) == pytest.approx(expected, abs=1e-3)
    assert any(r[header.index("source")] == "change" for r in body)  # the pre -> post change of donation intention
    page.wait_for_function("() => document.querySelector('#admin-curves .js-plotly-plot')?.data?.length == 2")
    page.screenshot(path=str(screenshot_dir / "study-admin-results.png"), full_page=True)
    publish_screenshot(screenshot_dir / "study-admin-results.png", "study-admin.png")
    # The switch to everyone assigned a condition: labelled as such on the note and the tables.
    page.click("#admin-everyone input")
    expect(page.locator("#results-note")).to_contain_text("Population: everyone")
    expect(page.locator("#admin-means")).to_contain_text("everyone, 4 participants")

    # Exports: pseudonymous ids by default, the documented columns.
    page.get_by_role("tab", name="Export").click()
    page.click("#admin-export")
    links = page.locator("#admin-export-files a[download]")
    expect(links).to_have_count(9)
    href = next(h for h in links.evaluate_all("links => links.map(a => a.href)") if h.endswith("participants.csv"))
    csv = page.request.get(href).text()
    table = pd.read_csv(io.StringIO(csv))
    assert list(table.columns[: len(PARTICIPANT_COLUMNS)]) == list(PARTICIPANT_COLUMNS)
    assert len(table) == 5 and participant not in csv and "ADM" not in csv
    context.close()


def stored_answers(server: StudyServer, item: str) -> dict[str, list[float]]:
    """A post-survey item's answers per condition, read from the database."""
    database = open_database(server.db_url)
    try:
        with database.transaction() as session:
            study_id = crud.study_row(session).id
            found: dict[str, list[float]] = {}
            for p in crud.participations(session, study_id):
                for answer in crud.answers_of(session, p.id):
                    if answer.survey == "post" and answer.item == item:
                        found.setdefault(p.condition.name, []).append(answer.number)
            return found
    finally:
        database.dispose()
