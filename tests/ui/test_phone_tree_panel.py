"""The tree panel on a phone (390x844): the root-acts table's columns all within the screen's width."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page

from tests.ui.conftest import ServedApp
from tests.ui.test_ui_browser import open_app, send, shot


def test_the_root_acts_table_fits_a_phone_screen(page: Page, app: ServedApp, screenshot_dir: Path) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    open_app(page, app)
    send(page, "Hi, what is this about?")
    table = page.locator("#root-table")
    table.scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    headers = page.evaluate(
        """() => [...document.querySelectorAll('#root-table thead th')].map(th => {
               const box = th.getBoundingClientRect();
               return [th.innerText.trim(), box.left, box.right]; })"""
    )
    assert [h[0] for h in headers][:5] == ["act", "P", "N", "Q", "chosen"], headers
    off_screen = [h for h in headers if h[1] < 0 or h[2] > 390]
    shot(page, screenshot_dir, "root-table-390x844.png")
    assert off_screen == [], f"columns beyond the phone's 390 px: {off_screen}"
    # A number broken over two lines ("0.12 / 5") reads as two numbers: P, N and Q each keep one line.
    broken = page.evaluate(
        """() => [...document.querySelectorAll('#root-table tbody tr')].flatMap(row =>
               [...row.querySelectorAll('td')].slice(1, 4).map(td => {
                   const range = document.createRange(); range.selectNodeContents(td);
                   const lines = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
                   return [td.innerText.trim(), lines.size]; }))
               .filter(([text, lines]) => text && lines > 1)"""
    )
    assert broken == [], f"numbers broken over lines: {broken}"
