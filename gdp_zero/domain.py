"""A dialogue task as data: acts, their values, background text, limits, a worked example.

The planner, the prompts and the fake LLM server all read acts from a Domain, never from
constants in code, so a second task is a new TOML file rather than a fork.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from pydantic import Field, model_validator

from gdp_zero.dialogue import Dialogue, Turn
from gdp_zero.validation import StrictModel, load_toml_file

DOMAINS_DIR = Path(__file__).parent / "domains"
DEFAULT_DOMAIN = "p4g"
# Why a dialogue ended (Domain.end_reason; DialogueRecord.end_reason)
SUCCESS, TURN_LIMIT = "success", "turn_limit"


class SystemAct(StrictModel):
    name: str = Field(min_length=1)
    definition: str = Field(min_length=1)
    corpus_labels: tuple[str, ...] = ()


class UserAct(StrictModel):
    name: str = Field(min_length=1)
    value: float = Field(ge=-1.0, le=1.0)
    definition: str = Field(min_length=1)
    corpus_labels: tuple[str, ...] = ()


class ExampleTurn(StrictModel):
    speaker: str = Field(pattern="^(system|user)$")
    act: str
    text: str = Field(min_length=1)


class Domain(StrictModel):
    name: str
    title: str
    system_role: str
    user_role: str
    goal: str
    background: str
    first_act: str
    success_act: str
    max_exchanges: int = Field(ge=1, le=100)
    value_question: str
    value_question_act: str
    system_acts: tuple[SystemAct, ...] = Field(min_length=2)
    user_acts: tuple[UserAct, ...] = Field(min_length=2)
    example: tuple[ExampleTurn, ...] = Field(min_length=2)

    @model_validator(mode="after")
    def _acts_are_consistent(self) -> Domain:
        system_names = [a.name for a in self.system_acts]
        user_names = [a.name for a in self.user_acts]
        for label, names in (("system_acts", system_names), ("user_acts", user_names)):
            if len(set(names)) != len(names):
                raise ValueError(f"{label}: act names must be unique, got {names}")
        for label, acts in (("system_acts", self.system_acts), ("user_acts", self.user_acts)):
            seen: dict[str, str] = {}
            for act in acts:
                for corpus_label in act.corpus_labels:
                    if corpus_label in seen:
                        raise ValueError(
                            f"{label}: corpus label {corpus_label!r} is mapped to both {seen[corpus_label]!r} and {act.name!r}"
                        )
                    seen[corpus_label] = act.name
        if self.first_act not in system_names:
            raise ValueError(f"first_act {self.first_act!r} must be one of system_acts {system_names}")
        if self.value_question_act not in system_names:
            raise ValueError(f"value_question_act {self.value_question_act!r} must be one of system_acts {system_names}")
        if self.success_act not in user_names:
            raise ValueError(f"success_act {self.success_act!r} must be one of user_acts {user_names}")
        for index, turn in enumerate(self.example):
            allowed = system_names if turn.speaker == "system" else user_names
            if turn.act not in allowed:
                raise ValueError(f"example[{index}].act {turn.act!r} is not a {turn.speaker} act of this domain")
        return self

    @cached_property
    def system_act_names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.system_acts)

    @cached_property
    def user_act_names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.user_acts)

    def corpus_label_map(self, speaker: str) -> dict[str, str]:
        """An annotated corpus's labels for `speaker` ("system" or "user") -> this domain's act names."""
        acts = self.system_acts if speaker == "system" else self.user_acts
        return {label: act.name for act in acts for label in act.corpus_labels}

    @cached_property
    def user_act_values(self) -> dict[str, float]:
        return {a.name: a.value for a in self.user_acts}

    @cached_property
    def neutral_user_act(self) -> str:
        """The user act whose value is closest to 0: the fallback when a reply can't be labelled."""
        return min(self.user_acts, key=lambda a: abs(a.value)).name

    @cached_property
    def fallback_system_act(self) -> str:
        return "other" if "other" in self.system_act_names else self.system_act_names[-1]

    @cached_property
    def example_dialogue(self) -> Dialogue:
        return Dialogue(tuple(Turn(t.speaker, t.act, t.text) for t in self.example))  # type: ignore[arg-type]

    def legal_system_acts(self, dialogue: Dialogue) -> tuple[str, ...]:
        """Acts the persuader may take next: only the opening act on the first turn (as published)."""
        if dialogue.exchanges == 0:
            return (self.first_act,)
        return self.system_act_names

    def outcome(self, dialogue: Dialogue) -> float | None:
        """Value of a finished dialogue (1.0 for success), or None while it goes on.

        Reaching the turn limit without success returns the value of the last user act, so a
        search path cut by the limit still backs up how close it got.
        """
        if self.end_reason(dialogue) is None:
            return None
        last_user = dialogue.last("user")
        return self.user_act_values.get(last_user.act, 0.0) if last_user is not None else 0.0

    def end_reason(self, dialogue: Dialogue) -> str | None:
        """Why the dialogue is over ("success" or "turn_limit"), or None while it goes on.

        A refusal does not end it: as in the paper, the persuader may try again after a no. The
        turn limit counts exchanges, a persuader turn and the answer to it: the dialogue ends with
        the answer to the `max_exchanges`-th persuader turn, never on a question left unanswered
        (the chat, the terminal, self-play and studies all end it here).
        """
        last_user = dialogue.last("user")
        if last_user is not None and last_user.act == self.success_act:
            return SUCCESS
        answered = bool(dialogue.turns) and dialogue.turns[-1].speaker == "user"
        if dialogue.exchanges >= self.max_exchanges and answered:
            return TURN_LIMIT
        return None


def load_domain(name_or_path: str | Path = DEFAULT_DOMAIN) -> Domain:
    """Load a domain by built-in name (e.g. "p4g") or from a TOML file path."""
    path = Path(name_or_path)
    if path.suffix != ".toml":
        path = DOMAINS_DIR / f"{name_or_path}.toml"
    return load_toml_file(Domain, path)
