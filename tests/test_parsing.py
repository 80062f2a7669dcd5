import pytest

from gdp_zero.roles.parsing import parse_reply, parse_utterance

ACTS = ["greeting", "emotion appeal", "logical appeal", "self-modeling", "other"]


@pytest.mark.parametrize(
    "raw,act,text,fallback",
    [
        ("[emotion appeal] Think of the children.", "emotion appeal", "Think of the children.", None),
        ("Persuader: [Emotion-Appeal] Think.", "emotion appeal", "Think.", None),
        ("emotion appeal] continued from a [ cue", "emotion appeal", "continued from a [ cue", None),
        ("[[greeting]] Hi", "greeting", "Hi", None),
        ("Self Modeling] I will donate too.", "self-modeling", "I will donate too.", None),
        ("[emotional appeal] close enough", "emotion appeal", "close enough", None),
        ("Sure! I'd go with [logical appeal] here.", "logical appeal", "Sure! I'd go with  here.", "act_not_first"),
        ("logical appeal because it works", "logical appeal", "logical appeal because it works", "no_brackets"),
        ("[banana] hello", "other", "hello", "unknown_act"),
        ("I cannot help with that.", "other", "I cannot help with that.", "no_act"),
        ("", "other", "", "empty"),
        (None, "other", "", "empty"),
        ("\n\n  [greeting] Hi\nPersuadee: [neutral] ok", "greeting", "Hi", None),
    ],
)
def test_any_text_yields_an_allowed_act(raw, act, text, fallback):
    parsed = parse_reply(raw, ACTS, "other")
    assert (parsed.act, parsed.text, parsed.fallback) == (act, text, fallback)


def test_utterance_parsing_drops_echoed_labels_and_speakers():
    assert parse_utterance("[greeting] Hello there!", "greeting") == ("Hello there!", None)
    assert parse_utterance("Persuader: Hello!", "greeting") == ("Hello!", None)
    assert parse_utterance("   \n", "greeting") == ("", "empty")
