"""The study pages' pure parts: items as inputs and back, what the participant's page says, the counts table."""

from __future__ import annotations

from gdp_zero.llm.settings import EndpointSettings, LLMSettings
from gdp_zero.study.service import ParticipantView, TranscriptLine
from gdp_zero.study.spec import ChoiceItem, LikertItem, NumberItem, TextItem, load_study
from tests.study.web.study_web import STUDY_FILE
from ui.study import admin_views, forms, participant, participant_layout

HOSTILE = "<script>window.__pwned=1</script>**bold** [link](http://x)"


def test_likert_points_are_labelled_by_name_or_by_their_ends() -> None:
    named = LikertItem(id="a", text="A?", type="likert", min=1, max=3, labels=("low", "mid", "high"))
    assert forms.likert_choices(named) == [("low", 1), ("mid", 2), ("high", 3)]
    ends = LikertItem(id="b", text="B?", type="likert", min=0, max=4, labels=("never", "always"))
    assert forms.likert_choices(ends) == [("0 · never", 0), ("1", 1), ("2", 2), ("3", 3), ("4 · always", 4)]
    bare = LikertItem(id="c", text="C?", type="likert", min=1, max=2)
    assert forms.likert_choices(bare) == [("1", 1), ("2", 2)]


def test_answers_leave_out_blanks_and_read_typed_numbers() -> None:
    items = [
        NumberItem(id="amount", text="How much?", type="number", min=0, max=2, unit="$"),
        ChoiceItem(id="pick", text="Pick", type="choice", options=("x", "y")),
        TextItem(id="free", text="Anything?", type="text"),
    ]
    components = ["c-amount", "c-pick", "c-free"]  # stand-ins for the Gradio components: only used as keys
    values = {"c-amount": " $1,5 ", "c-pick": None, "c-free": "  "}
    assert forms.answers(items, values, components) == {"amount": 1.5}
    # What is not a number is passed on as typed, for the service to refuse by the item's name.
    assert forms.answers(items, {"c-amount": "a lot"}, components) == {"amount": "a lot"}


def test_a_number_fields_range_is_written_as_people_write_amounts() -> None:
    dollars = NumberItem(id="amount", text="How much?", type="number", min=0, max=2, unit="$")
    assert forms.number_hint(dollars) == "a number from $0 to $2"
    points = NumberItem(id="score", text="Score?", type="number", min=0, max=10, unit="points")
    assert forms.number_hint(points) == "a number from 0 points to 10 points"
    bare = NumberItem(id="n", text="N?", type="number", min=1, max=1.5)
    assert forms.number_hint(bare) == "a number from 1 to 1.5"


def test_the_participants_page_shows_texts_only_escaped() -> None:
    view = ParticipantView(phase="chat", transcript=(TranscriptLine(0, "bot", HOSTILE), TranscriptLine(1, "you", "hi")),
                           turns=1, min_turns=3, max_turns=8)
    bubbles = participant.chat_messages(view, pending="<b>next</b>")
    assert [b["role"] for b in bubbles] == ["assistant", "user", "user"]
    assert "<script>" not in bubbles[0]["content"] and "&lt;script&gt;" in bubbles[0]["content"]
    assert "<b>" not in bubbles[2]["content"]
    assert participant.chat_status(view) == "Your turn. Send at least 2 more messages before you can end the chat."
    assert participant.chat_status(ParticipantView(phase="chat", turns=3, min_turns=3, max_turns=8)).startswith("You may end")
    assert participant.chat_status(ParticipantView(phase="chat", must_finish=True)) == participant.CHAT_OVER
    assert participant.chat_status(ParticipantView(phase="rating")) == "Rate the message above to continue."
    # The opening message failed: the way on is the Try again button, which the page shows.
    assert "press Try again" in participant.chat_status(ParticipantView(phase="chat", awaiting_reply=True))


def test_a_refused_forms_problems_are_listed_one_per_line_escaped() -> None:
    shown = participant.problems_html({"a": "please answer this question", "b": "expected a number from 0 to 2"},
                                      lambda item: {"a": "<Q1>", "b": "Q2"}[item])
    assert shown.count("<li>") == 2 and "&lt;Q1&gt;: please answer this question" in shown and 'role="alert"' in shown


def test_completion_gives_the_code_and_prolifics_link() -> None:
    done = ParticipantView(phase="complete", completion_code="C0DE<1>",
                           redirect_url="https://app.prolific.com/submissions/complete?cc=C0DE&x=<1>")
    shown = participant.completion_html(done)
    assert '<code id="completion-code">C0DE&lt;1&gt;</code>' in shown
    assert 'href="https://app.prolific.com/submissions/complete?cc=C0DE&amp;x=&lt;1&gt;"' in shown
    out = participant.completion_html(ParticipantView(phase="screened_out", notice="Based on your answers the study ends here.",
                                                      completion_code="SCREEN"))
    assert "the study ends here" in out and "SCREEN" in out and "completion-link" not in out

    # Found full after the pre-survey: its own words; Prolific's "return" unless the study file gives a code.
    study = load_study(STUDY_FILE)
    code, url = study.completion.redirect(screened_out=True, full=True)
    full = ParticipantView(phase="screened_out", reason="study_full", notice="The last places were taken.",
                           completion_code=code, redirect_url=url)
    shown = participant.completion_html(full)
    assert "last places were taken" in shown and participant.RETURN_SUBMISSION in shown
    assert "C1SCRN0" not in shown and "completion-code" not in shown and "to finish" not in shown
    with_code = participant.completion_html(ParticipantView(phase="screened_out", reason="study_full", notice="Full.",
                                                            completion_code="CFULL", redirect_url="https://x.test/?cc=CFULL"))
    assert "CFULL" in with_code and "Return to the study site<" in with_code and participant.RETURN_SUBMISSION not in with_code


def test_the_storage_key_does_not_name_the_conditions() -> None:
    study = load_study(STUDY_FILE)
    key = participant_layout.storage_key(study.id, preview=False)
    assert all(c.name not in key for c in study.conditions)
    assert key != participant_layout.storage_key(study.id, preview=True)
    assert participant_layout.browser_secret(study.id) == participant_layout.browser_secret(study.id)  # the same in every process


def test_counts_per_condition_with_those_not_yet_assigned() -> None:
    study = load_study(STUDY_FILE)
    rows = [("gdpzero", "completed", 3), ("gdpzero", "timed_out", 1), ("prompting", "active", 2), (None, "declined", 4)]
    # A condition on its own model (its [conditions.llm] table) shows that model; roles on different models show each.
    llm = LLMSettings(default=EndpointSettings(model="server-model"))
    gdpzero = study.conditions[0].model_copy(update={"llm": {"model": "condition-model", "roles": {"user_simulator": {"model": "small"}}}})
    study = study.model_copy(update={"conditions": (gdpzero, *study.conditions[1:])})
    models = admin_views.condition_models(study, llm)
    assert models["prompting"] == "server-model"
    assert "user_simulator: small" in models["gdpzero"] and "policy: condition-model" in models["gdpzero"]
    table = admin_views.counts_frame(rows, study, models).set_index("condition")
    assert table.loc["gdpzero", "started"] == 4 and table.loc["gdpzero", "completed"] == 3 and table.loc["gdpzero", "dropped"] == 1
    assert table.loc["prompting", "active"] == 2 and table.loc["prompting", "quota"] == 20
    assert table.loc["prompting", "model"] == "server-model"
    assert table.loc[admin_views.UNASSIGNED, "declined"] == 4
    empty = admin_views.counts_frame([], study, models)
    assert list(empty["condition"]) == ["gdpzero", "prompting"] and (empty["started"] == 0).all()
