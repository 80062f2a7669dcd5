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
from typing import Annotated

from pydantic import Field, model_validator

from gdp_zero.domain import DEFAULT_DOMAIN, load_domain
from gdp_zero.study.spec import Contestant, Study, check_contestant, unique_contestants
from gdp_zero.validation import ConfigError, StrictModel, read_toml, validate


class Arena(StrictModel):
    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=80)]
    title: Annotated[str, Field(min_length=1)] = "Arena"
    domain: str = DEFAULT_DOMAIN
    contestants: Annotated[tuple[Contestant, ...], Field(min_length=2)]

    @model_validator(mode="after")
    def _unique(self) -> Arena:
        unique_contestants(self.contestants)
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
        check_contestant(contestant, str(path), "contestants.")
    try:
        load_domain(arena.domain)
    except (ConfigError, FileNotFoundError, ValueError) as error:
        raise ConfigError(f"{path}: domain: cannot load {arena.domain!r} ({error})") from None
    return arena


def study_arena(study: Study) -> Arena:
    """The arena a study file declares ([arena]): its votes go under the study's id."""
    if study.arena is None:
        raise ValueError(f"study {study.id!r} declares no [arena]")
    return Arena(id=study.id, title=study.title, domain=study.domain, contestants=study.arena.contestants)
