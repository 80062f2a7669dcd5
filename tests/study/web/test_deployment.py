"""The shipped deployment recipe for real: Debian's nginx in front of two `study serve` processes on PostgreSQL.

deploy/study/serve_behind_nginx.sh starts everything; 20 participants, each with its own cookie
jar as a browser has, walk the whole study through nginx on loopback at once. Then: both processes
served participants, each browser stayed on one process, assignment is balanced 10/10, and every
message, rating and answer is stored exactly once. And the per-address limits count each client
behind nginx, not nginx: participants come from 127.0.0.2 and 127.0.0.3 (all of 127.0.0.0/8 is
this machine), one with a forged X-Forwarded-For.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest
from sqlalchemy.engine import make_url

from gdp_zero.llm.fake_server import FakeLLMServer
from gdp_zero.study import crud
from gdp_zero.study.db import open_database
from tests.study.conftest import SMALL_STUDY_FILE, fresh_database
from tests.study.web.study_web import ADMIN_PASSWORD, REPO, ApiParticipant, GradioCall

SCRIPT = REPO / "deploy" / "study" / "serve_behind_nginx.sh"
PARTICIPANTS = 20
MESSAGES = ("what does the charity do?", "how is the money spent?")
POST = (4, 1, 4, "0.5")  # the small study's post-survey: persuasive, the attention check, donation intention, amount
START_TIMEOUT_S = 600  # two servers starting on a busy 2-core machine take minutes


def nginx_installed() -> None:
    if shutil.which("nginx") or Path("/usr/sbin/nginx").exists():
        return
    message = "nginx is not installed (apt-get install nginx-light; .ci/run installs it)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


def free_ports(count: int) -> int:
    """The first of `count` consecutive free loopback ports."""
    for _ in range(200):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            first = probe.getsockname()[1]
        if first + count >= 65535:
            continue
        try:
            held = []
            for port in range(first, first + count):
                sock = socket.socket()
                held.append(sock)
                sock.bind(("127.0.0.1", port))
            return first
        except OSError:
            continue
        finally:
            for sock in held:
                sock.close()
    raise RuntimeError(f"no {count} consecutive free ports")


def wait_until_served(url: str, deployment: subprocess.Popen[str], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if deployment.poll() is not None:
            raise AssertionError(f"the deployment script exited with {deployment.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url + "config", timeout=2):
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.5)
    raise AssertionError(f"nginx did not answer in {START_TIMEOUT_S} s:\n{log.read_text()}")


def take_part(url: str, number: int) -> tuple[str, list[str]]:
    """A participant on a loopback address of their own (127.0.0.10 and up), as people come from their own."""
    pid = f"NGINX{number:02d}{uuid.uuid4().hex[:6]}"
    person = ApiParticipant(GradioCall(url, cookies=True, source=f"127.0.0.{10 + number}"), pid)
    texts = [f"{pid}: {text}" for text in MESSAGES]
    sent = person.complete(texts, [(4, False), (3, True), (5, False)], pre=3, post=POST)  # persuasive, off topic
    return pid, texts[:sent]


@dataclass(frozen=True)
class Deployment:
    url: str  # nginx's
    run_dir: Path  # nginx's config and logs, the processes' logs
    db_url: str
    first_port: int  # of the two study processes


@contextmanager
def deployed(tmp_path: Path, *flags: str) -> Iterator[Deployment]:
    """The shipped script serving the small study: nginx in front of two `study serve` processes on a fresh
    PostgreSQL database and a fake LLM, each process given `flags`; stopped with SIGTERM at the end, and
    then nothing of it may still run."""
    nginx_installed()
    run_dir = tmp_path / "run"
    listen, first = free_ports(1), free_ports(2)
    with fresh_database("postgresql", tmp_path) as db_url, FakeLLMServer() as llm:
        env = {**os.environ, "GDP_ZERO_STUDY_DB": db_url, "GDP_ZERO_ADMIN_PASSWORD": ADMIN_PASSWORD,
               "STUDY_PROCESSES": "2", "STUDY_LISTEN": f"127.0.0.1:{listen}", "STUDY_FIRST_PORT": str(first),
               "STUDY_RUN_DIR": str(run_dir), "GDP_ZERO": f"{sys.executable} -m gdp_zero.cli", "PYTHONPATH": str(REPO),
               "OPENAI_API_KEY": "sk-fake-deployment-key", "GRADIO_ANALYTICS_ENABLED": "False"}
        log = tmp_path / "deployment.log"
        with open(log, "w") as out:
            deployment = subprocess.Popen(
                ["bash", str(SCRIPT), str(SMALL_STUDY_FILE), "--", "--llm", "openai", "--base-url", llm.base_url,
                 "--model", "fake-model", *flags],
                stdout=out, stderr=subprocess.STDOUT, text=True, env=env, cwd=REPO)
        url = f"http://127.0.0.1:{listen}/"
        try:
            wait_until_served(url, deployment, log)
            yield Deployment(url, run_dir, db_url, first)
        finally:
            deployment.send_signal(signal.SIGTERM)
            deployment.wait(timeout=60)
        stopped = subprocess.run(["ps", "-eww", "-o", "args"], capture_output=True, text=True, check=True).stdout
        assert str(run_dir) not in stopped and f"--port {first}" not in stopped  # nginx and both processes stopped


def test_nginx_two_processes_and_postgresql_store_every_participant_once(tmp_path: Path) -> None:
    with deployed(tmp_path) as deployment:  # the default limits: each participant comes from an address of its own
        url, run_dir, db_url, first = deployment.url, deployment.run_dir, deployment.db_url, deployment.first_port
        # The database URL (and its password) stays out of the process list: read from the environment.
        listed = subprocess.run(["ps", "-eww", "-o", "args"], capture_output=True, text=True, check=True).stdout.splitlines()
        ours = [args for args in listed if f"--port {first}" in args or f"--port {first + 1}" in args]
        assert len(ours) == 2 and not any("--db" in args or make_url(db_url).database in args for args in ours), ours
        with ThreadPoolExecutor(PARTICIPANTS) as pool:
            taken = dict(pool.map(lambda n: take_part(url, n), range(PARTICIPANTS)))

        # Both processes served participants, and each browser stayed on one (its route cookie).
        routes: dict[str, set[str]] = {}
        for line in (run_dir / "nginx-access.log").read_text().splitlines():
            found = re.search(r"upstream=(\S+) route=(\S+)", line)
            if found and found.group(1) != "-":
                routes.setdefault(found.group(2), set()).add(found.group(1))
        assert len(routes) >= PARTICIPANTS
        assert all(len(upstreams) == 1 for upstreams in routes.values()), routes
        assert {upstream for upstreams in routes.values() for upstream in upstreams} == {
            f"127.0.0.1:{first}", f"127.0.0.1:{first + 1}"}

        database = open_database(db_url)
        try:
            with database.transaction() as session:
                study_id = crud.study_row(session).id
                participations = crud.participations(session, study_id)
                assert sorted(p.participant_id for p in participations) == sorted(taken)
                assert all(p.status == "completed" for p in participations)
                conditions = [p.condition.name for p in participations]
                assert sorted((conditions.count(c), c) for c in set(conditions)) == [(10, "gdpzero"), (10, "prompting")]
                for participation in participations:
                    sent = taken[participation.participant_id]
                    messages = crud.messages_of(session, participation.id)
                    assert [m.position for m in messages] == list(range(2 * len(sent) + 1))
                    assert [m.speaker for m in messages] == ["system", "user"] * len(sent) + ["system"]
                    assert [m.text for m in messages if m.speaker == "user"] == sent  # each message once, in order
                    ratings = crud.ratings_of(session, [participation.id])
                    assert sorted((r.message_id, r.item) for r in ratings) == sorted(
                        (m.id, item) for m in messages if m.speaker == "system" for item in ("persuasive", "off_topic"))
                    answers = crud.answers_of(session, participation.id)
                    assert sorted((a.survey, a.item) for a in answers) == sorted(
                        [("pre", "donation_intention")] + [("post", i) for i in ("persuasive", "attention", "donation_intention", "donation_amount")])
        finally:
            database.dispose()


def test_per_address_limits_through_nginx_count_each_client_not_the_proxy(tmp_path: Path) -> None:
    """The documented set-up (nginx adds the client's address to X-Forwarded-For, the processes trust
    127.0.0.1 with --trusted-proxy): one new participation an hour from an address, whichever process
    nginx sends its browsers to, and a header the client wrote does not make it another address."""
    with deployed(tmp_path, "--participations-per-hour", "1") as deployment:

        def enter(source: str, number: int, forged: str | None = None) -> ApiParticipant:
            """A new browser (its own cookie jar, so its own route) on `source` entering the study."""
            person = ApiParticipant(GradioCall(deployment.url, cookies=True, source=source, client=forged), f"LIMIT{number:02d}")
            person.step("enter")
            return person

        assert enter("127.0.0.2", 1).phase == "consent"
        # Three more new browsers on 127.0.0.2, one claiming to be 10.9.9.9 (believed, it would be a new address).
        # Each process keeps its own counts, so all of an address's new browsers must reach one process: with a
        # random route per browser, one of the three would reach the other process about 7 times in 8, and get in.
        for number, forged in ((2, None), (3, "10.9.9.9"), (4, None)):
            refused = enter("127.0.0.2", number, forged)
            assert refused.token is None and "Too many new participations from your address (1 an hour)" in refused.text(), number
        assert enter("127.0.0.3", 5).phase == "consent"  # another address is not held up

        # nginx saw the clients' own addresses and sent each address's browsers to one process.
        upstreams: dict[str, set[str]] = {}
        for line in (deployment.run_dir / "nginx-access.log").read_text().splitlines():
            found = re.match(r"(\S+) .* upstream=(\S+) ", line)
            if found and "/gradio_api/call/enter" in line:
                upstreams.setdefault(found.group(1), set()).add(found.group(2))
        assert set(upstreams) == {"127.0.0.2", "127.0.0.3"} and all(len(u) == 1 for u in upstreams.values()), upstreams
