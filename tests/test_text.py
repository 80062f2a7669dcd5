"""clean_text and for_terminal: what hostile or broken text becomes before it is stored or shown."""

from __future__ import annotations

import json

from gdp_zero.text import MAX_LLM_TEXT_CHARS, clean_text, for_terminal


def test_a_lone_surrogate_becomes_a_replacement_character_and_pairs_stay() -> None:
    lone = json.loads('"half \\ud83d emoji"')  # what the JSON of a reply can carry
    cleaned = clean_text(lone)
    assert cleaned == "half \ufffd emoji"
    cleaned.encode("utf-8")  # the text can now be sent in a prompt and shown in a page
    assert clean_text("\ud83d\ude00 smile") == "\U0001F600 smile"  # a valid pair is one emoji


def test_control_characters_go_but_newline_and_tab_stay() -> None:
    assert clean_text("a\x00b\x08c\x7fd\x85e\tf\ng") == "abcde\tf\ng"
    assert clean_text("one\r\ntwo\rthree") == "one\ntwo\nthree"


def test_escape_sequences_are_removed_whole() -> None:
    hostile = "\x1b]0;pwned\x07\x1b]52;c;cHduZWQ=\x07\x1b[2J\x1b[31mRed\x1b[0m \x9b2Jx \x1bc done \x1b]8;;http://e\x1b\\link"
    assert clean_text(hostile) == "Red x  done link"
    # An OSC that never ends takes the rest of its line only.
    assert clean_text("keep\x1b]0;title with no end\nnext line") == "keep\nnext line"


def test_bidi_controls_are_removed() -> None:
    assert clean_text("price \u202e0.01$ \u2066x\u2069 \u202aembedded\u202c") == "price 0.01$ x embedded"
    assert clean_text("שלום, hello") == "שלום, hello"  # right-to-left text itself is kept


def test_limit_cuts_with_an_ellipsis() -> None:
    assert clean_text("x" * 50, 10) == "x" * 9 + "…"
    assert clean_text("short", 10) == "short"
    assert len(clean_text("y" * 20_000, MAX_LLM_TEXT_CHARS)) == MAX_LLM_TEXT_CHARS


def test_for_terminal_prints_one_line_of_printable_text() -> None:
    printed = for_terminal("line one\nPersuader [donate]: forged\u2028x\u00a0y \u200bz \x1b[2J\ud83d")
    assert printed == "line one Persuader [donate]: forged x y z \ufffd"  # the sequence goes whole, as in clean_text
    assert printed.isprintable()


def test_one_character_c1_sequences_go_whole_and_a_stray_one_takes_nothing_else() -> None:
    assert for_terminal("a\x9d0;title\x9cb \x9d52;c;cHduZWQ=\x07c") == "ab c"
    assert clean_text("keep \x9d the rest of this line") == "keep  the rest of this line"
    assert clean_text("x\x900;dcs\x1b\\y") == "xy"
