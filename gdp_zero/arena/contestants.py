"""An arena in one TOML file: the contestants (planner + settings + model) drawn two at a time.

    id = "planners"                      # names the arena's votes in the database (default: the file's name)
    title = "GDP-Zero against prompting"

    [[contestants]]
    name = "gdpzero_n10"                 # what the votes and the leaderboard call it
    label = "GDP-Zero, 10 simulations"   # shown after the vote (default: the name)
    planner = "gdpzero"
    search = { simulations = 10 }

    [[contestants]]
    name = "prompting_large"
    planner = "prompting"
    llm = { model = "gpt-4o" }           # an [llm]-style table over the server's settings; never a key

`load_arena(path)` validates the whole file; a mistake is reported as `file: field: what was
expected, got what was found`. The search table takes the same keys, with the same rules, as a
study condition's.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, model_validator

from gdp_zero.domain import DEFAULT_DOMAIN, load_domain
from gdp_zero.factory import ChatOptions, build_session
from gdp_zero.llm.settings import LLMSettings
from gdp_zero.mcts.config import InvalidSetting
from gdp_zero.planners import GDPZeroConfig
from gdp_zero.session import ChatSession
from gdp_zero.study.spec import PlannerChoice, check_llm_table
from gdp_zero.validation import ConfigError, StrictModel, read_toml, validate

_NAME = r"^[a-z][a-z0-9_]*$"


class Contestant(PlannerChoice):
    name: Annotated[str, Field(pattern=_NAME, max_length=40)]
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


class Arena(StrictModel):
    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=80)]
    title: Annotated[str, Field(min_length=1)] = "Arena"
    domain: str = DEFAULT_DOMAIN
    contestants: Annotated[tuple[Contestant, ...], Field(min_length=2)]

    @model_validator(mode="after")
    def _unique(self) -> Arena:
        names = [c.name for c in self.contestants]
        if len(set(names)) != len(names):
            raise ValueError(f"contestants: names must be unique, got {names}")
        return self

    @cached_property
    def by_name(self) -> dict[str, Contestant]:
        return {c.name: c for c in self.contestants}

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.contestants]


def load_arena(path: Path | str) -> Arena:
    """Read and validate an arena file; `id` defaults to the file's name without `.toml`."""
    path = Path(path)
    data = read_toml(path)
    data.setdefault("id", path.stem.replace(".", "-").lower())
    arena = validate(Arena, data, path)
    for contestant in arena.contestants:
        _check_contestant(contestant, str(path))
    try:
        load_domain(arena.domain)
    except (ConfigError, FileNotFoundError, ValueError) as error:
        raise ConfigError(f"{path}: domain: cannot load {arena.domain!r} ({error})") from None
    return arena


def _check_contestant(contestant: Contestant, source: str) -> None:
    where = f"contestants.{contestant.name}."
    try:
        contestant.search_config()
    except InvalidSetting as invalid:
        raise ConfigError(f"{source}: {where}search.{invalid.setting}: {invalid.problem}") from None
    check_llm_table(contestant.llm, source, f"{where}llm.", "an arena file (it is stored with the votes)")
