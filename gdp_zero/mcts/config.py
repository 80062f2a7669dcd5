"""The search's settings: one validated model whose field types are the only rules.

`SearchConfig` is what the search reads; `GDPZeroConfig` (gdp_zero.planners.gdpzero) extends it
with the planner's own settings. Each rule is written once, as the constraint of a field's type
below; the CLI flags, the web app's controls and study files all validate through these models
(`checked`), and a broken rule becomes an `InvalidSetting` that names the field, so each caller
can name its flag or control. A server shared by many people adds `Limits` on top.

The defaults are the product's (the settings a user gets without flags); `published()` gives the
search as the paper ran it: one simulation at a time, the most visited act chosen.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Annotated, Any, Literal, Self, TypeVar, get_args

from pydantic import ConfigDict, Field, ValidationError
from pydantic.dataclasses import dataclass

from gdp_zero.mcts.tree import FinalChoice

# "puct": every simulation selects by PUCT from the root, as published. "gumbel": Gumbel-top-k
# and Sequential Halving at the root, PUCT below it.
RootRule = Literal["puct", "gumbel"]
ROOT_RULES: tuple[str, ...] = get_args(RootRule)
FINAL_CHOICES: tuple[str, ...] = get_args(FinalChoice)

# The rules. Values live in [-1, 1], so an untried act's Q outside it is meaningless.
Count = Annotated[int, Field(ge=1, strict=True)]
Q0 = Annotated[float, Field(ge=-1.0, le=1.0, allow_inf_nan=False)]
NonNegative = Annotated[float, Field(ge=0.0, allow_inf_nan=False)]
Seconds = Annotated[float, Field(gt=0.0, allow_inf_nan=False)]

# Settings are plain frozen dataclasses (so `dataclasses.replace` re-validates) that refuse
# unknown fields.
SETTINGS = ConfigDict(extra="forbid")


@dataclass(frozen=True, config=SETTINGS)
class SearchConfig:
    # 30 simulations in two waves, the highest shrunk Q among acts tried twice: chosen on the tuning
    # half of the generated worlds, and measured on the held-out half (README, "Decisions that hold
    # on worlds nobody tuned for").
    simulations: Count = 30
    realizations: Count = 3  # k, the stored realizations per node
    q0: Q0 = 0.25  # the paper's interactive setting; its batch runs used 0.0
    c_puct: NonNegative = 1.0
    concurrency: Count = 32  # simulations in flight at once, at most
    # Feedback: at most ceil(n / waves) simulations in flight, so that the values of the first ones
    # steer where the later ones go. All n at once (waves = 1) spreads every visit before any value
    # returns; two waves cost about 1.3 times the wall time and chose better on the tuning worlds.
    waves: Count = 2
    # In-flight simulations count as visits (as in WU-UCT, Liu et al. ICLR 2020) and each as
    # this much loss, so that a wave of simulations spreads over different acts. On the toy
    # benchmark, with choose_by="value", a loss of 1.0 beat 0.0 at 16 in flight.
    virtual_loss: NonNegative = 1.0
    time_budget_s: Seconds | None = None
    choose_by: FinalChoice = "shrunk"  # PUCT root only: a Gumbel root takes its survivor
    # "shrunk": kappa, how many visits the parent's mean value counts as when Q is shrunk towards
    # it, and the visits an act needs to win (gdp_zero.mcts.tree.shrunk_q, eligible_acts).
    shrinkage: NonNegative = 4.0
    min_visits: Count = 2
    root: RootRule = "puct"
    considered_acts: Count = 16  # Gumbel root: m, the acts sampled for Sequential Halving (mctx's default)
    # Gumbel root: the noise's scale, 1 as mctx. 0 makes the choice deterministic (top-m prior
    # acts, kept by log P + sigma(Q^)), which mctx suggests for evaluation rather than training.
    gumbel_scale: NonNegative = 1.0

    @property
    def in_flight(self) -> int:
        """The PUCT root's simulations in flight at most: ceil(n / waves), and never more than `concurrency`."""
        return min(self.concurrency, math.ceil(self.simulations / self.waves))

    @classmethod
    def published(cls, **overrides: Any) -> Self:
        """The search as published: one simulation at a time, PUCT at the root, the most visited act."""
        return checked(cls, **({"concurrency": 1, "choose_by": "visits", "root": "puct"} | overrides))


@dataclasses.dataclass(frozen=True)
class Limits:
    """What a server shared by many people allows per turn; None: no limit."""

    simulations: int | None = None
    realizations: int | None = None
    time_budget_s: float | None = None


class InvalidSetting(ValueError):
    """A setting out of range; `setting` is the field, `problem` says what was expected."""

    def __init__(self, setting: str, problem: str) -> None:
        super().__init__(f"{setting}: {problem}")
        self.setting = setting
        self.problem = problem


Settings = TypeVar("Settings")


def checked(cls: type[Settings], **values: Any) -> Settings:
    """`cls(**values)`, or InvalidSetting naming the first field that breaks its rule."""
    try:
        return cls(**values)
    except ValidationError as error:
        raise invalid_setting(error, cls) from None


def changed(settings: Settings, **changes: Any) -> Settings:
    """`settings` with `changes`, validated; InvalidSetting names the first field that breaks its rule."""
    return checked(type(settings), **(dataclasses.asdict(settings) | changes))  # type: ignore[call-overload]


def within_limits(settings: SearchConfig, limits: Limits) -> SearchConfig:
    """`settings` if a shared server allows it, else InvalidSetting for the first setting over its limit."""
    for setting in ("simulations", "realizations", "time_budget_s"):
        most, value = getattr(limits, setting), getattr(settings, setting)
        if most is not None and value is not None and value > most:
            raise InvalidSetting(setting, f"must be at most {most:g} on this server, got {value:g}")
    return settings


def invalid_setting(error: ValidationError, cls: type) -> InvalidSetting:
    """The first problem of a settings model's ValidationError, in the project's words."""
    problem = error.errors()[0]
    setting = ".".join(str(part) for part in problem["loc"]) or "settings"
    value, kind, context = problem.get("input"), problem["type"], problem.get("ctx") or {}
    if kind in ("int_type", "int_from_float", "int_parsing"):
        return InvalidSetting(setting, f"must be a whole number, got {value!r}")
    if kind == "unexpected_keyword_argument":
        return InvalidSetting(setting, "is not a setting")
    if kind == "finite_number":
        return InvalidSetting(setting, f"must be a finite number, got {value}")
    if kind in ("float_type", "float_parsing"):
        return InvalidSetting(setting, f"must be a number, got {value!r}")
    if kind == "literal_error":
        expected = context.get("expected", "").replace("'", "").replace(" or ", ", ")
        return InvalidSetting(setting, f"must be one of {expected}, got {value!r}")
    if kind == "greater_than":
        return InvalidSetting(setting, f"must be more than {context['gt']:g}, got {value:g}")
    if kind in ("greater_than_equal", "less_than_equal"):
        low, high = _bounds(cls, setting)
        if low is not None and high is not None:
            return InvalidSetting(setting, f"must be between {low:g} and {high:g}, got {value:g}")
        if kind == "greater_than_equal":
            return InvalidSetting(setting, f"must be at least {context['ge']:g}, got {value:g}")
        return InvalidSetting(setting, f"must be at most {context['le']:g}, got {value:g}")
    return InvalidSetting(setting, problem["msg"][0].lower() + problem["msg"][1:])


def _bounds(cls: type, setting: str) -> tuple[float | None, float | None]:
    """The inclusive bounds of a field's rule, to say "between" when it has both."""
    info = getattr(cls, "__pydantic_fields__", {}).get(setting)
    metadata = info.metadata if info is not None else []
    low = next((m.ge for m in metadata if hasattr(m, "ge")), None)
    high = next((m.le for m in metadata if hasattr(m, "le")), None)
    return low, high
