"""Sessions opened through the Gradio API, as the probes of issues 13 and 21 did: what the server holds,
and what a person and a newcomer get.

Starts `gdp-zero ui --llm fake` in its own process, opens one "person" session, then calls the
queue's load event with the probe's payload (a new session and its opening turn by the random
planner: one LLM call) N times from N different client addresses (X-Forwarded-For, which the server trusts from 127.0.0.1), P at a time. Then the
person sends a message. Prints one table per server cap: sessions admitted and refused, the
server's resident memory and open file descriptors after every step, and whether the person's
dialogue went on.

    python -m benchmarks.api_sessions --sessions 600 --parallel 32
    python -m benchmarks.api_sessions --case lockout      # a full server kept alive by cheap events
    python -m benchmarks.api_sessions --case study-flood  # made-up participant ids fill a study

`lockout`: the app (in this process, --max-sessions 20, a place yields after 90 s without a turn)
is filled by 19 sessions from 19 addresses that send a cheap event (choosing a turn to view)
every 2 s; a newcomer from a 20th address knocks every 10 s; the person chats throughout.
`study-flood`: `gdp-zero study serve` in demo mode (--participations-per-hour 3); a participant
starts, then made-up ids from one address enter, consent and answer the pre-survey (the quotas
hold 40); then the participant sends a message and a newcomer from another address arrives.
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.ui.gradio_http import NO_TOKEN, ON_LOAD, ON_SEND, call, new_session
from tests.ui.test_ui_hardening_round2 import fn_index_of

PERSON = ["gdpzero", 10, 3, 0.25, 1.0, "", "puct"]  # a 10-simulation search, as the README's table was measured
FLOOD = ["random", 1, 1, 0.25, 1, "", "puct"]  # the probe's payload: one cheap LLM turn per session


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def resident_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def start_ui(max_sessions: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gdp_zero.cli", "ui", "--llm", "fake", "--port", str(port),
         "--max-sessions", str(max_sessions), "--trusted-proxy", "127.0.0.1"],  # the flood's addresses are X-Forwarded-For
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )
    url = f"http://127.0.0.1:{port}/"
    for _ in range(300):
        try:
            urllib.request.urlopen(url + "config", timeout=2).close()
            return proc, url
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("gdp-zero ui did not start")


def run(max_sessions: int, sessions: int, parallel: int, step: int) -> list[list[str]]:
    proc, url = start_ui(max_sessions)
    rows = []
    try:
        person = new_session()
        assert "Your turn" in call(url, ON_LOAD, [*PERSON, NO_TOKEN], person, client="192.0.2.1").status
        rows.append(["person's page open", "1", "0", f"{resident_mib(proc.pid):.0f}", str(open_fds(proc.pid)), "-"])
        admitted = refused = 0
        started = time.monotonic()
        with ThreadPoolExecutor(parallel) as pool:
            for first in range(0, sessions, step):
                batch = range(first, min(first + step, sessions))
                statuses = list(pool.map(
                    lambda i: call(url, ON_LOAD, [*FLOOD, NO_TOKEN], new_session(), client=f"10.{i // 65536}.{i // 256 % 256}.{i % 256}",
                                   timeout=300).status,
                    batch,
                ))
                admitted += sum("Your turn" in s for s in statuses)
                refused += sum("server is full" in s for s in statuses)
                rows.append([f"{batch.stop} API sessions requested", str(admitted + 1), str(refused),
                             f"{resident_mib(proc.pid):.0f}", str(open_fds(proc.pid)), f"{time.monotonic() - started:.0f}"])
        reply = call(url, ON_SEND, ["I'm fine. What is this about?", *PERSON], person, client="192.0.2.1")
        went_on = "Replied with" in reply.status
        rows.append(["the person sends a message", str(admitted + 1), str(refused), f"{resident_mib(proc.pid):.0f}",
                     str(open_fds(proc.pid)), "replied" if went_on else f"FAILED: {reply.status}"])
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return rows


def lockout(seconds: float) -> list[list[str]]:
    """A full server held by cheap events: when does a newcomer get in, and how does the person fare?"""
    import threading

    from gdp_zero.serving.limits import LimitSettings
    from tests.ui.conftest import served_app

    limits = LimitSettings(max_sessions=20, max_sessions_per_client=1, yield_after_idle_s=90)
    rows: list[list[str]] = []
    with served_app(limits=limits) as app:
        started = time.monotonic()

        def row(step: str, newcomer: str, person: str) -> None:
            rows.append([f"{time.monotonic() - started:.0f}", step, str(len(app.registry)), newcomer, person,
                         f"{resident_mib(os.getpid()):.0f}"])

        person = new_session()
        call(app.url, ON_LOAD, [*FLOOD, NO_TOKEN], person, client="192.0.2.1")
        flood = {f"10.0.0.{n}": new_session() for n in range(1, 20)}
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda item: call(app.url, ON_LOAD, [*FLOOD, NO_TOKEN], item[1], client=item[0]), flood.items()))
        look = fn_index_of(app.url, "turn-select", "select")
        stop, events = threading.Event(), [0]

        def keep_alive() -> None:
            while not stop.is_set():
                for client, session in flood.items():
                    call(app.url, look, [None], session, client=client)
                    events[0] += 1
                stop.wait(2)

        alive = threading.Thread(target=keep_alive, daemon=True)
        alive.start()
        row("flood holds every other place", "-", "-")
        newcomer, admitted = new_session(), False
        next_message = 0.0
        while time.monotonic() - started < seconds:
            if time.monotonic() >= next_message:
                sent = time.monotonic()
                reply = call(app.url, ON_SEND, ["Tell me more.", *FLOOD], person, client="192.0.2.1")
                person_text = f"replied in {time.monotonic() - sent:.1f} s" if "Your turn" in reply.status else reply.status
                next_message = time.monotonic() + 15
            else:
                person_text = "-"
            if not admitted:
                knock = call(app.url, ON_LOAD, [*FLOOD, NO_TOKEN], newcomer, client="198.51.100.9")
                admitted = "Your turn" in knock.status
                newcomer_text = "admitted, chat opened" if admitted else f"refused: {knock.status}"
            else:
                newcomer_text = "chatting"
            row(f"{events[0]} cheap events so far", newcomer_text, person_text)
            time.sleep(10)
        stop.set()
        alive.join(timeout=30)
    return rows


def study_flood(fakes: int, parallel: int, per_hour: int) -> list[list[str]]:
    """Made-up ids fill a study's quotas: what a participant mid-study and a newcomer get, with the server
    admitting `per_hour` participations per address an hour (a bound above `fakes` is none)."""
    import tempfile

    from tests.study.web.study_web import ApiParticipant, GradioCall, StudyServer

    rows: list[list[str]] = []
    with tempfile.TemporaryDirectory() as folder:
        server = StudyServer(db_url=f"sqlite:///{folder}/study.db", log=Path(folder) / "server.log",
                             participations_per_hour=per_hour, trusted_proxies=("127.0.0.1",)).start()
        try:
            started = time.monotonic()
            person = ApiParticipant(GradioCall(server.url, client="192.0.2.1"), "5f1e0000aaaa1111bbbb2222")
            gradio = GradioCall(server.url, client="203.0.113.66")  # every made-up id from one machine
            for step in ("enter", "consent"):
                person.step(step)
            person.step("pre_survey", 3, timed=True)
            rows.append([f"{time.monotonic() - started:.0f}", "a participant starts (pre-survey done)", "1",
                         person.phase or "", f"opening turn in {person.waits[-1]:.1f} s"])

            def fake(n: int) -> str:
                who = ApiParticipant(gradio, f"FAKE{n:06d}")
                who.step("enter")
                if who.phase != "consent":
                    return "refused at entry"
                who.step("consent")
                who.step("pre_survey", 3)
                return who.phase or ""

            with ThreadPoolExecutor(parallel) as pool:
                outcomes = list(pool.map(fake, range(fakes)))
            started_chats = sum(o in ("chat", "rating") for o in outcomes)
            rows.append([f"{time.monotonic() - started:.0f}", f"{fakes} made-up ids enter, consent, pre-survey",
                         str(1 + started_chats), f"{started_chats} reached the chat, "
                         f"{sum('refused' in o or o == 'screened_out' for o in outcomes)} refused or screened out", "-"])
            if person.phase == "rating":
                person.step("rate", 4)
            person.step("send", "What does the charity do?", timed=True)
            rows.append([f"{time.monotonic() - started:.0f}", "the participant sends a message", "-", person.phase or "",
                         f"replied in {person.waits[-1]:.1f} s"])
            newcomer = ApiParticipant(GradioCall(server.url, client="198.51.100.5"), "6a2b0000cccc3333dddd4444")
            newcomer.step("enter")
            rows.append([f"{time.monotonic() - started:.0f}", "a real newcomer arrives", "-", newcomer.phase or "",
                         "study full: refused" if newcomer.phase == "refused" else "admitted"])
        finally:
            server.stop()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=600, help="API sessions to request")
    parser.add_argument("--parallel", type=int, default=32, help="requests in flight")
    parser.add_argument("--step", type=int, default=100, help="report after this many")
    parser.add_argument("--caps", default="200,700", help="server caps (--max-sessions) to run, comma-separated")
    parser.add_argument("--case", choices=("flood", "lockout", "study-flood"), default="flood")
    parser.add_argument("--seconds", type=float, default=150, help="lockout: how long the flood holds on")
    parser.add_argument("--fakes", type=int, default=45, help="study-flood: made-up participant ids")
    parser.add_argument("--participations-per-hour", type=int, default=3,
                        help="study-flood: the server's bound per address (the default's; 1000: no bound, as before it)")
    args = parser.parse_args()
    if args.case == "lockout":
        print("| s | step | sessions open (cap 20) | newcomer (address with no session) | person | RSS of this process (MiB) |")
        print("| --- | --- | --- | --- | --- | --- |")
        for row in lockout(args.seconds):
            print("| " + " | ".join(row) + " |", flush=True)
        return
    if args.case == "study-flood":
        print("| s | step | participations in the chat | phase | experience |")
        print("| --- | --- | --- | --- | --- |")
        for row in study_flood(args.fakes, min(args.parallel, 8), args.participations_per_hour):
            print("| " + " | ".join(row) + " |", flush=True)
        return
    print(f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"{args.sessions} API sessions, {args.parallel} in flight, each from its own address\n")
    for cap in (int(c) for c in args.caps.split(",")):
        print(f"### --max-sessions {cap}\n")
        print("| step | sessions open | refused (server full) | server RSS (MiB) | open fds | seconds since the flood began |")
        print("| --- | --- | --- | --- | --- | --- |")
        for row in run(cap, args.sessions, args.parallel, args.step):
            print("| " + " | ".join(row) + " |", flush=True)
        print()


if __name__ == "__main__":
    main()
