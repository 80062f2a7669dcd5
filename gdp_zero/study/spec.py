"""A crowd study in one TOML file: conditions, assignment, chat rules, surveys, ratings, completion;
or, with an [arena] section instead of conditions, a crowd arena (contestants drawn two at a time, votes).

`load_study(path)` validates the whole file on load; every mistake is reported as
`file: field.path: what was expected, got what was found`. The format is documented in the README
(section "Crowd studies") and by the shipped `studies/gdpzero_vs_prompting.toml`.
"""

from __future__ import annotations

import re
from dataclasses import fields
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal, Mapping, Union, get_type_hints

from pydantic import ConfigDict, Discriminator, Field, Tag, ValidationError, create_model, field_validator, model_validator

from gdp_zero.domain import DEFAULT_DOMAIN, load_domain
from gdp_zero.factory import ChatOptions, build_session
from gdp_zero.llm.settings import LLMSettings, apply_llm_table, validate_llm_table
from gdp_zero.mcts.config import InvalidSetting, changed
from gdp_zero.planners import PLANNERS, GDPZeroConfig
from gdp_zero.session import ChatSession
from gdp_zero.shipped_files import shipped_folder
from gdp_zero.validation import ConfigError, StrictModel, describe_problem, describe_validation_error, read_toml

STUDIES_DIR = shipped_folder("studies")
PROLIFIC_COMPLETE_URL = "https://app.prolific.com/submissions/complete?cc={code}"
Survey = Literal["pre", "post"]
SURVEYS: tuple[Survey, ...] = ("pre", "post")
_ID = r"^[a-z][a-z0-9_]*$"
# The environment variable that holds the admin pages' password (a flag would show in process lists).
ADMIN_PASSWORD_ENV = "GDP_ZERO_ADMIN_PASSWORD"
# The environment variable that holds the study database's URL (its password, too, stays out of process lists).
DB_URL_ENV = "GDP_ZERO_STUDY_DB"


# --- items -----------------------------------------------------------------------------------


class _Item(StrictModel):
    id: Annotated[str, Field(pattern=_ID, max_length=40)]
    text: Annotated[str, Field(min_length=1)]
    required: bool = True


class LikertItem(_Item):
    type: Literal["likert"]
    min: int = 1
    max: int = 5
    # One label per point, or two: the ends of the scale.
    labels: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _scale(self) -> LikertItem:
        points = self.max - self.min + 1
        if points < 2:
            raise ValueError(f"max ({self.max}) must be greater than min ({self.min})")
        if self.labels and len(self.labels) not in (2, points):
            raise ValueError(f"labels: give {points} labels (one per point) or 2 (the ends), got {len(self.labels)}")
        return self

    def check(self, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
            raise ValueError(f"expected a whole number from {self.min} to {self.max}")
        if not self.min <= value <= self.max:
            raise ValueError(f"expected a whole number from {self.min} to {self.max}, got {value}")
        return int(value)


class CheckboxItem(_Item):
    type: Literal["checkbox"]
    required: bool = False  # unticked is an answer

    def check(self, value: Any) -> bool:
        if not isinstance(value, bool):
            raise ValueError("expected true or false")
        return value


class NumberItem(_Item):
    type: Literal["number"]
    min: float
    max: float
    step: Annotated[float, Field(gt=0)] | None = None
    unit: str = ""  # shown beside the field, e.g. "$"

    @model_validator(mode="after")
    def _range(self) -> NumberItem:
        if self.max <= self.min:
            raise ValueError(f"max ({self.max}) must be greater than min ({self.min})")
        return self

    def check(self, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"expected a number from {self.min:g} to {self.max:g}")
        if not self.min <= value <= self.max:
            raise ValueError(f"expected a number from {self.min:g} to {self.max:g}, got {value:g}")
        return float(value)


class ChoiceItem(_Item):
    type: Literal["choice"]
    options: Annotated[tuple[Annotated[str, Field(min_length=1)], ...], Field(min_length=2)]

    @field_validator("options")
    @classmethod
    def _unique(cls, options: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(options)) != len(options):
            raise ValueError("options must be unique")
        return options

    def check(self, value: Any) -> str:
        if value not in self.options:
            raise ValueError(f"expected one of {', '.join(map(repr, self.options))}")
        return value


class TextItem(_Item):
    type: Literal["text"]
    required: bool = False
    max_chars: Annotated[int, Field(ge=1, le=10000)] = 1000

    def check(self, value: Any) -> str:
        if not isinstance(value, str):
            raise ValueError("expected text")
        if len(value) > self.max_chars:
            raise ValueError(f"expected at most {self.max_chars} characters, got {len(value)}")
        return value


_ITEM_TYPES = frozenset({"likert", "checkbox", "number", "choice", "text"})


def _item_type(data: Any) -> str | None:
    return data.get("type") if isinstance(data, dict) else getattr(data, "type", None)


SurveyItem = Annotated[
    Union[
        Annotated[LikertItem, Tag("likert")],
        Annotated[NumberItem, Tag("number")],
        Annotated[ChoiceItem, Tag("choice")],
        Annotated[TextItem, Tag("text")],
    ],
    Discriminator(_item_type, custom_error_type="item_type", custom_error_message="expected type = \"likert\", \"number\", \"choice\" or \"text\""),
]
RatingItem = Annotated[
    Union[Annotated[LikertItem, Tag("likert")], Annotated[CheckboxItem, Tag("checkbox")]],
    Discriminator(_item_type, custom_error_type="item_type", custom_error_message="expected type = \"likert\" or \"checkbox\""),
]
Item = LikertItem | CheckboxItem | NumberItem | ChoiceItem | TextItem


def is_numeric(item: Item) -> bool:
    """Items whose answers are numbers (checkbox: 0/1), so means, CIs and tests apply."""
    return item.type in ("likert", "number", "checkbox")


# --- conditions ------------------------------------------------------------------------------

# The time budget is a condition's own field (it applies to any search), not a search-table key.
_SEARCH_FIELDS = [f.name for f in fields(GDPZeroConfig) if f.name != "time_budget_s"]
# Each field keeps its type from the settings model, rules included, so a study file is held to them.
_search_hints = get_type_hints(GDPZeroConfig, include_extras=True)
_SEARCH_TABLE_FIELDS: dict[str, Any] = {name: (_search_hints[name] | None, None) for name in _SEARCH_FIELDS}
SearchTable = create_model("SearchTable", __config__=ConfigDict(extra="forbid", strict=True, frozen=True), **_SEARCH_TABLE_FIELDS)


class PlannerChoice(StrictModel):
    """A planner as a study condition or an arena contestant names it: the planner, its search, its
    time budget and its model (an [llm]-style table over the server's settings; never an api_key)."""

    planner: str
    search: SearchTable = Field(default_factory=SearchTable)
    time_budget_s: float | None = None  # its rule is the search settings model's (checked in _planner_settings)
    llm: dict[str, Any] | None = None

    @field_validator("planner")
    @classmethod
    def _known_planner(cls, planner: str) -> str:
        if planner not in PLANNERS:
            raise ValueError(f"expected one of {', '.join(PLANNERS)}")
        return planner

    @model_validator(mode="after")
    def _planner_settings(self) -> PlannerChoice:
        given = self.search.model_dump(exclude_none=True)
        if self.planner != "gdpzero" and set(given) - {"seed"}:
            raise ValueError(f"search: only the gdpzero planner takes search parameters, got {', '.join(sorted(given))}")
        if self.planner != "gdpzero" and self.time_budget_s is not None:
            raise ValueError("time_budget_s: only the gdpzero planner has a time budget")
        try:  # the settings model's rules are the only ones: a file the check passes builds a session
            self.search_config()
        except InvalidSetting as error:
            raise ValueError(str(error)) from None
        return self

    def search_config(self, base: GDPZeroConfig | None = None) -> GDPZeroConfig:
        return changed(base or GDPZeroConfig(), **self.search.model_dump(exclude_none=True), time_budget_s=self.time_budget_s)

    def llm_settings(self, base: LLMSettings) -> LLMSettings:
        """The server's LLM settings with this choice's own table on top."""
        return apply_llm_table(base, self.llm) if self.llm else base


class Condition(PlannerChoice):
    name: Annotated[str, Field(pattern=_ID, max_length=40)]
    label: Annotated[str, Field(min_length=1, max_length=60)]  # what participants see
    quota: Annotated[int, Field(ge=1)] | None = None
    # A reflection memory file (relative to the server's working folder): this condition's chats recall
    # lessons from it and each finished chat adds its own. Per condition, so conditions never share lessons.
    memory: Annotated[str, Field(min_length=1)] | None = None

    @model_validator(mode="after")
    def _memory_guides_a_search(self) -> Condition:
        if self.memory is not None and self.planner != "gdpzero":
            raise ValueError(f"memory: lessons guide the gdpzero planner's search; the {self.planner} planner has none")
        return self

    @model_validator(mode="after")
    def _neutral_label(self) -> Condition:
        # Participants must not learn which system they talk to from its label.
        for word in {self.name, self.planner, "gdp", "mcts", "prompting", "baseline"}:
            if re.search(rf"\b{re.escape(word)}", self.label, re.IGNORECASE):
                raise ValueError(f"label: a neutral label must not name the condition or planner ({word!r} in {self.label!r})")
        return self

    def public_dict(self) -> dict[str, Any]:
        """What the records and the admin pages show (never to participants)."""
        return {
            "name": self.name,
            "label": self.label,
            "planner": self.planner,
            "search": self.search.model_dump(exclude_none=True),
            "time_budget_s": self.time_budget_s,
            "quota": self.quota,
            "llm": self.llm,
            **({"memory": self.memory} if self.memory is not None else {}),  # off: the record is as before
        }


class Contestant(PlannerChoice):
    """An arena's contestant (an arena file's [[contestants]], a study's [[arena.contestants]])."""

    name: Annotated[str, Field(pattern=_ID, max_length=40)]  # what the votes and the leaderboard call it
    label: Annotated[str, Field(min_length=1, max_length=80)] | None = None  # shown after the vote

    @property
    def shown_name(self) -> str:
        return self.label or self.name

    def session(self, settings: LLMSettings, domain: str, base: GDPZeroConfig | None = None) -> ChatSession:
        """A new chat with this contestant's planner, search and model, on the server's settings."""
        options = ChatOptions(planner=self.planner, search=self.search_config(base), domain=domain)
        return build_session(self.llm_settings(settings), options)

    def public_dict(self, settings: LLMSettings | None = None) -> dict[str, Any]:
        """What the votes keep: the file's fields, and with `settings` the model of every role."""
        shown = self.model_dump(mode="json", exclude_none=True)
        if settings is not None:
            shown["models"] = self.llm_settings(settings).models_by_role()
        return shown


def unique_contestants(contestants: tuple[Contestant, ...]) -> None:
    names = [c.name for c in contestants]
    if len(set(names)) != len(names):
        raise ValueError(f"contestants: names must be unique, got {names}")


def check_contestant(contestant: Contestant, source: str, where: str) -> None:
    """What the model cannot check: the search table builds a search, the [llm] table is valid and keyless."""
    where = f"{where}{contestant.name}."
    try:
        contestant.search_config()
    except InvalidSetting as invalid:
        raise ConfigError(f"{source}: {where}search.{invalid.setting}: {invalid.problem}") from None
    check_llm_table(contestant.llm, source, f"{where}llm.", "a file that declares an arena (it is stored with the votes)")


# --- the rest of the study -------------------------------------------------------------------


class Consent(StrictModel):
    text: Annotated[str, Field(min_length=1)]
    agree: str = "I agree to take part"
    decline: str = "I do not agree"


# Named id forms of recruitment platforms, usable as [recruitment] id_pattern.
ID_PATTERNS = {"prolific": r"[0-9a-fA-F]{24}"}
# Any participant id: what a database column and a log line can hold as it is.
PARTICIPANT_ID = re.compile(r"^[A-Za-z0-9_.@:-]{1,200}$")


class Recruitment(StrictModel):
    # Which URL parameter carries the participant id, and which others are kept with it.
    participant_param: Annotated[str, Field(min_length=1)] = "PROLIFIC_PID"
    params: tuple[str, ...] = ("STUDY_ID", "SESSION_ID")
    # Without the id parameter: a generated id (anonymous links), or a refusal.
    generate_missing_id: bool = True
    # The form a platform's ids have ("prolific": 24 hex digits) or a regular expression the whole id
    # must match; with one, an id of another form is refused, and so is a link without an id.
    id_pattern: str | None = None
    # A participation holding a slot whose participant has not sent a chat message this long after
    # entering is timed out, so made-up starts cannot hold a study full.
    start_timeout_minutes: Annotated[float, Field(gt=0)] = 20.0

    @field_validator("id_pattern")
    @classmethod
    def _compiles(cls, pattern: str | None) -> str | None:
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as error:
                raise ValueError(f"not a regular expression ({error})") from None
        return pattern

    def accepts_id(self, participant_id: str) -> bool:
        """Whether the id is one (PARTICIPANT_ID) of the platform's form (any form when the file names none)."""
        if not PARTICIPANT_ID.match(participant_id):
            return False
        if self.id_pattern is None:
            return True
        return re.fullmatch(ID_PATTERNS.get(self.id_pattern, self.id_pattern), participant_id) is not None


class ChatRules(StrictModel):
    min_turns: Annotated[int, Field(ge=0)] = 3  # the person's messages before they may finish
    # Exchanges, as the domain counts them: the chat ends with the participant's answer to the bot's
    # max_turns-th message (the greeting is the first), so the participant has the last word.
    max_turns: Annotated[int, Field(ge=1)] = 10
    max_message_chars: Annotated[int, Field(ge=1, le=2000)] = 500
    idle_timeout_minutes: Annotated[float, Field(gt=0)] = 20.0
    # The first bot message the participant rates: 0 = the greeting, 1 = the reply to their first message.
    rate_from: Annotated[int, Field(ge=0)] = 0

    @model_validator(mode="after")
    def _order(self) -> ChatRules:
        if self.max_turns < self.min_turns:
            raise ValueError(f"max_turns ({self.max_turns}) must be at least min_turns ({self.min_turns})")
        if self.rate_from >= self.max_turns:
            raise ValueError(f"rate_from: the chat has at most {self.max_turns} bot messages (0 to {self.max_turns - 1}), got {self.rate_from}")
        return self


class AttentionCheck(StrictModel):
    """An instructed-response question (Prolific's rules: it tests the question itself, in plain words)."""

    survey: Survey = "post"
    position: Annotated[int, Field(ge=0)] | None = None  # index in that survey; default: the end
    item: SurveyItem
    correct: Any
    on_failure: Literal["screen_out", "continue"] = "screen_out"

    @model_validator(mode="after")
    def _correct_is_an_answer(self) -> AttentionCheck:
        if self.item.type == "text":
            raise ValueError("item.type: an attention check needs a closed question (likert, number or choice), not text")
        try:
            self.item.check(self.correct)
        except ValueError as error:
            raise ValueError(f"correct: {error}, got {self.correct!r}") from None
        return self


class Completion(StrictModel):
    code: str | None = None
    redirect_url: str | None = None  # "{code}" is replaced; default for a code: Prolific's form
    screened_out_code: str | None = None
    screened_out_redirect_url: str | None = None
    # Someone who consented and did the pre-survey, then found every place taken: with neither,
    # they are asked to return their submission on Prolific; or give them a code of their own.
    full_code: str | None = None
    full_redirect_url: str | None = None

    @model_validator(mode="after")
    def _something_to_show(self) -> Completion:
        if not self.code and not self.redirect_url:
            raise ValueError("give a completion code, a redirect_url, or both")
        for name in ("redirect_url", "screened_out_redirect_url", "full_redirect_url"):
            url = getattr(self, name)
            if url is not None and not url.startswith(("https://", "http://")):
                raise ValueError(f"{name}: expected an http(s) URL, got {url!r}")
        return self

    def redirect(self, screened_out: bool = False, full: bool = False) -> tuple[str | None, str | None]:
        """(code, redirect URL) for a completed or a screened-out participant, or one the full study turned away."""
        if full:
            code, url = self.full_code, self.full_redirect_url
        elif screened_out:
            code, url = self.screened_out_code, self.screened_out_redirect_url
        else:
            code, url = self.code, self.redirect_url
        if url is None and code:
            url = PROLIFIC_COMPLETE_URL
        return code, url.replace("{code}", code or "") if url else None


class ArenaRules(StrictModel):
    """A crowd arena ([arena]): each participant votes on rounds of two contestants drawn from these, and
    gets the completion code after `votes_required` votes."""

    contestants: Annotated[tuple[Contestant, ...], Field(min_length=2)]
    votes_required: Annotated[int, Field(ge=1)] = 5  # votes before the completion code shows
    max_votes: Annotated[int, Field(ge=1)] | None = None  # votes one participant may cast (default: votes_required)
    votes_per_address_per_hour: Annotated[int, Field(ge=1)] = 200  # votes from one client address in any hour

    @model_validator(mode="after")
    def _consistent(self) -> ArenaRules:
        unique_contestants(self.contestants)
        if self.max_votes is not None and self.max_votes < self.votes_required:
            raise ValueError(f"max_votes ({self.max_votes}) must be at least votes_required ({self.votes_required})")
        return self

    @property
    def most_votes(self) -> int:
        return self.max_votes if self.max_votes is not None else self.votes_required


# The parts of a chat study an arena study has none of (its rounds are voted on, not rated or surveyed, and
# run by the arena's rules): given in an arena study, they would silently do nothing.
_NOT_IN_AN_ARENA = ("chat", "turn_ratings", "pre_survey", "post_survey", "attention_check")


class Study(StrictModel):
    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=80)]
    title: Annotated[str, Field(min_length=1)]
    description: str = ""
    domain: str = DEFAULT_DOMAIN
    consent: Consent
    recruitment: Recruitment = Recruitment()
    conditions: tuple[Condition, ...] = ()
    arena: ArenaRules | None = None  # a crowd arena instead of conditions
    chat: ChatRules = ChatRules()
    turn_ratings: tuple[RatingItem, ...] = ()
    pre_survey: tuple[SurveyItem, ...] = ()
    post_survey: tuple[SurveyItem, ...] = ()
    attention_check: AttentionCheck | None = None
    completion: Completion

    @model_validator(mode="after")
    def _consistent(self) -> Study:
        if self.arena is None and not self.conditions:
            raise ValueError("conditions: give at least one [[conditions]] table, or an [arena]")
        if self.arena is not None:
            if self.conditions:
                raise ValueError("conditions: an arena study draws its contestants from [arena]; remove [[conditions]]")
            for name in _NOT_IN_AN_ARENA:
                if getattr(self, name) != Study.model_fields[name].get_default(call_default_factory=True):
                    raise ValueError(f"{name}: an arena study has none (its rounds are voted on); remove it")
        names = [c.name for c in self.conditions]
        if len(set(names)) != len(names):
            raise ValueError(f"conditions: names must be unique, got {names}")
        quotas = [c.quota is not None for c in self.conditions]
        if any(quotas) and not all(quotas):
            raise ValueError("conditions: give every condition a quota, or none")
        for label, items in (("turn_ratings", self.turn_ratings), ("pre_survey", self.pre_survey), ("post_survey", self.post_survey)):
            ids = [i.id for i in items]
            if len(set(ids)) != len(ids):
                raise ValueError(f"{label}: item ids must be unique, got {ids}")
        if self.attention_check is not None:
            survey = self.survey_items(self.attention_check.survey, with_check=False)
            if self.attention_check.item.id in {i.id for i in survey}:
                raise ValueError(f"attention_check.item.id: {self.attention_check.item.id!r} is already an item of that survey")
        return self

    @cached_property
    def condition_by_name(self) -> dict[str, Condition]:
        return {c.name: c for c in self.conditions}

    def survey_items(self, survey: Survey, with_check: bool = True) -> tuple[Item, ...]:
        """A survey's items as shown, the attention check in its place."""
        items = list(self.pre_survey if survey == "pre" else self.post_survey)
        check = self.attention_check
        if with_check and check is not None and check.survey == survey:
            position = len(items) if check.position is None else min(check.position, len(items))
            items.insert(position, check.item)
        return tuple(items)

    def public_dict(self) -> dict[str, Any]:
        """The study as loaded (JSON-friendly), for the database and exports."""
        return self.model_dump(mode="json")


def load_study(path: Path | str) -> Study:
    """Read and validate a study file; `id` defaults to the file's name without `.toml`."""
    path = Path(path)
    data = read_toml(path)
    data.setdefault("id", path.stem.replace(".", "-").lower())
    study = _validate_study(data, str(path))
    for condition in study.conditions:
        if condition.llm is not None:
            check_llm_table(condition.llm, str(path), f"conditions.{condition.name}.llm.", "a study file (it is shared and stored with the data)")
    for contestant in study.arena.contestants if study.arena is not None else ():
        check_contestant(contestant, str(path), "arena.contestants.")
    try:
        domain = load_domain(study.domain)
    except (ConfigError, FileNotFoundError, ValueError) as error:
        raise ConfigError(f"{path}: domain: cannot load {study.domain!r} ({error})") from None
    if study.arena is None and study.chat.max_turns > domain.max_exchanges:
        raise ConfigError(f"{path}: chat: max_turns ({study.chat.max_turns}) is more than the domain {domain.name!r} allows "
                          f"(max_exchanges = {domain.max_exchanges}): the dialogue would end first")
    return study


def study_from_dict(data: Mapping[str, Any], source: str = "study") -> Study:
    """A study stored in a database (`Study.public_dict`), validated again."""
    return _validate_study(dict(data), source)


def _validate_study(data: dict[str, Any], source: str) -> Study:
    try:
        return Study.model_validate(data)
    except ValidationError as error:
        raise ConfigError(describe_validation_error(error, source, describe=_describe)) from None


def _describe(problem: Mapping[str, Any], source: str, prefix: str) -> str:
    # A tagged union adds the tag to the path ("post_survey.0.likert.labels"): drop it.
    loc = tuple(part for part in problem["loc"] if part not in _ITEM_TYPES)
    found = problem.get("input")
    if problem["type"] == "item_type" and isinstance(found, dict):
        return f"{source}: {prefix}{'.'.join(map(str, loc))}.type: {problem['msg']}, got {found.get('type')!r}"
    if problem["type"] == "value_error" and isinstance(found, dict):
        # A check across fields: name the field it is about, and do not echo the whole table.
        message = problem["msg"].removeprefix("Value error, ")
        field, _, rest = message.partition(": ")
        # A field the file left out ("conditions") is named all the same when the check is the study's own.
        if rest and (field.split(".")[0] in found or (not loc and field in Study.model_fields)):
            loc, message = (*loc, field), rest
        return f"{source}: {prefix}{'.'.join(map(str, loc)) or '(top level)'}: {message}"
    return describe_problem({**problem, "loc": loc}, source, prefix)


def check_llm_table(table: dict[str, Any] | None, source: str, where: str, kind: str) -> None:
    """A planner choice's own [llm] table at `where`: valid, and without an API key (`kind` names the
    file the key does not belong in, and why)."""
    table = table or {}
    secrets = ["api_key"] if "api_key" in table else []
    secrets += [f"roles.{r}.api_key" for r, t in (table.get("roles") or {}).items() if isinstance(t, dict) and "api_key" in t]
    if secrets:
        raise ConfigError(
            f"{source}: {where}{secrets[0]}: API keys do not belong in {kind}; set OPENAI_API_KEY in the server's environment"
        )
    validate_llm_table(table, source, prefix=where)
