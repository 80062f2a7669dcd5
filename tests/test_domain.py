from pathlib import Path

import pytest

from gdp_zero.dialogue import Dialogue
from gdp_zero.domain import DOMAINS_DIR, load_domain
from gdp_zero.validation import ConfigError

P4G = DOMAINS_DIR / "p4g.toml"


def test_p4g_domain_loads_with_the_papers_acts_and_values():
    domain = load_domain("p4g")
    for act in ("greeting", "logical appeal", "emotion appeal", "credibility appeal", "foot in the door",
                "self-modeling", "personal story", "donation information", "source-related inquiry",
                "task-related inquiry", "personal-related inquiry", "proposition of donation", "other"):
        assert act in domain.system_act_names
    assert domain.user_act_values == {
        "no donation": -1.0, "negative reaction": -0.5, "neutral": 0.0, "positive reaction": 0.5, "donate": 1.0,
    }
    assert domain.legal_system_acts(Dialogue()) == ("greeting",)
    assert len(domain.example) >= 6


def test_outcome_ends_on_donation_or_turn_limit():
    domain = load_domain()
    talk = Dialogue().add("system", "greeting", "Hi").add("user", "neutral", "Hello")
    assert domain.outcome(talk) is None
    assert domain.outcome(talk.add("system", "proposition of donation", "Donate?").add("user", "donate", "Yes")) == 1.0
    for _ in range(domain.max_exchanges):
        talk = talk.add("system", "other", "...").add("user", "negative reaction", "no")
    assert domain.outcome(talk) == -0.5


@pytest.mark.parametrize(
    "old,new,field",
    [
        ("value = -1.0", 'value = "very bad"', "user_acts.0.value"),
        ("max_exchanges = 10", "max_exchanges = 0", "max_exchanges"),
        ('first_act = "greeting"', 'first_act = "hello"', "first_act"),
        ('title = "', 'titel = "', "titel"),
        ('speaker = "user"', 'speaker = "bot"', "example.1.speaker"),
        # One corpus label read as two acts of the same speaker would make the P4G counts depend on order.
        ('corpus_labels = ["emotion-appeal"]', 'corpus_labels = ["emotion-appeal", "logical-appeal"]', "logical-appeal"),
    ],
)
def test_a_broken_domain_file_names_the_file_and_field(tmp_path: Path, old, new, field):
    broken = tmp_path / "broken.toml"
    text = P4G.read_text()
    assert old in text
    broken.write_text(text.replace(old, new, 1))
    with pytest.raises(ConfigError) as caught:
        load_domain(broken)
    message = str(caught.value)
    assert str(broken) in message and field in message
    assert "\n" not in message


def test_missing_and_invalid_toml_files_say_so(tmp_path: Path):
    with pytest.raises(ConfigError, match="not found"):
        load_domain(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("name = [unclosed")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_domain(bad)


def test_the_turn_limit_leaves_the_last_word_to_the_persuadee():
    domain = load_domain()
    talk = Dialogue()
    for _ in range(domain.max_exchanges - 1):
        talk = talk.add("system", "other", "...").add("user", "neutral", "hm")
    asked = talk.add("system", "proposition of donation", "How much would you like to donate today?")
    assert asked.exchanges == domain.max_exchanges
    assert domain.end_reason(asked) is None  # the question is not left unanswered
    assert domain.end_reason(asked.add("user", "no donation", "None, sorry.")) == "turn_limit"
