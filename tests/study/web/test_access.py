"""Who can reach what on `gdp-zero study serve`: the admin password, and one participant's data from another.

- The admin dashboard and the preview answer nothing (page config, API, events) without the password.
- A participant cannot read another's transcript by putting the other's id in the URL (in chromium)
  or in an API call, nor by calling the flow's events with a made-up token.
- The participant app carries nothing of the researcher's: no condition name in its config, no API page.
- Without a password the server refuses to put the admin pages on a non-loopback address.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
import uuid
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from tests.study.web.study_web import ADMIN_PASSWORD, REPO, STUDY_FILE, ApiParticipant, GradioCall, StudyServer
from ui.study.server import check_admin_exposure, is_loopback

TIMEOUT_MS = 30_000
CONDITION_NAMES = ("gdpzero", "prompting")


def status_of(url: str, data: bytes | None = None, headers: dict[str, str] | None = None) -> int:
    request = urllib.request.Request(url, data, {"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def login(base: str, password: str) -> tuple[int, str]:
    """Gradio's login form; (status, the Cookie header to send afterwards)."""
    body = f"username=researcher&password={urllib.parse.quote(password)}".encode()
    request = urllib.request.Request(base + "login", body, {"Content-Type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            cookies = [value.split(";")[0] for key, value in response.headers.items() if key.lower() == "set-cookie"]
            return response.status, "; ".join(cookies)
    except urllib.error.HTTPError as error:
        return error.code, ""


def test_admin_pages_refuse_access_without_the_password(study_server: StudyServer, ui_browser: Browser) -> None:
    for path in ("admin/", "preview/"):
        base = study_server.url + path
        assert status_of(base + "config") == 401
        assert status_of(base + "gradio_api/info") == 401
        assert status_of(base + "gradio_api/queue/join", json.dumps({"data": [], "fn_index": 0, "session_hash": "x"}).encode()) == 401
        assert login(base, "wrong password")[0] == 400
        status, cookie = login(base, ADMIN_PASSWORD)
        assert status == 200 and cookie
        assert status_of(base + "config", headers={"Cookie": cookie}) == 200

    # In the browser: the login form, a refusal, then the dashboard.
    page = ui_browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(study_server.url + "admin/")
    expect(page.locator("#admin-counts")).to_have_count(0)
    page.get_by_label("username").fill("researcher")
    page.get_by_label("password").fill("not it")
    page.get_by_role("button", name="Login").click()
    expect(page.get_by_text("Incorrect credentials")).to_be_visible()
    page.get_by_label("username").fill("researcher")
    page.get_by_label("password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Login").click()
    expect(page.locator("#admin-counts")).to_contain_text("gdpzero", timeout=TIMEOUT_MS)
    page.context.close()


def test_without_a_password_the_researcher_pages_answer_this_machine_only(tmp_path: Any) -> None:
    """On loopback with no password (--local-only) the dashboard is the researcher's own; through a proxy it is refused."""
    server = StudyServer(db_url=f"sqlite:///{tmp_path / 's.db'}", log=tmp_path / "server.log", password=None).start()
    try:
        proxied = {"X-Forwarded-For": "203.0.113.7"}
        assert "NO PASSWORD (--local-only)" in server.output()  # said loudly at start
        for path in ("admin/", "preview/"):
            assert status_of(server.url + path + "config") == 200
            assert status_of(server.url + path + "config", headers=proxied) == 403
            assert status_of(server.url + path + "config", headers={"Forwarded": "for=203.0.113.7"}) == 403
            assert status_of(server.url + path + "config", headers={"X-Real-IP": "203.0.113.7"}) == 403
        assert status_of(server.url + "config", headers=proxied) == 200  # participants may come through a proxy
    finally:
        server.stop()


def test_another_participants_transcript_is_unreachable(study_server: StudyServer, ui_browser: Browser) -> None:
    call = GradioCall(study_server.url)
    victim_id = f"VICTIM{uuid.uuid4().hex[:10]}"
    secret = f"my secret reply {uuid.uuid4().hex[:8]}"
    victim = ApiParticipant(call, victim_id)
    victim.step("enter")
    victim.step("consent")
    victim.step("pre_survey", 3)  # the shipped study does not rate the greeting
    victim.step("send", secret)
    assert secret in victim.text()  # the victim sees their own message
    assert victim.token

    # By URL: the victim's id in another browser shows a refusal, never the chat.
    page = ui_browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(study_server.participant_url(PROLIFIC_PID=victim_id))
    expect(page.locator("#closed-page")).to_be_visible()
    expect(page.locator("#closed-message")).to_contain_text("in progress in another browser")
    expect(page.locator("#chat-page")).to_be_hidden()
    assert secret not in page.content()
    page.context.close()

    # By API: entering with the victim's id and no token, or with another participant's token.
    intruder = ApiParticipant(call, victim_id)
    intruder.step("enter")
    assert intruder.phase == "refused" and intruder.token is None
    assert secret not in intruder.text()
    other = ApiParticipant(call, f"OTHER{uuid.uuid4().hex[:10]}")
    other.step("enter")
    assert other.token and other.token != victim.token
    other.params = {"PROLIFIC_PID": victim_id}
    other.step("enter")  # the other's own token, the victim's id: a refusal, not the victim's chat
    assert secret not in other.text() and other.phase == "refused"

    # Every event with a made-up token (or none) answers with a refusal and nothing of anyone's chat.
    for token in ("", "forged-token", victim.token[:-2] + "xx"):
        forger = ApiParticipant(call, None)
        forger.token = token
        for api_name, data in (("send", ("hello",)), ("retry", ()), ("finish", ()), ("rate", (3,)), ("consent", ()),
                               ("pre_survey", (3,))):
            forger.step(api_name, *data)
            returned = forger.text()
            assert secret not in returned, (api_name, token)
            assert not any(isinstance(value, list) and value for value in forger.last), (api_name, returned[:300])  # no chat
            assert "valid" in returned or "session" in returned, (api_name, returned[:300])

    # The victim still has their chat.
    victim.step("enter")
    assert secret in victim.text()


def test_the_participant_app_holds_nothing_of_the_researchers(study_server: StudyServer) -> None:
    with urllib.request.urlopen(study_server.url + "config", timeout=20) as response:
        config = response.read().decode()
    for name in CONDITION_NAMES:  # the conditions' names (and planners) never reach a participant's browser
        assert name not in config.lower()
    assert "admin-counts" not in config and "admin-transcript" not in config
    with urllib.request.urlopen(study_server.url + "gradio_api/info", timeout=20) as response:
        info = json.load(response)
    assert info["named_endpoints"] == {} and info["unnamed_endpoints"] == {}  # no API page to read
    assert status_of(study_server.url + "docs") == 404


def test_loopback_detection_and_the_password_rule() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1") and is_loopback("127.0.0.2")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.10") and not is_loopback("::")
    check_admin_exposure("127.0.0.1", None, local_only=True)
    check_admin_exposure("0.0.0.0", "a password of some length")
    with pytest.raises(ValueError, match="GDP_ZERO_ADMIN_PASSWORD"):
        check_admin_exposure("0.0.0.0", None)
    with pytest.raises(ValueError, match="GDP_ZERO_ADMIN_PASSWORD"):
        check_admin_exposure("0.0.0.0", None, local_only=True)
    # On loopback too: a proxy on this machine that passes no header (or only X-Real-IP) would hand the
    # pages to anyone, so no password is the operator's explicit choice.
    with pytest.raises(ValueError, match="or pass --local-only"):
        check_admin_exposure("127.0.0.1", None)
    with pytest.raises(ValueError, match="the admin password has 8 characters; use at least 12"):
        check_admin_exposure("127.0.0.1", "hunter22")


def test_serve_refuses_a_public_host_without_a_password(tmp_path: Any) -> None:
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONPATH": str(REPO)}
    env.pop("GDP_ZERO_ADMIN_PASSWORD", None)
    result = subprocess.run(
        [sys.executable, "-m", "gdp_zero.cli", "study", "serve", str(STUDY_FILE), "--db", f"sqlite:///{tmp_path / 's.db'}",
         "--host", "0.0.0.0", "--port", "9", "--llm", "fake", "--allow-demo"],
        capture_output=True, text=True, env=env, timeout=60,
    )
    assert result.returncode == 2
    assert "admin pages reachable from other machines" in result.stderr
    assert not (tmp_path / "s.db").exists()  # refused before anything was opened
