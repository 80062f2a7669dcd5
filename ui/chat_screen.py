"""What the chat page shows for a person's chat, as plain data: no Gradio, so it is unit-tested directly.

`ui/chat_page.py` turns these into component updates; everything it shows is decided here from
the `UserChat` (the dialogue, the turn in flight, the error) and the tree views in `ui/tree_view.py`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from gdp_zero.planners.base import PlannerTurn
from ui import chat_view, dropdowns, tree_view, usage_view
from ui.sessions import UserChat

MESSAGE_PLACEHOLDER_ENDED = "The dialogue has ended: press Restart for a new one."
# The record's ratings as the chat component's feedback options name them (its thumbs icons).
FEEDBACK_OPTIONS: dict[str | None, str | None] = {"up": "Like", "down": "Dislike", None: None}
RATINGS_BY_OPTION = {True: "up", False: "down", "Like": "up", "Dislike": "down"}


def rating_of(liked: bool | str) -> str | None:
    """The chat component's like event as a record's rating; anything else (a thumb taken back) clears it."""
    return RATINGS_BY_OPTION.get(liked) if isinstance(liked, (bool, str)) else None


@dataclass(frozen=True)
class ChatScreen:
    """The chat column and its neighbours after a turn ended (or nothing ran)."""

    messages: list[dict[str, Any]]
    status: str  # HTML of the status line
    error: str  # HTML of the endpoint error; "" hides the box
    ended: bool  # the dialogue is over: no more messages until Restart
    transcript: str | None  # the transcript file to download, None while there is nothing to save
    turns: list[tuple[str, int]]  # the Turn dropdown's choices (label, log index), newest first
    latest: int | None  # the log index of the newest persuader turn
    usage: list[list[Any]]
    can_retry: bool
    can_regenerate: bool
    feedback: list[str | None]  # each persuader message's 👍/👎 as the chat component names them (Like, Dislike)


@dataclass(frozen=True)
class BusyScreen:
    """The chat column while a turn runs."""

    messages: list[dict[str, Any]]
    status: str


def chat_screen(user: UserChat, status_text: str, kind: str = "done") -> ChatScreen:
    session = user.session
    log = session.log
    bot_turns = [i for i, t in enumerate(log) if t.speaker == "system"]
    has_content = bool(log) or session.pending is not None
    ending = session.ending
    if ending is not None and not user.error:
        status_text, kind = f"{ending} Press Restart for a new dialogue.", "ended"
    has_message = session.pending is not None or bool(log and log[-1].speaker == "user")
    return ChatScreen(
        messages=chat_view.chat_messages(log, session.pending, waiting="waiting for a reply" if user.error else "reading…",
                                         glossary=chat_view.glossary(session.domain)),
        status=chat_view.status_html(status_text, kind),
        error=chat_view.error_html(user.error, has_message=has_message),
        ended=ending is not None,
        transcript=write_json(user, transcript_name(user), session.transcript()) if has_content else None,
        turns=[(turn_label(user, i), i) for i in reversed(bot_turns)],
        latest=bot_turns[-1] if bot_turns else None,
        usage=usage_view.usage_rows(session.client.ledger, {turn: turn_label(user, i) for i in bot_turns
                                                            if (turn := log[i].ledger_turn) is not None}),
        can_retry=user.can_retry,
        can_regenerate=session.can_regenerate and not user.busy,
        feedback=[FEEDBACK_OPTIONS.get(t.feedback.rating if t.feedback else None) for t in log if t.speaker == "system"],
    )


def busy_screen(user: UserChat) -> BusyScreen:
    log = user.session.log
    phase = user.phase
    if user.session.pending is None and log and log[-1].speaker == "user":
        phase = "Your message is labelled; the persuader is planning a reply"
    text = chat_view.progress_text(user.progress, time.monotonic() - user.started, phase)
    return BusyScreen(chat_view.chat_messages(log, user.session.pending, waiting="reading…",
                                              glossary=chat_view.glossary(user.session.domain)),
                      chat_view.status_html(text, "busy"))


def planned_at(user: UserChat, index: int | None) -> PlannerTurn | None:
    log = user.session.log
    return log[index].planned if index is not None and 0 <= index < len(log) else None


def tree_of(user: UserChat, index: int | None) -> dict[str, Any] | None:
    planned = planned_at(user, index)
    return planned.tree if planned is not None else None


def turn_panel(user: UserChat, index: int | None) -> tuple[tree_view.TreePanel, str | None]:
    """The tree panel of the persuader turn at log `index`, and its tree's download file (None: no tree)."""
    planned = planned_at(user, index)
    panel = tree_view.tree_panel(planned, chat_view.planner_label(planned), user.view)
    if planned is None or planned.tree is None:
        return panel, None
    return panel, write_json(user, f"gdp-zero-tree-{_stamp(user)}-turn-{dropdowns.turn_number(user.session.log, index)}.json", planned.tree)


def transcript_name(user: UserChat) -> str:
    """gdp-zero-transcript-20261206-021430.json: named by when the dialogue started, so downloads do not collide."""
    return f"gdp-zero-transcript-{_stamp(user)}.json"


def _stamp(user: UserChat) -> str:
    """The dialogue's start as YYYYMMDD-HHMMSS (UTC), from the session's ISO timestamp."""
    return "".join(c for c in user.session.started_at[:19] if c.isdigit() or c == "T").replace("T", "-")


def turn_label(user: UserChat, index: int) -> str:
    """The Turn dropdown's label of the persuader turn at log `index`, naming the planner that wrote it."""
    return dropdowns.turn_label(user.session.log, index, chat_view.planner_label(user.session.log[index].planned))


def write_json(user: UserChat, name: str, data: Any) -> str:
    return user.write_download(name, json.dumps(data, indent=2, ensure_ascii=False))
