"""Sessions opened through the Gradio API, as the probe of issue 13 did: what the server holds.

Starts `gdp-zero ui --llm fake` in its own process, opens one "person" session, then calls the
queue's load event with the probe's payload (a new session and its opening turn by the random
planner: one LLM call) N times from N different client addresses (X-Forwarded-For, which the server trusts from 127.0.0.1), P at a time. Then the
person sends a message. Prints one table per server cap: sessions admitted and refused, the
server's resident memory and open file descriptors after every step, and whether the person's
dialogue went on.

    python benchmarks/api_sessions.py --sessions 600 --parallel 32
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.ui.gradio_http, run from anywhere

from tests.ui.gradio_http import ON_LOAD, ON_SEND, call, new_session  # noqa: E402

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
         "--max-sessions", str(max_sessions)],
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
        assert "Your turn" in call(url, ON_LOAD, PERSON, person, client="192.0.2.1").status
        rows.append(["person's page open", "1", "0", f"{resident_mib(proc.pid):.0f}", str(open_fds(proc.pid)), "-"])
        admitted = refused = 0
        started = time.monotonic()
        with ThreadPoolExecutor(parallel) as pool:
            for first in range(0, sessions, step):
                batch = range(first, min(first + step, sessions))
                statuses = list(pool.map(
                    lambda i: call(url, ON_LOAD, FLOOD, new_session(), client=f"10.{i // 65536}.{i // 256 % 256}.{i % 256}",
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=600, help="API sessions to request")
    parser.add_argument("--parallel", type=int, default=32, help="requests in flight")
    parser.add_argument("--step", type=int, default=100, help="report after this many")
    parser.add_argument("--caps", default="200,700", help="server caps (--max-sessions) to run, comma-separated")
    args = parser.parse_args()
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
