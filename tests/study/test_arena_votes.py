"""Arena votes in the study database (SQLite and PostgreSQL), over the real fake OpenAI server.

A round's two sides keep their own dialogues; a vote is one row with both dialogues, the contestants
with their models, the draw and a pseudonym; refused votes (no message, twice, beyond a limit) store nothing.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from gdp_zero.arena.battle import VoteRefused
from gdp_zero.arena.contestants import load_arena
from gdp_zero.arena.service import ArenaService, VoteLimits
from gdp_zero.llm.fake_server import FakeLLMServer
from gdp_zero.planners import GDPZeroConfig
from gdp_zero.session import MessageRejected
from gdp_zero.study.db import database_url, open_database
from gdp_zero.study.models import SCHEMA_VERSION

TWO_MODELS = Path(__file__).parents[1] / "arena" / "two_models.toml"
SMALL_SEARCH = GDPZeroConfig(simulations=3, realizations=1, prior_samples=2, value_samples=2, concurrency=3)


@pytest.fixture
def served():
    with FakeLLMServer(models=("fake-model", "fake-large")) as server:
        yield server


def service_for(db_url: str, settings, **kw) -> ArenaService:
    return ArenaService(load_arena(TWO_MODELS), settings, open_database(db_url), search=SMALL_SEARCH, seed=3, **kw)


async def test_a_vote_is_stored_with_both_dialogues_the_contestants_and_the_draw(db_url, served, make_settings):
    service = service_for(db_url, make_settings(served.base_url))
    battle = service.new_battle()
    await battle.open()
    with pytest.raises(VoteRefused, match="Send a message and read both replies"):
        service.vote(battle, "a", "browser-1", "10.0.0.1")
    await battle.send("Hi, what is this charity about?")
    await battle.send("I am not sure I can give.")
    assert battle.exchanges == 2
    # Each side has its own dialogue: the same person's messages, each persuader's own replies.
    users = [[t.text for t in chat.log if t.speaker == "user"] for chat in battle.sides.values()]
    assert users[0] == users[1] == ["Hi, what is this charity about?", "I am not sure I can give."]

    vote_id = service.vote(battle, "b", "browser-1", "10.0.0.1")
    with pytest.raises(VoteRefused, match="already has your vote"):
        service.vote(battle, "a", "browser-1", "10.0.0.1")
    with pytest.raises(MessageRejected, match="You have voted"):
        battle.check_send("more")

    votes = service.votes()
    assert len(votes) == 1
    row = votes.iloc[0]
    assert (row["model_a"], row["model_b"], row["winner"], row["exchanges"]) == (battle.draw.a, battle.draw.b, "b", 2)
    assert row["voter"] == service.voter("browser-1") != "browser-1" and len(row["voter"]) == 16
    with service.database.transaction() as session:
        from gdp_zero.study.models import ArenaVote

        stored = session.get(ArenaVote, vote_id)
        assert [t["text"] for t in stored.dialogue_a["turns"]] == [t.text for t in battle.a.log]
        assert [t["text"] for t in stored.dialogue_b["turns"]] == [t.text for t in battle.b.log]
        models = {side: set(stored.contestants[side]["models"].values()) for side in ("a", "b")}
        expected = {side: {"fake-large" if battle.contestant(side).name == "prompting_large" else "fake-model"}
                    for side in ("a", "b")}
        assert models == expected
        assert stored.dialogue_a["llm"]["default"]["model"] == expected["a"].pop()
        assert stored.draw["a"] == battle.draw.a and 0 < stored.draw["probability"] <= 1
        assert "api_key" not in str(stored.contestants) and "sk-test-key" not in str(stored.dialogue_a)
    service.database.dispose()


async def test_votes_beyond_a_session_s_or_an_address_s_limit_are_refused_and_not_stored(tmp_path, served, make_settings):
    service = ArenaService(load_arena(TWO_MODELS), make_settings(served.base_url), open_database(f"sqlite:///{tmp_path / 'a.db'}"),
                           search=SMALL_SEARCH, seed=5, limits=VoteLimits(per_session=2, per_address_per_hour=3))

    async def answered_round():
        battle = service.new_battle()
        await battle.open()
        await battle.send("Tell me more.")
        return battle

    for winner in ("a", "b"):
        service.vote(await answered_round(), winner, "session-1", "10.0.0.1")
    third = await answered_round()
    with pytest.raises(VoteRefused, match="This session has cast its 2 votes"):
        service.vote(third, "tie", "session-1", "10.0.0.1")
    assert third.winner is None
    service.vote(third, "tie", "session-2", "10.0.0.1")  # another session behind the same address
    fourth = await answered_round()
    with pytest.raises(VoteRefused, match="at most 3 an hour"):
        service.vote(fourth, "both_bad", "session-3", "10.0.0.1")
    service.vote(fourth, "both_bad", "session-3", "10.0.0.2")
    assert list(service.votes()["winner"]) == ["a", "b", "tie", "both_bad"]
    # Both contestants met four times: the pair's count is what the next draw weighs.
    assert service.pair_votes() == {"prompting_large vs prompting_small": 4}
    service.database.dispose()


async def test_votes_sent_at_once_from_two_processes_never_pass_a_worker_s_limit(db_url, served, make_settings):
    """Two study processes on one database, one worker's votes arriving together: each process counted
    the votes below the limit before either stored its own, and both were stored."""
    limits = VoteLimits(per_session=2, per_address_per_hour=100)
    processes = [service_for(db_url, make_settings(served.base_url), limits=limits) for _ in range(2)]
    rounds = []
    for n in range(8):
        battle = processes[n % 2].new_battle()
        await battle.open()
        await battle.send("Tell me more.")
        rounds.append((processes[n % 2], battle))
    barrier = threading.Barrier(len(rounds))
    outcomes: list[str] = []

    def vote(service: ArenaService, battle) -> None:
        barrier.wait()
        try:
            service.vote(battle, "tie", "worker-1", f"10.0.0.{len(outcomes)}")
            outcomes.append("stored")
        except VoteRefused:
            outcomes.append("refused")

    threads = [threading.Thread(target=vote, args=pair) for pair in rounds]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["refused"] * 6 + ["stored"] * 2
    assert len(processes[0].votes()) == 2
    for service in processes:
        service.database.dispose()


def test_a_version_1_database_gains_the_arena_table_and_keeps_its_study(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    open_database(url).dispose()
    engine = create_engine(database_url(url))
    with engine.begin() as connection:  # as gdp-zero wrote it before the arena existed
        connection.execute(text("DROP TABLE arena_votes"))
        connection.execute(text("DROP TABLE pairwise_judgments"))  # newer still (schema 3)
        connection.execute(text("UPDATE gdpz_meta SET value = '1' WHERE key = 'schema_version'"))
        connection.execute(text("INSERT INTO studies (name, title, spec, created_at, updated_at) "
                                "VALUES ('s', 'T', '{}', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
    engine.dispose()
    database = open_database(url)
    assert database.meta("schema_version") == str(SCHEMA_VERSION)
    with database.transaction() as session:
        assert session.execute(text("SELECT name FROM studies")).scalars().all() == ["s"]
        assert session.execute(text("SELECT count(*) FROM arena_votes")).scalar() == 0
    database.dispose()
