"""One arena round: two contestants, each with its own dialogue, answering the same person.

The person's every message goes to both chats, which plan their replies at the same time; the round
reports back when both have replied, so which one is quicker (a search is slower) cannot give a
contestant away. If one side's endpoint fails, its message is kept and `retry` completes only the
side that has no reply. The vote closes the round; after it, identities may be shown.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from gdp_zero.arena.contestants import Arena, Contestant
from gdp_zero.arena.leaderboard import WINNERS
from gdp_zero.arena.pairing import Draw
from gdp_zero.session import ChatSession, MessageRejected

SIDES = ("a", "b")


class VoteRefused(ValueError):
    """A vote that cannot be counted; the text says why."""


@dataclass
class Battle:
    arena: Arena
    draw: Draw
    a: ChatSession
    b: ChatSession
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    winner: str | None = None  # set once the vote is stored

    @property
    def sides(self) -> dict[str, ChatSession]:
        return {"a": self.a, "b": self.b}

    def contestant(self, side: str) -> Contestant:
        return self.arena.by_name[self.draw.a if side == "a" else self.draw.b]

    @property
    def exchanges(self) -> int:
        """The person's messages that both sides have answered (the greeting is not one)."""
        return min(max(0, sum(t.speaker == "system" for t in chat.log) - 1) for chat in self.sides.values())

    @property
    def sent(self) -> int:
        """The person's messages so far (kept by both sides, answered or not)."""
        return max(sum(t.speaker == "user" for t in chat.log) + (chat.pending is not None) for chat in self.sides.values())

    @property
    def ended(self) -> bool:
        """Either dialogue has ended: the round goes no further than the vote."""
        return any(chat.ending is not None for chat in self.sides.values())

    def _waiting(self, chat: ChatSession) -> bool:
        """This side owes a reply (the greeting, or to the person's last message)."""
        if chat.ending is not None:
            return False
        return not chat.log or chat.pending is not None or chat.log[-1].speaker == "user"

    @property
    def can_retry(self) -> bool:
        return self.winner is None and any(self._waiting(chat) for chat in self.sides.values())

    def check_send(self, text: str | None) -> str:
        """The message as both sides will keep it, or MessageRejected saying why it cannot go now."""
        if self.winner is not None:
            raise MessageRejected("You have voted in this round: start a new round to chat again.")
        if self.ended:
            raise MessageRejected("This round's dialogue has ended: vote, then start a new round.")
        if self.can_retry:
            raise MessageRejected("A persuader's reply is missing: retry first.")
        checked = ""
        for chat in self.sides.values():
            checked = chat.check_send(text)
        return checked

    async def open(self) -> None:
        """Both persuaders greet the person."""
        await self._both(lambda chat: chat.open())

    async def send(self, text: str | None) -> None:
        message = self.check_send(text)
        await self._both(lambda chat: chat.send(message))

    async def retry(self) -> None:
        """Complete the turn on each side still owing a reply."""
        if not self.can_retry:
            raise MessageRejected("There is nothing to retry: both persuaders have replied.")
        await self._both(lambda chat: chat.retry(), only_waiting=True)

    async def _both(self, call: Callable[[ChatSession], Awaitable[object]], only_waiting: bool = False) -> None:
        chats = [chat for chat in self.sides.values() if not only_waiting or self._waiting(chat)]
        results = await asyncio.gather(*(call(chat) for chat in chats), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result

    def check_vote(self, winner: str) -> None:
        if winner not in WINNERS:
            raise VoteRefused(f"Unknown vote {winner!r}: choose one of {', '.join(WINNERS)}.")
        if self.winner is not None:
            raise VoteRefused("This round already has your vote: start a new round.")
        if self.exchanges < 1:
            raise VoteRefused("Send a message and read both replies before you vote.")
