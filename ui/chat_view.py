"""The dialogue as chat messages and the status line under it: pure functions, no Gradio.

Message text comes from a person or an LLM, so it is shown as literal text: HTML-escaped (no tag,
script or entity of it is ever interpreted) and Markdown-escaped (no `**bold**`, links or lists).
Only the act tags and notes added here are HTML.
"""

from __future__ import annotations

import html
import re
from typing import Any, Iterable, Mapping

from gdp_zero.domain import Domain, SystemAct, UserAct
from gdp_zero.mcts.search import SearchProgress
from gdp_zero.records import PlannerTurn, TurnRecord
from gdp_zero.wording import plural

PLANNER_LABELS = {"gdpzero": "GDP-Zero", "prompting": "Prompting", "random": "Random"}

# Characters Markdown (CommonMark + GFM) gives a meaning; a backslash makes each literal.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~:>$=])")


def literal(text: str) -> str:
    """`text` as HTML that a Markdown renderer shows exactly as typed."""
    # < > & first, so no tag or entity survives; quotes need no escaping in text and their
    # numeric entities (&#x27;) would be broken by the Markdown escaping of '#'.
    escaped = html.escape(text, quote=False)
    escaped = _MARKDOWN_SPECIAL.sub(r"\\\1", escaped)
    # Keep the person's line breaks, but not runs of spaces that Markdown reads as code blocks.
    return "<br>".join(line.strip() for line in escaped.splitlines()) if "\n" in escaped else escaped


def message_text(text: str) -> str:
    """A message's text, literal, in its own direction isolate: a right-to-left message reads
    right to left, and nothing in it can reorder the act tag or the note around it."""
    return f'<span class="message-text" dir="auto">{literal(text)}</span>'


def act_tag(act: str, *, user: bool = False, extra: str = "", definition: str = "") -> str:
    """An act as a tag whose tooltip is the act's definition from the domain file (the glossary on hover)."""
    classes = "act-tag user-act" if user else "act-tag"
    who = "the act the tagger gave your message" if user else "the planner's dialogue act"
    title = f"{act}: {definition} ({who})" if definition else who
    return f'<span class="{classes}" title="{html.escape(title)}">{html.escape(act)}{html.escape(extra)}</span>'


def glossary(domain: Domain) -> dict[str, str]:
    """Every act's definition from the domain file, by act name."""
    acts: tuple[SystemAct | UserAct, ...] = (*domain.system_acts, *domain.user_acts)
    return {a.name: a.definition for a in acts}


def glossary_html(domain: Domain) -> str:
    """The act glossary panel: the persuader's acts, then the persuadee's with the value the search gives them."""
    system = "".join(f'<dt><span class="act-tag">{html.escape(a.name)}</span></dt><dd>{html.escape(a.definition)}</dd>'
                     for a in domain.system_acts)
    user = "".join(f'<dt><span class="act-tag user-act">{html.escape(a.name)}</span> <span class="act-value">value '
                   f"{a.value:+.1f}</span></dt><dd>{html.escape(a.definition)}</dd>" for a in domain.user_acts)
    return (f'<div class="glossary"><p><b>{html.escape(domain.system_role)}\'s acts</b> (what the planner chooses '
            f"among)</p><dl>{system}</dl><p><b>{html.escape(domain.user_role)}\'s acts</b> (how your messages are "
            f"tagged; the value is what the search scores)</p><dl>{user}</dl></div>")


def planner_label(planned: PlannerTurn | None) -> str:
    """The name people read for the planner that wrote a turn ("GDP-Zero"); "" for a turn no planner wrote."""
    return PLANNER_LABELS.get(planned.planner, planned.planner) if planned is not None else ""


def turn_note(planned: PlannerTurn | None) -> str:
    """How a reply was planned: simulations, reuse, time; the time-budget cut said plainly."""
    if planned is None:
        return ""
    bits = [planner_label(planned)]
    if planned.tree is not None:
        bits.append(plural(planned.simulations, "simulation"))
        if planned.reused_simulations:
            bits.append(f"{planned.reused_simulations} reused")
    bits.append(f"{planned.seconds:.1f} s")
    note = " · ".join(html.escape(b) for b in bits)
    if planned.stopped_by == "time_budget":
        note += ' · <span class="budget-note">⏱ search cut by the time budget</span>'
    return f'<div class="turn-meta">{note}</div>'


def bot_message(turn: TurnRecord, glossary: Mapping[str, str] | None = None) -> dict[str, Any]:
    tag = act_tag(turn.act, definition=(glossary or {}).get(turn.act, ""))
    versions = f'<div class="turn-meta">version {len(turn.replaced) + 1}: Regenerate kept the earlier ones in the transcript</div>'
    content = f"{tag} {message_text(turn.text)}{turn_note(turn.planned)}{versions if turn.replaced else ''}"
    return {"role": "assistant", "content": content}


def user_message(text: str, act: str | None, *, guessed: bool = False, waiting: str = "",
                 glossary: Mapping[str, str] | None = None) -> dict[str, Any]:
    if act is None:
        tag = f'<span class="act-tag pending-tag">{html.escape(waiting or "not tagged yet")}</span>'
    else:
        tag = act_tag(act, user=True, extra=" (guessed)" if guessed else "", definition=(glossary or {}).get(act, ""))
    return {"role": "user", "content": f"{tag} {message_text(text)}"}


def chat_messages(log: Iterable[TurnRecord], pending: str | None, *, waiting: str = "",
                  glossary: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """The chat's messages; `glossary` (act -> definition) gives each act tag its definition as a tooltip."""
    messages = []
    for turn in log:
        if turn.speaker == "user":
            messages.append(user_message(turn.text, turn.act, guessed=turn.tag_fallback is not None, glossary=glossary))
        else:
            messages.append(bot_message(turn, glossary))
    if pending is not None:
        messages.append(user_message(pending, None, waiting=waiting))
    return messages


# --- status line ------------------------------------------------------------------------------


def status_html(text: str, kind: str = "info") -> str:
    """kind: info, busy, hint (a message was refused or ignored), done, ended (the dialogue is over), error."""
    return f'<div class="status status-{kind}">{html.escape(text)}</div>'


def progress_text(progress: SearchProgress | None, elapsed_s: float, phase: str) -> str:
    if progress is None:
        return f"{phase} · {elapsed_s:.1f} s"
    return (
        f"Searching: {progress.done} of {progress.total} simulations done"
        f" ({progress.in_flight} in flight) · {max(progress.elapsed_s, elapsed_s):.1f} s"
    )


def done_text(planned: PlannerTurn | None) -> str:
    if planned is None:
        return "Your turn."
    label = planner_label(planned)
    if planned.tree is None:
        return f"Replied with {planned.act} ({label}) in {planned.seconds:.1f} s. Your turn."
    cut = " The search was cut by the time budget." if planned.stopped_by == "time_budget" else ""
    return (
        f"Replied with {planned.act} after {plural(planned.simulations, 'simulation')}"
        f" ({planned.reused_simulations} reused) in {planned.seconds:.1f} s.{cut} Your turn."
    )


def error_html(message: str | None, *, has_message: bool = False) -> str:
    """The endpoint's error; Undo is offered only when there is a message of the person's to take back."""
    if not message:
        return ""
    undo = " (or Undo to take your message back)" if has_message else ""
    return (
        '<div class="chat-error" role="alert"><b>The LLM endpoint failed:</b> '
        f"{html.escape(message)}<br>Nothing said so far is lost: press <b>Retry</b> to complete the turn{undo}.</div>"
    )
