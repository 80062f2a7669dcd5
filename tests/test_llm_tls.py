"""An HTTPS endpoint: a certificate from the user's own CA works through SSL_CERT_FILE, an
untrusted one stops at once with a line that says what to set.

The client runs in a fresh process, as `gdp-zero` would, because the certificate store is read
once per process (gdp_zero.llm.client._tls_context).
"""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest
import trustme

from gdp_zero.llm.fake_server import FakeLLMServer

CLIENT = """
import asyncio, json, sys
from gdp_zero.llm import EndpointSettings, LLMClient, LLMError, LLMSettings, Prompt

async def main():
    settings = LLMSettings(default=EndpointSettings(model="fake-model", base_url=sys.argv[1], api_key="sk-test"),
                           max_retries=3, backoff_base_s=0.01, backoff_max_s=0.02)
    async with LLMClient(settings) as client:
        try:
            texts = await client.generate("policy", Prompt("You persuade.", "Say hi.", "Say hi."), n=1, temperature=0.0)
        except LLMError as error:
            usage = client.ledger.total()
            return {"error": type(error).__name__, "message": str(error), "calls": usage.calls, "retries": usage.retries}
        return {"texts": texts}

print(json.dumps(asyncio.run(main())))
"""


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def https_server(ca: trustme.CA) -> Iterator[FakeLLMServer]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    server = FakeLLMServer(tls=context).start()
    yield server
    server.stop()


def run_client(base_url: str, ca_file: Path | None) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("SSL_CERT_FILE", "SSL_CERT_DIR")}
    if ca_file is not None:
        env["SSL_CERT_FILE"] = str(ca_file)
    done = subprocess.run([sys.executable, "-c", CLIENT, base_url], env=env, capture_output=True, text=True,
                          timeout=120, cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_a_private_ca_is_trusted_through_ssl_cert_file(https_server: FakeLLMServer, ca: trustme.CA,
                                                       tmp_path: Path) -> None:
    assert https_server.base_url.startswith("https://")
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    result = run_client(https_server.base_url, ca_file)
    assert result.get("texts") and result["texts"][0].strip(), result


def test_an_untrusted_certificate_fails_at_once_and_says_what_to_set(https_server: FakeLLMServer) -> None:
    result = run_client(https_server.base_url, None)
    assert result["error"] == "UntrustedCertificateError"
    assert https_server.base_url in result["message"] and "SSL_CERT_FILE" in result["message"]
    assert "certificate" in result["message"] and "sk-test" not in result["message"]
    assert (result["calls"], result["retries"]) == (1, 0)  # no retry: it cannot get better by itself
