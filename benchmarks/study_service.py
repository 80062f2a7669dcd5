"""The study store under load, without the web layer: StudyService on SQLite and on PostgreSQL.

Two tables:
1. What one committed event costs (consent, a survey page, a rating, a finish), in milliseconds,
   measured by driving participants one at a time with no LLM in the way.
2. N participants at once (asyncio, one process) through the whole flow of the shipped study
   against the fake LLM server with latency L: whether all complete with no lost or duplicated rows,
   and the participant's wait per bot turn (from sending to the committed reply).

    python benchmarks/study_service.py --participants 50 --latency 0.2 \
        [--postgres postgresql://gdp:gdp@127.0.0.1:5432/gdp]   # a scratch database is created and dropped

The HTTP benchmark of the web pages (ui/study) measures the same flow through Gradio.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from gdp_zero.llm.settings import EndpointSettings, LLMSettings
from gdp_zero.study.db import database_url, open_database
from gdp_zero.study.models import Message, Participation, Rating
from gdp_zero.study.service import StudyService
from gdp_zero.study.spec import STUDIES_DIR, load_study
from search_speed import fake_server_process  # benchmarks/: the fake server in its own process

POST = {"persuasive": 4, "natural": 4, "attention": "Strongly disagree", "coherent": 4, "donation_intention": 4, "donation_amount": 0.5}
MESSAGES = ("Hi, what is this about?", "What does the charity do?", "How would my money be used?")


async def participate(service: StudyService, pid: str, waits: list[float]) -> tuple[str, int, int]:
    """The whole flow for one participant: (final phase, messages and ratings the participant saw accepted).

    `waits` gets the seconds each bot turn kept them waiting. A chat the fake persuadee ends by
    donating is finished early, as the flow requires.
    """
    token = (await asyncio.to_thread(service.enter, {"PROLIFIC_PID": pid, "STUDY_ID": "bench", "SESSION_ID": pid})).token
    await asyncio.to_thread(service.consent, token, True)
    await asyncio.to_thread(service.answer, token, "pre", {"donation_intention": 3})
    started = time.monotonic()
    view = await service.start_chat(token)
    waits.append(time.monotonic() - started)
    ratings = 0
    for message in MESSAGES:
        view = await asyncio.to_thread(service.rate, token, view.awaiting_rating, {"persuasive": 4})
        ratings += 1
        if view.must_finish:
            break
        started = time.monotonic()
        view = await service.send(token, message)
        waits.append(time.monotonic() - started)
    if view.awaiting_rating is not None:
        view = await asyncio.to_thread(service.rate, token, view.awaiting_rating, {"persuasive": 5})
        ratings += 1
    messages = len(view.transcript)
    await asyncio.to_thread(service.finish_chat, token)
    view = await asyncio.to_thread(service.answer, token, "post", POST)
    return view.phase, messages, ratings


def event_costs(service: StudyService, rounds: int) -> dict[str, float]:
    """Milliseconds per committed step, for steps that make no LLM call."""
    costs: dict[str, list[float]] = {"enter": [], "consent": [], "survey page": [], "view": []}
    for n in range(rounds):
        started = time.perf_counter()
        token = service.enter({"PROLIFIC_PID": f"cost-{n}"}).token
        costs["enter"].append(time.perf_counter() - started)
        started = time.perf_counter()
        service.consent(token, True)
        costs["consent"].append(time.perf_counter() - started)
        started = time.perf_counter()
        service.answer(token, "pre", {"donation_intention": 3})
        costs["survey page"].append(time.perf_counter() - started)
        started = time.perf_counter()
        service.view(token)
        costs["view"].append(time.perf_counter() - started)
    return {step: 1000 * statistics.median(values) for step, values in costs.items()}


async def run(url: str, participants: int, latency: float, only: str | None) -> tuple[dict[str, float], dict[str, object]]:
    study = load_study(STUDIES_DIR / "gdpzero_vs_prompting.toml")
    conditions = tuple(c.model_copy(update={"quota": None}) for c in study.conditions if only in (None, c.name))
    study = study.model_copy(update={"conditions": conditions})
    with fake_server_process(latency) as base_url:
        llm = LLMSettings(default=EndpointSettings(model="fake-model", base_url=base_url, api_key="fake-key"))
        database = open_database(url, pool_size=20)
        service = StudyService(study, database, llm)
        costs = event_costs(service, rounds=20)
        waits: dict[str, list[float]] = {f"P{n:03d}": [] for n in range(participants)}
        started = time.monotonic()
        outcomes = await asyncio.gather(*(participate(service, pid, pid_waits) for pid, pid_waits in waits.items()))
        wall = time.monotonic() - started
        await service.aclose()
        with database.transaction() as session:
            bench = Participation.participant_id.like("P%")
            ids = select(Participation.id).where(bench)
            counts = {
                "participations": session.scalar(select(func.count()).select_from(Participation).where(bench)),
                "messages": session.scalar(select(func.count()).select_from(Message).where(Message.participation_id.in_(ids))),
                "ratings": session.scalar(select(func.count()).select_from(Rating).where(Rating.participation_id.in_(ids))),
            }
            condition_of = {p.participant_id: p.condition.name for p in session.scalars(select(Participation).where(bench))}
        database.dispose()
    by_condition: dict[str, list[float]] = {}
    for pid, pid_waits in waits.items():
        by_condition.setdefault(condition_of[pid], []).extend(pid_waits)
    return costs, {
        "complete": sum(phase == "complete" for phase, _, _ in outcomes),
        "rows": counts,
        "seen": {"participations": len(outcomes), "messages": sum(m for _, m, _ in outcomes), "ratings": sum(r for _, _, r in outcomes)},
        "wall": wall,
        "waits": {condition: sorted(values) for condition, values in sorted(by_condition.items())},
        "participants": {condition: sum(1 for c in condition_of.values() if c == condition) for condition in by_condition},
    }


def scratch_postgres(server_url: str) -> tuple[str, callable]:
    server = make_url(database_url(server_url))
    name = f"gdpz_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return server.set(database=name).render_as_string(hide_password=False), drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=50)
    parser.add_argument("--latency", type=float, default=0.2, help="seconds the fake LLM takes per call")
    parser.add_argument("--postgres", help="a PostgreSQL server URL (a scratch database is created on it)")
    parser.add_argument("--only", choices=("gdpzero", "prompting"), help="run every participant in this condition")
    args = parser.parse_args()
    backends = [("SQLite (WAL)", None)] + ([("PostgreSQL", args.postgres)] if args.postgres else [])
    print(f"machine: {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}; "
          f"{args.participants} participants at once, each greeted + 3 messages, fake LLM (own process) latency {args.latency} s; "
          + ("GDP-Zero as shipped (n=10, k=3, 20 s budget) or prompting, balanced" if args.only is None else f"all in {args.only}"))
    results = []
    for name, server_url in backends:
        with tempfile.TemporaryDirectory() as directory:
            if server_url is None:
                url, drop = f"sqlite:///{Path(directory) / 'bench.db'}", (lambda: None)
            else:
                url, drop = scratch_postgres(server_url)
            try:
                results.append((name, *asyncio.run(run(url, args.participants, args.latency, args.only))))
            finally:
                drop()
    print()
    print("| database | enter (ms) | consent (ms) | survey page (ms) | view (ms) |")
    print("| --- | --- | --- | --- | --- |")
    for name, costs, _ in results:
        print(f"| {name} | " + " | ".join(f"{costs[k]:.1f}" for k in ("enter", "consent", "survey page", "view")) + " |")
    print()
    print("| database | completed | participations / messages / ratings stored (accepted) | wall (s) | condition (participants) | wait per bot turn: mean / p50 / p95 / max (s) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, _, load in results:
        rows, seen = load["rows"], load["seen"]
        stored = " / ".join(f"{rows[k]} ({seen[k]})" for k in ("participations", "messages", "ratings"))
        for condition, waits in load["waits"].items():
            print(f"| {name} | {load['complete']}/{args.participants} | {stored} | "
                  f"{load['wall']:.1f} | {condition} ({load['participants'][condition]}) | {statistics.mean(waits):.2f} / "
                  f"{waits[len(waits) // 2]:.2f} / {waits[int(0.95 * (len(waits) - 1))]:.2f} / {waits[-1]:.2f} |")


if __name__ == "__main__":
    main()
