"""The arena as a service: draws rounds, stores votes (SQLite or PostgreSQL), and keeps voters within limits.

Every vote is written before anyone is told it counted, in one row with both dialogues so far,
the contestants (with the model of every role), the draw and a pseudonymous voter id: the salted
hash (the study exports' pseudonym, salted with the database's secret `export_salt`) of the voter's
key, the browser's session in the app's tab and the recruitment id in a crowd arena. Limits: votes per
voter (counted in the database) and per client address per hour (counted here; the address is never
stored).
"""

from __future__ import annotations

import json
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from gdp_zero.arena.battle import Battle, VoteRefused
from gdp_zero.arena.contestants import Arena
from gdp_zero.arena.leaderboard import VotesError
from gdp_zero.arena.pairing import draw_pair, pair_key
from gdp_zero.llm.settings import LLMSettings
from gdp_zero.planners import GDPZeroConfig
from gdp_zero.serving.limits import forget_before
from gdp_zero.study import crud
from gdp_zero.study.db import Database, open_database, redacted
from gdp_zero.study.export import pseudonym

VOTES_TABLE_COLUMNS = ("arena", "battle", "voter", "model_a", "model_b", "winner", "exchanges", "at")
HOUR_S = 3600.0


@dataclass(frozen=True)
class VoteLimits:
    per_session: int = 100  # votes one voter (a browser session, a crowd worker) may cast in an arena
    per_address_per_hour: int = 200  # votes from one client address in any hour

    def __post_init__(self) -> None:
        if self.per_session < 1 or self.per_address_per_hour < 1:
            raise ValueError(f"vote limits must be at least 1, got {self}")


class ArenaService:
    def __init__(
        self, arena: Arena, settings: LLMSettings, database: Database, *, search: GDPZeroConfig | None = None,
        limits: VoteLimits = VoteLimits(), seed: int | None = None, clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.arena, self.settings, self.database, self.search = arena, settings, database, search
        self.limits = limits
        self.rng = random.Random(seed)
        self._clock = clock
        self._salt = database.meta("export_salt") or ""
        self._by_address: dict[str, deque[float]] = {}

    def pair_votes(self) -> dict[str, int]:
        """Votes so far per pair (either side order), by pair key."""
        counts: dict[str, int] = {}
        with self.database.transaction() as session:
            for a, b, count in crud.arena_pair_counts(session, self.arena.id):
                counts[pair_key(a, b)] = counts.get(pair_key(a, b), 0) + count
        return counts

    def new_battle(self) -> Battle:
        """Draw a pair (towards pairs with few votes) and give each side a fresh chat; nothing is planned yet."""
        draw = draw_pair(self.arena.names, self.pair_votes(), self.rng)
        a, b = (self.arena.by_name[name].session(self.settings, self.arena.domain, self.search) for name in (draw.a, draw.b))
        return Battle(self.arena, draw, a, b)

    def voter(self, voter_key: str) -> str:
        """The pseudonym a voter votes under: stable within the database, not reversible without its salt."""
        return pseudonym(voter_key, self._salt)

    def votes_of(self, voter_key: str) -> int:
        """The votes cast so far under this voter's pseudonym."""
        with self.database.transaction() as session:
            return crud.arena_votes_of_voter(session, self.arena.id, self.voter(voter_key))

    def vote(self, battle: Battle, winner: str, voter_key: str, address: str) -> int:
        """Store the vote (its row id) and close the round, or VoteRefused saying why it was not counted."""
        battle.check_vote(winner)
        now = self._clock()
        recent = forget_before(self._by_address.setdefault(address, deque()), now - HOUR_S)
        if len(recent) >= self.limits.per_address_per_hour:
            raise VoteRefused(f"Too many votes from your address: at most {self.limits.per_address_per_hour} an hour.")
        voter = self.voter(voter_key)
        with self.database.transaction() as session:
            crud.lock_voter(session, self.arena.id, voter)
            if crud.arena_votes_of_voter(session, self.arena.id, voter) >= self.limits.per_session:
                raise VoteRefused(f"This session has cast its {self.limits.per_session} votes: thank you (no more are counted).")
            row = crud.add_arena_vote(
                session, arena=self.arena.id, battle=battle.id, voter=voter, model_a=battle.draw.a, model_b=battle.draw.b,
                winner=winner, exchanges=battle.exchanges,
                dialogue_a=battle.a.transcript(), dialogue_b=battle.b.transcript(),
                contestants={side: battle.contestant(side).public_dict(self.settings) for side in ("a", "b")},
                draw=battle.draw.to_dict(),
            )
            vote_id = row.id
        recent.append(now)
        battle.winner = winner
        return vote_id

    def votes(self) -> pd.DataFrame:
        """The arena's votes, one row each, oldest first (the columns of VOTES_TABLE_COLUMNS)."""
        return votes_frame(self.database, self.arena.id)


def votes_frame(database: Database, arena: str) -> pd.DataFrame:
    """The arena's votes; VotesError when a contestant's name stood for different settings or models
    in different votes (the arena file changed under it): one rating would pool two conditions."""
    ran_as: dict[str, set[str]] = {}
    with database.transaction() as session:
        votes = crud.arena_votes(session, arena)
        rows = [[getattr(vote, column) for column in VOTES_TABLE_COLUMNS] for vote in votes]
        for vote in votes:
            for side, name in (("a", vote.model_a), ("b", vote.model_b)):
                ran = {k: v for k, v in vote.contestants.get(side, {}).items() if k != "label"}  # a new label is harmless
                ran_as.setdefault(name, set()).add(json.dumps(ran, sort_keys=True))
    mixed = sorted(name for name, seen in ran_as.items() if len(seen) > 1)
    if mixed:
        raise VotesError(f"arena {arena!r}: {', '.join(mixed)} ran with different settings or models in different votes; "
                         "give a contestant a new name when its settings change (one rating must not pool two conditions)")
    return pd.DataFrame(rows, columns=list(VOTES_TABLE_COLUMNS))


def read_votes(source: str, arena: str | None = None) -> tuple[pd.DataFrame, str]:
    """Votes and the arena they are from: a CSV file (the tab's "Votes (CSV)", or any table with columns
    model_a, model_b, winner), or a study database (a path or URL) and, when it holds several, `arena`."""
    if source.lower().endswith(".csv"):
        try:
            votes = pd.read_csv(source, dtype=str, keep_default_na=False)
        except FileNotFoundError:
            raise VotesError(f"{source}: file not found") from None
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
            raise VotesError(f"{source}: not a readable CSV file ({str(error).splitlines()[0]})") from None
        if arena is not None and "arena" in votes.columns:
            votes = votes[votes["arena"] == arena]
        return votes, arena or Path(source).stem
    if "://" not in source and not Path(source).is_file():
        raise VotesError(f"{source}: file not found (give a study database or a votes CSV file)")
    database = open_database(source)
    try:
        with database.transaction() as session:
            arenas = crud.arena_names(session)
        if arena is None:
            if len(arenas) != 1:
                found = ", ".join(arenas) if arenas else "none"
                raise VotesError(f"{redacted(source)}: name the arena with --arena (arenas with votes in it: {found})")
            arena = arenas[0]
        elif arena not in arenas:
            raise VotesError(f"{redacted(source)}: no votes of arena {arena!r} (arenas with votes in it: {', '.join(arenas) or 'none'})")
        return votes_frame(database, arena), arena
    finally:
        database.dispose()
