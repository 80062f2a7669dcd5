"""Reading acts out of whatever an LLM wrote.

Models answer "[emotion appeal] Think of the children", but also "Persuader: emotion appeal -
Think...", "Emotion-Appeal]" (a base model continuing a "[" cue), an unknown act, extra prose or
nothing at all. Every input yields an act from the allowed list; when that took a guess, the
result names the kind of fallback so the ledger can count it. Parsing never raises.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Sequence

_BRACKETED = re.compile(r"\[([^\[\]\n]{1,60})\]")
_SPEAKER_PREFIX = re.compile(r"^\s*(?:[A-Z][A-Za-z ]{0,20}:\s*)+")
_LEADING_LABEL = re.compile(r"^\s*\[?([A-Za-z][A-Za-z \-]{0,40})\]\s*")


def normalise_act(name: str) -> str:
    return re.sub(r"[\s_\-]+", " ", name.strip().lower())


@dataclass(frozen=True)
class ParsedReply:
    act: str
    text: str
    fallback: str | None = None  # None when the act was read cleanly


def _match(candidate: str, allowed: Sequence[str]) -> str | None:
    wanted = normalise_act(candidate)
    by_norm = {normalise_act(a): a for a in allowed}
    if wanted in by_norm:
        return by_norm[wanted]
    close = difflib.get_close_matches(wanted, list(by_norm), n=1, cutoff=0.8)
    return by_norm[close[0]] if close else None


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


def _clean_text(text: str) -> str:
    """The utterance alone: no speaker prefix, no leftover act label, no leading punctuation."""
    text = _SPEAKER_PREFIX.sub("", text, count=1).strip()
    for _ in range(3):  # small models stack them: ": [negative reaction]: I don't know"
        stripped = _LEADING_LABEL.sub("", text, count=1) if _is_label(text) else text
        stripped = stripped.lstrip(":-–— \t")
        if stripped == text:
            break
        text = stripped
    return text.strip().strip('"').strip()


def _is_label(text: str) -> bool:
    match = _LEADING_LABEL.match(text)
    return bool(match) and "]" in text[: match.end()]


def parse_reply(raw: str | None, allowed: Sequence[str], fallback_act: str) -> ParsedReply:
    """Split "[act] text" into an allowed act and the text after it."""
    # A base model continuing a "[" cue sometimes opens its own bracket too.
    line = _SPEAKER_PREFIX.sub("", _first_line(raw or "").replace("[[", "[").replace("]]", "]"), count=1).strip()
    if not line:
        return ParsedReply(fallback_act, "", "empty")
    label = _LEADING_LABEL.match(line)
    if label and "]" in line[: label.end()]:
        act = _match(label.group(1), allowed)
        if act is not None:
            return ParsedReply(act, _clean_text(line[label.end():]))
    for bracketed in _BRACKETED.finditer(line):
        act = _match(bracketed.group(1), allowed)
        if act is not None:
            text = _clean_text(line[: bracketed.start()] + line[bracketed.end():])
            return ParsedReply(act, text, None if bracketed.start() == 0 else "act_not_first")
    lowered = normalise_act(line)
    mentioned = [a for a in sorted(allowed, key=len, reverse=True) if normalise_act(a) in lowered]
    if mentioned:
        return ParsedReply(mentioned[0], _clean_text(_BRACKETED.sub("", line)), "no_brackets")
    kind = "unknown_act" if _BRACKETED.search(line) or (label and "]" in line[: label.end()]) else "no_act"
    return ParsedReply(fallback_act, _clean_text(_BRACKETED.sub("", line)), kind)


def parse_utterance(raw: str | None, act: str) -> tuple[str, str | None]:
    """The text of an utterance written for a known act: drop an echoed label or speaker prefix."""
    line = _clean_text(_first_line(raw or ""))
    label = _LEADING_LABEL.match(line)
    if label and "]" in line[: label.end()]:
        line = _clean_text(line[label.end():])
    if not line:
        return "", "empty"
    return line, None
