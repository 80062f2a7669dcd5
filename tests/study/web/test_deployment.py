"""The shipped deployment recipe for real: Debian's nginx in front of two `study serve` processes on PostgreSQL.

deploy/study/serve_behind_nginx.sh starts everything; 20 participants, each with its own cookie
jar as a browser has, walk the whole study through nginx on loopback at once. Then: both processes
served participants, each browser stayed on one process, assignment is balanced 10/10, and every
message, rating and answer is stored exactly once.
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
from pathlib import Path

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
    pid = f"NGINX{number:02d}{uuid.uuid4().hex[:6]}"
    person = ApiParticipant(GradioCall(url, cookies=True), pid)
    texts = [f"{pid}: {text}" for text in MESSAGES]
    sent = person.complete(texts, [(4, False), (3, True), (5, False)], pre=3, post=POST)  # persuasive, off topic
    return pid, texts[:sent]


def test_nginx_two_processes_and_postgresql_store_every_participant_once(tmp_path: Path) -> None:
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
                 "--model", "fake-model", "--turns-per-minute", "10000", "--max-turns-in-flight", "1000",
                 "--participations-per-hour", "1000"],  # every test participant comes from 127.0.0.1
                stdout=out, stderr=subprocess.STDOUT, text=True, env=env, cwd=REPO)
        url = f"http://127.0.0.1:{listen}/"
        try:
            wait_until_served(url, deployment, log)
            # The database URL (and its password) stays out of the process list: read from the environment.
            listed = subprocess.run(["ps", "-eww", "-o", "args"], capture_output=True, text=True, check=True).stdout.splitlines()
            ours = [args for args in listed if f"--port {first}" in args or f"--port {first + 1}" in args]
            assert len(ours) == 2 and not any("--db" in args or make_url(db_url).database in args for args in ours), ours
            with ThreadPoolExecutor(PARTICIPANTS) as pool:
                taken = dict(pool.map(lambda n: take_part(url, n), range(PARTICIPANTS)))
        finally:
            deployment.send_signal(signal.SIGTERM)
            deployment.wait(timeout=60)
        stopped = subprocess.run(["ps", "-eww", "-o", "args"], capture_output=True, text=True, check=True).stdout
        assert str(run_dir) not in stopped and f"--port {first}" not in stopped  # nginx and both processes stopped

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
