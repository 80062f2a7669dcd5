"""N participants at once through `gdp-zero study serve`'s HTTP API, against the fake LLM with latency L.

The real server process (the shipped study, SQLite by default) and the fake LLM server in a
process of its own; N threads each walk the whole flow over plain HTTP exactly as the page calls
it (tests/study/web/study_web.py): consent, the pre-survey (the bot opens the chat), three messages
each after rating the reply before it, finish, the post-survey (the shipped study, its quotas
raised to N so nobody is turned away as "study full"). Prints whether all completed, the
rows found against the rows expected (none lost, none duplicated), the balance of the conditions,
and the participant's wait per bot turn, from the request to the stored reply, per condition.

    python -m benchmarks.study_participants --participants 50 --latency 0.5
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import func, select

from benchmarks.search_speed import fake_server_process

from gdp_zero.study.db import open_database
from gdp_zero.study.models import Answer, Message, Participation, Rating
from tests.study.web.study_web import STUDY_FILE, ApiParticipant, GradioCall, StudyServer

MESSAGES = ["Hi, what is this about?", "What does the charity do?", "How would my money be used?"]
RATINGS = [4, 3, 5, 4]
PRE_ANSWERS, POST_ANSWERS = 1, 6  # the shipped study: donation intention; six post items answered (comments left empty)


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] if len(values) > 1 else values[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--participants", type=int, default=50)
    parser.add_argument("--latency", type=float, default=0.5, help="seconds the fake LLM takes per request")
    parser.add_argument("--db", help="database URL (default: a fresh SQLite file)")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="gdp-zero-bench-study-"))
    db_url = args.db or f"sqlite:///{folder / 'study.db'}"
    study_file = with_quota(folder, args.participants)
    with fake_server_process(args.latency) as llm_url:
        server = StudyServer(db_url=db_url, log=folder / "server.log", llm_url=llm_url, study_file=study_file).start()
        try:
            call = GradioCall(server.url, timeout_s=600)
            people = [ApiParticipant(call, f"BENCH{uuid.uuid4().hex[:10]}", {"STUDY_ID": "bench"}) for _ in range(args.participants)]
            started = time.monotonic()
            with ThreadPoolExecutor(max_workers=args.participants) as pool:
                outcomes = list(pool.map(run, people))
            wall = time.monotonic() - started
            cpu = cpu_seconds(server.process.pid)
        finally:
            server.stop()
    report(people, outcomes, wall, cpu, db_url, args)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc): how busy the server was."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def with_quota(folder: Path, participants: int) -> Path:
    """The shipped study with room for everyone: its quotas (20 per condition) would screen the rest out as "full"."""
    text = STUDY_FILE.read_text(encoding="utf-8")
    assert text.count("quota = 20") == 2, "the shipped study's quotas changed: update this benchmark"
    path = folder / STUDY_FILE.name
    path.write_text(text.replace("quota = 20", f"quota = {participants}"), encoding="utf-8")
    return path


def run(person: ApiParticipant) -> str | None:
    """The whole flow; None when it completed, else what went wrong."""
    try:
        person.complete(MESSAGES, RATINGS)
        return None
    except Exception as error:  # reported in the table, not raised: one failure must not hide the others
        return f"{type(error).__name__}: {error}"[:300]


def report(people: list[ApiParticipant], outcomes: list[str | None], wall: float, cpu: float, db_url: str,
           args: argparse.Namespace) -> None:
    database = open_database(db_url)
    try:
        with database.transaction() as session:
            stored = {p.participant_id: p for p in session.scalars(select(Participation))}
            conditions = {pid: p.condition.name if p.condition else "(unassigned)" for pid, p in stored.items()}
            counts = {
                name: dict(session.execute(select(model.participation_id, func.count()).group_by(model.participation_id)).all())
                for name, model in (("messages", Message), ("ratings", Rating), ("answers", Answer))
            }
            bot_waits = [(p.participant_id, m.wait_seconds) for p in stored.values()
                         for m in session.scalars(select(Message).where(Message.participation_id == p.id, Message.speaker == "system"))]
            completed = sum(p.status == "completed" for p in stored.values())
    finally:
        database.dispose()

    failures = [outcome for outcome in outcomes if outcome]
    problems = []
    for person in people:
        row = stored.get(person.params["PROLIFIC_PID"])
        if row is None:
            problems.append(f"{person.params['PROLIFIC_PID']}: not stored")
            continue
        sent = len(person.waits) - 1  # the opening turn, then one per message sent
        expected = {"messages": 2 * sent + 1, "ratings": sent + 1, "answers": PRE_ANSWERS + POST_ANSWERS}
        found = {name: counts[name].get(row.id, 0) for name in expected}
        if found != expected:
            problems.append(f"{person.params['PROLIFIC_PID']}: expected {expected}, found {found}")

    print(f"# {args.participants} participants at once over HTTP, fake LLM latency L = {args.latency} s, "
          f"{db_url.split(':')[0]}, {platform.machine()} {platform.python_version()}, {len(os.sched_getaffinity(0))} cores, "
          f"load average {os.getloadavg()[0]:.1f} at the end")
    print()
    print("| participants | completed (pages) | completed (database) | participations stored | rows lost or duplicated | wall time | server CPU |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    print(f"| {args.participants} | {args.participants - len(failures)} | {completed} | {len(stored)} | {len(problems)} | "
          f"{wall:.1f} s | {cpu:.1f} s ({cpu / wall:.0%} of one core) |")
    print()
    print("Waiting time per bot turn (seconds, from the participant's request to the stored reply, as the client saw it):")
    print()
    print("| condition | participants | bot turns | mean | median | p90 | max | mean in units of L |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    by_condition: dict[str, list[float]] = {}
    for person in people:
        condition = conditions.get(person.params["PROLIFIC_PID"], "?")
        by_condition.setdefault(condition, []).extend(person.waits)
    for condition, waits in sorted(by_condition.items()):
        n_people = sum(conditions.get(p.params["PROLIFIC_PID"]) == condition for p in people)
        print(f"| {condition} | {n_people} | {len(waits)} | {statistics.mean(waits):.1f} | {statistics.median(waits):.1f} | "
              f"{percentile(waits, 90):.1f} | {max(waits):.1f} | {statistics.mean(waits) / args.latency:.1f} |")
    server_side = [w for _, w in bot_waits if w is not None]
    if server_side:
        print(f"\nThe server's own measure (messages.wait_seconds): mean {statistics.mean(server_side):.1f} s, "
              f"max {max(server_side):.1f} s over {len(server_side)} bot turns.")
    for line in failures[:5] + problems[:5]:
        print(f"- {line}")


if __name__ == "__main__":
    main()
