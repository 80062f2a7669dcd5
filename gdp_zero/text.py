"""Text from outside (LLM replies, people's messages) made safe to store, prompt with and show.

`clean_text` is applied where text enters: the LLM client cleans every reply, the chat session
every message a person sends. After it, a text is valid Unicode (a lone UTF-16 surrogate, which
JSON allows and UTF-8 cannot encode, becomes U+FFFD), holds no control character but newline
and tab (terminal escape sequences are removed whole; no NUL or carriage return), and no bidirectional embedding,
override or isolate (U+202A-U+202E, U+2066-U+2069), which would reverse how the rest of a
message is displayed. `for_terminal` is the stricter filter for lines printed on a terminal.
"""

from __future__ import annotations

import re

# The longest LLM reply kept, in characters: a role's max_tokens keeps real replies far shorter
# (120 tokens is about 500 characters), so only a server that ignores max_tokens is cut.
MAX_LLM_TEXT_CHARS = 1000

_BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
# Terminal escape sequences are dropped whole, so no "[2J" or "]0;title" residue is shown:
# CSI (ESC [ or 0x9B, parameters, final byte); OSC, DCS, PM, APC, SOS (ESC ] P ^ _ X up to BEL,
# ESC \\ or the end of the line; their one-character C1 forms, U+009D and so on, only with their
# terminator, so a stray U+009D in a reply loses itself and not the rest of the line); any
# other ESC and the byte after it.
_ESCAPE_SEQUENCE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"
    r"|\x1b[\]P^_X][^\x07\x1b\n]*(?:\x07|\x1b\\)?"
    r"|[\x9d\x90\x9e\x9f\x98][^\x07\x1b\x9c\n]*(?:\x07|\x1b\\|\x9c)"
    r"|\x1b[ -~]?"
)
_UNWANTED = re.compile(f"[\\x00-\\x08\\x0b-\\x1f\\x7f-\\x9f{_BIDI_CONTROLS}]")  # C0 but tab and newline, DEL, C1


def clean_text(text: str, limit: int | None = None) -> str:
    """`text` as valid Unicode without control characters (but newline and tab) or bidi controls.

    Line breaks (CRLF, CR) become newlines. With `limit`, the result is cut to that many
    characters, ending in an ellipsis when something was cut.
    """
    # Through UTF-16 with surrogatepass a valid surrogate pair becomes its one code point and
    # a lone surrogate an invalid sequence, which the decoder replaces.
    text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    text = _ESCAPE_SEQUENCE.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = _UNWANTED.sub("", text)
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def for_terminal(text: str) -> str:
    """One line of printable characters for anything from outside printed on a terminal (replies,
    model ids, servers' error texts): escape sequences go whole as in `clean_text`, then every
    other character a terminal would interpret (C1 controls, bidi or zero-width format characters);
    line breaks and other spaces become spaces, so a text cannot forge a line of its own."""
    return "".join(ch if ch.isprintable() else " " if ch.isspace() else "" for ch in clean_text(text))
