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


SYSTEM_ACTS = ["greeting", "emotion appeal", "logical appeal", "task-related inquiry", "other"]
USER_ACTS = ["no donation", "negative reaction", "neutral", "positive reaction", "donate"]


@pytest.mark.parametrize(
    "raw,act,text",
    [
        # The act announced on its own line, the utterance on the next (a chatty instruction-tuned model).
        ("Sure! I'd go with emotion appeal.\nThink of the children who go hungry tonight.", "emotion appeal",
         "Think of the children who go hungry tonight."),
        ("Strategy: logical appeal\nA $1 gift buys two meals.", "logical appeal", "A $1 gift buys two meals."),
        ("[emotion appeal]\nThink of them.", "emotion appeal", "Think of them."),
        ("Here is my reply:\nHello! How are you today?", "greeting", "Hello! How are you today?"),
        # An act label in front of the utterance, in the act's own capitalisation.
        ("Task-Related Inquiry: I am not sure how you feel about charities. Do you give?", "task-related inquiry",
         "I am not sure how you feel about charities. Do you give?"),
        ("**Emotion Appeal**: Imagine a child without food.", "emotion appeal", "Imagine a child without food."),
        # A strategy note after it.
        ("Every dollar helps a child in need. (strategy: positive reaction)", "logical appeal",
         "Every dollar helps a child in need."),
        ("Hello there! (act: greeting)", "greeting", "Hello there!"),
        ("Kids need you. [emotion appeal]", "emotion appeal", "Kids need you."),
        # Ordinary utterances stay whole.
        ("Sure! I'd love to tell you more about them.", "other", "Sure! I'd love to tell you more about them."),
        ("We use every dollar well: 90% goes to programs.", "logical appeal", "We use every dollar well: 90% goes to programs."),
    ],
)
def test_utterances_lose_the_scaffolding_of_chatty_models(raw, act, text):
    assert parse_utterance(raw, act, SYSTEM_ACTS) == (text, None)


def test_an_utterance_that_only_announces_its_act_is_a_fallback():
    assert parse_utterance("Sure! I'd go with emotion appeal.", "emotion appeal", SYSTEM_ACTS) == ("", "only_scaffolding")


@pytest.mark.parametrize(
    "raw,act,text,fallback",
    [
        ("I'd go with neutral.\nMaybe later.", "neutral", "Maybe later.", "no_brackets"),
        ("[neutral]\nI don't know.", "neutral", "I don't know.", None),
        ("Positive Reaction: that sounds good (strategy: positive reaction)", "positive reaction", "that sounds good",
         "no_brackets"),
        ("[positive reaction] That sounds nice. (strategy: positive reaction)", "positive reaction", "That sounds nice.", None),
        ("[donate] Sure, I'll give $1.", "donate", "Sure, I'll give $1.", None),
    ],
)
def test_replies_lose_the_scaffolding_and_keep_the_act(raw, act, text, fallback):
    parsed = parse_reply(raw, USER_ACTS, "neutral")
    assert (parsed.act, parsed.text, parsed.fallback) == (act, text, fallback)
