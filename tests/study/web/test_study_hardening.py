"""`gdp-zero study serve` under abuse, over HTTP: routes no page uses, oversized and half-sent
bodies, password guesses, and the files it hands out (who may fetch an export, where Gradio's
copies live, what SIGTERM and a SIGKILL leave behind).
"""

from __future__ import annotations

import glob
import json
import os
import signal
import stat
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.study.web.study_web import (
    ADMIN_PASSWORD,
    REPO,
    STUDY_FILE,
    ApiParticipant,
    GradioCall,
    StudyServer,
)
from tests.study.web.test_access import login, status_of
from tests.study.web.test_admin_browser import log_in
from gdp_zero.serving.heads import HEAD_TIMEOUT_S
from gdp_zero.study import crud
from gdp_zero.study.db import open_database
from tests.test_serving_http import head_cut_off, raw

TMP = Path(os.environ.get("TMPDIR", "/tmp"))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StudyServer]:
    folder = tmp_path_factory.mktemp("hardened")
    server = StudyServer(db_url=f"sqlite:///{folder / 'study.db'}", log=folder / "server.log").start()
    yield server
    server.stop()


def folders_of(server: StudyServer, purpose: str) -> list[Path]:
    assert server.process is not None
    return [Path(p) for p in glob.glob(str(TMP / f"gdp-zero-{purpose}-{server.process.pid}-*"))]


def test_routes_no_page_uses_answer_404_and_the_flow_still_works(server: StudyServer) -> None:
    for path in ("openapi.json", "gradio_api/openapi.json", "docs", "gradio_api/call/false",
                 "gradio_api/call/nonexistent", "preview/gradio_api/call/nonexistent"):
        assert status_of(server.url + path) == 404, path
    assert status_of(server.url + "gradio_api/call/false", json.dumps({"data": [None, "hi"]}).encode()) == 404
    participant = ApiParticipant(GradioCall(server.url), "HARDENED000000000000000A")
    participant.step("enter")
    participant.step("consent")
    assert participant.phase == "pre_survey"  # the named events a benchmark drives still answer
    participant.step("pre_survey", 3)
    for wrong in (123, ["a", "list"]):  # not text: the page's hint, and nothing stored (not its str())
        participant.step("send", wrong)
        assert participant.phase == "chat" and "A message must be text, not" in participant.text()
        assert str(wrong) not in participant.text()
    participant.step("send", "Hello there")
    assert participant.phase == "rating" and "Hello there" in participant.text()


def test_a_large_body_is_refused_at_once_and_a_half_sent_one_times_out(server: StudyServer) -> None:
    base = server.url.rstrip("/")
    started = time.monotonic()
    answer = raw(base, "/gradio_api/queue/join", f"Content-Length: {50 << 20}", b"{" * 1000)
    assert answer.startswith("HTTP/1.1 413") and time.monotonic() - started < 5
    started = time.monotonic()
    answer = raw(base, "/gradio_api/queue/join", "Content-Length: 500", b'{"data": [')
    waited = time.monotonic() - started
    assert answer.startswith("HTTP/1.1 408") and 5 < waited < 30, (answer, waited)
    assert raw(base, "/gradio_api/upload", "Content-Length: 10", b"0123456789").startswith("HTTP/1.1 404")  # no page takes a file
    # Half a head (slowloris): closed once HEAD_TIMEOUT_S have passed (uvicorn alone waited for ever).
    waited = head_cut_off(base, b"GET /?PROLIFIC_PID=x HTTP/1.1\r\nHost: x\r\nX-Slow: ", dribble=True,
                          wait_s=HEAD_TIMEOUT_S + 10)
    assert HEAD_TIMEOUT_S - 1 < waited < HEAD_TIMEOUT_S + 5, waited


def test_exports_reach_only_a_logged_in_researcher_and_leave_nothing_behind(tmp_path: Path, ui_browser: Browser) -> None:
    first = StudyServer(db_url=f"sqlite:///{tmp_path / 'study.db'}", log=tmp_path / "first.log").start()
    context = ui_browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    log_in(page, first.url + "admin/")
    page.get_by_role("tab", name="Export").click()
    page.click("#admin-export")
    links = page.locator("#admin-export-files a[download]")
    expect(links).to_have_count(9)
    href = next(h for h in links.evaluate_all("links => links.map(a => a.href)") if h.endswith("participants.csv"))
    assert page.request.get(href).status == 200  # the researcher, logged in
    context.close()

    served = urllib.parse.unquote(href.split("file=", 1)[1])
    cache = folders_of(first, "gradio")
    assert len(cache) == 1 and served.startswith(str(cache[0]) + "/")  # Gradio's copy is in the server's own folder
    assert stat.S_IMODE(cache[0].stat().st_mode) == 0o700
    file_path = href.split(first.url, 1)[1]
    assert status_of(href) == 401  # no login cookie
    assert status_of(first.url + file_path.replace("admin/", "", 1)) == 404  # the participant app serves no file
    assert status_of(first.url + file_path.replace("admin/", "preview/", 1)) == 404

    # Another process on the same database (a deployment's second server) serves none of this one's files,
    # to its own logged-in researcher neither; and it leaves a live server's folders alone.
    other = StudyServer(db_url=first.db_url, log=tmp_path / "other.log").start()
    try:
        context = ui_browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        log_in(page, other.url + "admin/")
        assert page.request.get(other.url + file_path).status in (403, 404)
        assert status_of(other.url + file_path) == 401
        context.close()
        assert Path(served).exists()
    finally:
        other.stop()

    # SIGKILL: nothing cleans up, but the next server removes what a dead one left.
    exports = folders_of(first, "study-export")
    assert exports and all(folder.exists() for folder in exports + cache)
    first.kill()
    assert Path(served).exists()
    second = StudyServer(db_url=first.db_url, log=tmp_path / "second.log").start()
    assert not Path(served).exists() and not any(folder.exists() for folder in exports + cache)
    mine = folders_of(second, "gradio") + folders_of(second, "study-export")
    assert len(mine) == 2

    # SIGTERM (systemd, docker stop) cleans up as Ctrl-C does.
    assert second.process is not None
    second.process.send_signal(signal.SIGTERM)
    assert second.process.wait(timeout=30) != -signal.SIGTERM  # it ran its clean-up, not the default action
    assert not any(folder.exists() for folder in mine), second.output()


def test_an_id_not_of_the_platforms_form_gets_the_wrong_id_page_and_no_participation(
        tmp_path: Path, ui_browser: Browser) -> None:
    study_file = tmp_path / "prolific_ids.toml"
    text = STUDY_FILE.read_text()
    assert text.count('participant_param = "PROLIFIC_PID"\n') == 1
    study_file.write_text(text.replace('participant_param = "PROLIFIC_PID"\n',
                                       'participant_param = "PROLIFIC_PID"\nid_pattern = "prolific"\n'))
    server = StudyServer(db_url=f"sqlite:///{tmp_path / 'study.db'}", log=tmp_path / "server.log",
                         study_file=study_file).start()
    try:
        for bad in ("participant-1", "5f1e" * 6 + "0", "5f1e" * 5 + "5f1g", "5f1e" * 5):  # a name; 25, 24 with a g, 20 digits
            assert status_of(server.participant_url(PROLIFIC_PID=bad)) == 200  # the page, which then enters
            participant = ApiParticipant(GradioCall(server.url), bad)
            participant.step("enter")
            assert "The participant id in this link is not valid" in participant.text() and participant.token is None
        context = ui_browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.goto(server.participant_url(PROLIFIC_PID="participant-1", STUDY_ID="s", SESSION_ID="x"))
        expect(page.get_by_text("The participant id in this link is not valid")).to_be_visible(timeout=30_000)
        expect(page.get_by_role("button", name="I have read the above and agree to take part")).to_have_count(0)
        context.close()
        assert participations(server) == []  # nothing was started, so nothing holds a slot

        good = ApiParticipant(GradioCall(server.url), "5f1e" * 6)  # 24 hexadecimal digits: Prolific's form
        good.step("enter")
        assert good.phase == "consent" and participations(server) == ["5f1e" * 6]
    finally:
        server.stop()


def participations(server: StudyServer) -> list[str]:
    """The participant ids of the study's participations, from the database."""
    database = open_database(server.db_url)
    try:
        with database.transaction() as session:
            return [p.participant_id for p in crud.participations(session, crud.study_row(session).id)]
    finally:
        database.dispose()


def test_password_guesses_are_limited(server: StudyServer) -> None:
    """Last in the module: it leaves 127.0.0.1 locked out of the researcher pages for a while."""
    base = server.url + "admin/"
    assert [login(base, f"guess {n}")[0] for n in range(5)] == [400] * 5
    status, cookie = login(base, ADMIN_PASSWORD)
    assert status == 429 and not cookie  # the right password too, once the address is over its limit
    assert login(server.url + "preview/", ADMIN_PASSWORD)[0] == 429  # the preview's form is the same door


def test_serve_refuses_researcher_pages_without_a_password_unless_local_only(tmp_path: Path) -> None:
    def serve(*flags: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONPATH": str(REPO)}
        env.pop("GDP_ZERO_ADMIN_PASSWORD", None)
        return subprocess.run(
            [sys.executable, "-m", "gdp_zero.cli", "study", "serve", str(STUDY_FILE), "--db", f"sqlite:///{tmp_path / 's.db'}",
             "--host", "127.0.0.1", "--port", "9", "--llm", "fake", "--allow-demo", *flags],
            capture_output=True, text=True, env=env, timeout=120, check=False,
        )

    for flags, said in (((), "or pass --local-only"),
                        (("--admin-password", "short one"), "the admin password has 9 characters; use at least 12"),
                        (("--local-only", "--trusted-proxy", "127.0.0.1"), "choose one"),
                        (("--trusted-proxy", "nginx"), "trusted proxy 'nginx' is not an IP address")):
        done = serve(*flags)
        assert done.returncode == 2 and said in done.stderr, (flags, done.stderr)
    assert not (tmp_path / "s.db").exists()  # refused before anything was opened


def test_made_up_ids_from_one_address_cannot_fill_a_study(tmp_path: Path) -> None:
    server = StudyServer(db_url=f"sqlite:///{tmp_path / 'study.db'}", log=tmp_path / "server.log",
                         participations_per_hour=3, trusted_proxies=("127.0.0.1",)).start()
    try:
        flood = GradioCall(server.url, client="203.0.113.66")
        started = []
        for n in range(3):
            fake = ApiParticipant(flood, f"MADEUP{n:018d}")
            fake.step("enter")
            assert fake.phase == "consent"
            started.append(fake)
        fourth = ApiParticipant(flood, "MADEUP000000000000000003")
        fourth.step("enter")
        assert fourth.token is None and "Too many new participations from your address (3 an hour)" in fourth.text()
        started[0].step("enter")  # a participant back in their own browser (its token) is not a new one
        assert started[0].phase == "consent"
        real = ApiParticipant(GradioCall(server.url, client="198.51.100.5"), "5f1e0000aaaa1111bbbb2222")
        real.step("enter")
        assert real.phase == "consent"  # another address is not held up
    finally:
        server.stop()
