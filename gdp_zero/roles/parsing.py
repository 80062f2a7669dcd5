"""Reading acts out of whatever an LLM wrote.

Models answer "[emotion appeal] Think of the children", but also "Persuader: emotion appeal -
Think...", "Emotion-Appeal]" (a base model continuing a "[" cue), an unknown act, extra prose or
nothing at all. Every input yields an act from the allowed list; when that took a guess, the
result names the kind of fallback so the ledger can count it. Parsing never raises.

Chatty models also wrap the utterance in scaffolding that must never reach the other speaker: a
line naming the act before the utterance ("Sure! I'd go with emotion appeal." then the line
itself), an act label in front of it ("Task-Related Inquiry: I am not sure...") and a strategy
note after it ("... (strategy: positive reaction)"). `_body` and `_strip_notes` take them off.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass

_BRACKETED = re.compile(r"\[([^\[\]\n]{1,60})\]")
_SPEAKER_PREFIX = re.compile(r"^\s*(?:[A-Z][A-Za-z ]{0,20}:\s*)+")
_LEADING_LABEL = re.compile(r"^\s*\[?([A-Za-z][A-Za-z \-]{0,40})\]\s*")
# How a chatty model opens a line about its answer ("Here is my reply:") or names its choice.
_PREAMBLE = re.compile(r"^\s*(?:sure|okay|ok|certainly|of course|alright|here(?:'s| is| goes))\b", re.IGNORECASE)
_CHOICE = re.compile(
    r"\b(?:go(?:ing)? with|us(?:e|ing)|choos(?:e|ing)|pick(?:ing)?|try(?:ing)?|act|strategy)\b\s*(?:is\b|:)?\s*"
    r"(?:an?\s+|the\s+)?(.+?)(?:\s+(?:here|now|this time|again|strategy|approach|act))?[\s.!:\"'*\]]*$",
    re.IGNORECASE,
)
_NOTE_WORDS = r"(?:strategy|dialogue act|dialog act|act|label|tone|intent)"
_TRAILING_NOTE = re.compile(rf"\s*[\(\[]\s*{_NOTE_WORDS}\s*[:=][^\(\)\[\]]*[\)\]]\s*$", re.IGNORECASE)
_TRAILING_BRACKETS = re.compile(r"\s*[\(\[]([^\(\)\[\]]{1,60})[\)\]]\s*$")
_LEADING_NAMED = re.compile(r"^\s*(?:\*\*)?([A-Za-z][A-Za-z \-]{0,40}?)(?:\*\*)?\s*[:\u2013\u2014]\s+")
_MAX_SCAFFOLD_LINES = 3


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


def _lines(text: str | None) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def _mentioned_acts(line: str, acts: Sequence[str]) -> list[str]:
    """The acts named anywhere in `line`, longest name first."""
    lowered = normalise_act(line)
    return [a for a in sorted(acts, key=len, reverse=True) if normalise_act(a) in lowered]


def _is_scaffolding(line: str, acts: Sequence[str]) -> bool:
    """A line about the answer, not the answer: "Sure! I'd go with emotion appeal.", "[greeting]",
    "Strategy: logical appeal", "Here is my reply:"."""
    names = {normalise_act(a) for a in acts}  # exact names only: a fuzzy match would take "[greeting] Hi" for one
    if normalise_act(line.strip(" []().!:*\"'")) in names:
        return True
    choice = _CHOICE.search(_strip_notes(line, acts))  # "Hello! (act: greeting)" is an utterance with a note
    if choice is not None and normalise_act(choice.group(1).strip(" []\"'*")) in names:
        return True
    return bool(_PREAMBLE.match(line)) and line.rstrip(" *").endswith(":")


def _body(lines: list[str], acts: Sequence[str]) -> tuple[list[str], list[str]]:
    """(the scaffolding lines that open the answer, the lines from the utterance on); a lone line is the body."""
    opening = 0
    while opening < min(len(lines) - 1, _MAX_SCAFFOLD_LINES) and _is_scaffolding(lines[opening], acts):
        opening += 1
    return lines[:opening], lines[opening:]


def _strip_notes(text: str, acts: Sequence[str]) -> str:
    """Without an act label in front ("Task-Related Inquiry: ...") or a strategy note behind ("(strategy: ...)")."""
    named = _LEADING_NAMED.match(text)
    if named and _match(named.group(1), acts) is not None:
        text = text[named.end():]
    for _ in range(2):  # "... (positive reaction) (strategy: ...)"
        note = _TRAILING_NOTE.search(text)
        trailing = _TRAILING_BRACKETS.search(text)
        if note is not None:
            text = text[: note.start()]
        elif trailing is not None and _match(trailing.group(1), acts) is not None:
            text = text[: trailing.start()]
        else:
            break
    return text.strip().strip('"').strip()


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
    return match is not None and "]" in text[: match.end()]


def parse_reply(raw: str | None, allowed: Sequence[str], fallback_act: str) -> ParsedReply:
    """Split "[act] text" into an allowed act and the text after it.

    When the act stands on a line of its own before the text ("[neutral]" or "I'd go with neutral."),
    the act is read there and the text from the line after it.
    """
    # A base model continuing a "[" cue sometimes opens its own bracket too.
    lines = [line.replace("[[", "[").replace("]]", "]") for line in _lines(raw)]
    opening, body = _body(lines, allowed)
    parsed = _parse_line(body[0] if body else "", allowed, fallback_act)
    if parsed.fallback in ("no_act", "empty"):
        for line in opening:
            announced = _parse_line(line, allowed, fallback_act)
            if announced.fallback not in ("no_act", "unknown_act", "empty"):
                kind = None if announced.fallback is None else "no_brackets"
                return ParsedReply(announced.act, parsed.text, kind if parsed.text else "empty")
    return parsed


def _parse_line(raw_line: str, allowed: Sequence[str], fallback_act: str) -> ParsedReply:
    line = _SPEAKER_PREFIX.sub("", raw_line, count=1).strip()
    if not line:
        return ParsedReply(fallback_act, "", "empty")
    label = _LEADING_LABEL.match(line)
    if label and "]" in line[: label.end()]:
        act = _match(label.group(1), allowed)
        if act is not None:
            return ParsedReply(act, _strip_notes(_clean_text(line[label.end():]), allowed))
    for bracketed in _BRACKETED.finditer(line):
        act = _match(bracketed.group(1), allowed)
        if act is not None:
            text = _strip_notes(_clean_text(line[: bracketed.start()] + line[bracketed.end():]), allowed)
            return ParsedReply(act, text, None if bracketed.start() == 0 else "act_not_first")
    named = _LEADING_NAMED.match(line)
    if named is not None and (act := _match(named.group(1), allowed)) is not None:  # "Positive Reaction: that sounds good"
        return ParsedReply(act, _strip_notes(_clean_text(line[named.end():]), allowed), "no_brackets")
    mentioned = _mentioned_acts(line, allowed)
    if mentioned:
        return ParsedReply(mentioned[0], _strip_notes(_clean_text(_BRACKETED.sub("", line)), allowed), "no_brackets")
    kind = "unknown_act" if _BRACKETED.search(line) or (label and "]" in line[: label.end()]) else "no_act"
    return ParsedReply(fallback_act, _strip_notes(_clean_text(_BRACKETED.sub("", line)), allowed), kind)


def parse_utterance(raw: str | None, act: str, acts: Sequence[str] = ()) -> tuple[str, str | None]:
    """The text of an utterance written for a known act: without an echoed label, speaker prefix, a line
    announcing the act, or a strategy note; `acts` are the other act names a note may use."""
    names = (act, *acts)
    lines = _lines(raw)
    _, body = _body(lines, names)
    if not body:
        return "", "empty"
    if len(body) == 1 and _is_scaffolding(body[0], names):  # nothing but the announcement
        return "", "only_scaffolding"
    line = _clean_text(body[0])
    label = _LEADING_LABEL.match(line)
    if label and "]" in line[: label.end()]:
        line = _clean_text(line[label.end():])
    line = _strip_notes(line, names)
    if not line:
        return "", "empty"
    return line, None
