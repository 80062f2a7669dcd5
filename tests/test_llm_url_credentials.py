"""A user name and password in the base URL, over HTTP to the fake server: with an API key the key
goes as Bearer and the URL's credentials are not sent (httpx sent them as Basic auth in its place,
and the error then blamed a key never sent); without a key they are Basic auth and the error says
so; every form a server may echo back (as written, decoded, base64 of Basic) is redacted."""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from gdp_zero.llm import LLMClient
from gdp_zero.llm.client import _redact
from gdp_zero.llm.errors import AuthenticationError, LLMError
from gdp_zero.llm.fake_server import FakeLLMServer
from gdp_zero.llm.prompt import Prompt

PROMPT = Prompt("You are a persuader.", "Say hello.", "Say hello.")
KEY = "sk-the-right-key"


@pytest.mark.parametrize("fake_server", [{"api_key": KEY}], indirect=True)
async def test_the_key_is_sent_not_the_urls_credentials(fake_server: FakeLLMServer, make_settings: Any) -> None:
    url = fake_server.base_url.replace("http://", "http://alice:p%40ss-9@")
    async with LLMClient(make_settings(url, api_key=KEY)) as client:
        texts = await client.generate("policy", PROMPT, temperature=1.0)
    assert texts and texts[0]  # the server, which wants the Bearer key, answered


@pytest.mark.parametrize("fake_server", [{"api_key": KEY}], indirect=True)
async def test_without_a_key_the_urls_credentials_are_basic_auth_and_the_error_says_so(
    fake_server: FakeLLMServer, make_settings: Any
) -> None:
    url = fake_server.base_url.replace("http://", "http://alice:p%40ss-9@")
    async with LLMClient(make_settings(url, api_key=None)) as client:
        with pytest.raises(AuthenticationError) as refused:
            await client.generate("policy", PROMPT, temperature=1.0)
    message = str(refused.value)
    assert "rejected the user name and password in the base URL (401)" in message and "Basic auth" in message
    assert "API key (" not in message and "p%40ss" not in message and "p@ss" not in message


def test_every_form_of_the_url_password_is_redacted(make_settings: Any) -> None:
    url = "http://alice:p%40ss-9@127.0.0.1:9/v1"
    ep = make_settings(url, api_key="sk-k").for_role("policy")
    basic = base64.b64encode(b"alice:p@ss-9").decode()
    echoed = f"got Authorization: Basic {basic}; password p@ss-9, or p%40ss-9"
    shown = _redact(echoed, ep)
    assert basic not in shown and "p@ss-9" not in shown and "p%40ss-9" not in shown, shown


class Echoing(BaseHTTPRequestHandler):
    """An endpoint that answers 400 quoting the Authorization header it got, and its decoded password."""

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        sent = self.headers.get("Authorization", "")
        decoded = base64.b64decode(sent.removeprefix("Basic ")).decode() if sent.startswith("Basic ") else ""
        body = json.dumps({"error": {"message": f"bad request from Authorization: {sent} ({decoded})"}}).encode()
        self.send_response(400)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        """Quiet."""


async def test_an_error_body_that_echoes_the_credentials_reaches_the_person_redacted(make_settings: Any) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Echoing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://alice:p%40ss-9@127.0.0.1:{server.server_port}/v1"
        async with LLMClient(make_settings(url, api_key=None)) as client:
            with pytest.raises(LLMError) as refused:
                await client.generate("policy", PROMPT, temperature=1.0)
    finally:
        server.shutdown()
    shown = str(refused.value)  # what the web app's error box and the terminal show
    assert "bad request from Authorization" in shown, shown  # the server's own words are kept...
    basic = base64.b64encode(b"alice:p@ss-9").decode()
    assert basic not in shown and "p@ss-9" not in shown and "p%40ss-9" not in shown, shown  # ...its credentials not
