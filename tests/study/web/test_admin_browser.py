"""The admin dashboard and the researcher preview in chromium, on a study with known participations.

Two participants complete over the HTTP API (balanced assignment puts one in each condition), a
third drops out after consent; the researcher logs in, walks the preview (which must not count),
reads the counts, opens the GDP-Zero participant's transcript with its acts and a turn's tree.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from gdp_zero.study import crud
from gdp_zero.study.db import open_database
from tests.study.web.study_web import ADMIN_PASSWORD, ApiParticipant, GradioCall, StudyServer

TIMEOUT_MS = 30_000


def log_in(page: Page, url: str) -> None:
    page.goto(url)
    page.get_by_label("username").fill("researcher")
    page.get_by_label("password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Login").click()


def table_rows(page: Page, elem_id: str) -> list[list[str]]:
    """A Gradio table's cells as shown, the header row first."""
    return page.evaluate(
        f"""() => [...document.querySelectorAll('#{elem_id} [role=row]')]
              .map(r => [...r.querySelectorAll('[role=columnheader], [role=gridcell]')].map(c => c.innerText.trim()))"""
    )


def test_dashboard_counts_transcripts_and_an_uncounted_preview(study_server: StudyServer, ui_browser: Browser,
                                                               screenshot_dir: Path) -> None:
    call = GradioCall(study_server.url)
    done = [ApiParticipant(call, f"ADM{uuid.uuid4().hex[:10]}") for _ in range(2)]
    for participant in done:
        participant.complete(["Hello.", "Tell me more.", "Fine."], [4, 3, 5, 2])
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
    expect(page.locator("#rating-panel")).to_be_visible()

    log_in(page, study_server.url + "admin/")
    expect(page.locator("#admin-updated")).to_contain_text("Updated", timeout=TIMEOUT_MS)  # read from the database
    header, *body = table_rows(page, "admin-counts")
    rows = {row[0]: row for row in body}
    column = {name: header.index(name) for name in ("started", "completed", "in progress", "dropped")}
    for name in ("gdpzero", "prompting"):  # one completed each; the preview is not among them
        assert rows[name][column["started"]] == "1" and rows[name][column["completed"]] == "1", rows
    assert rows["(not assigned yet)"][column["in progress"]] == "1", rows
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
    context.close()
