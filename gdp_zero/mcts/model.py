"""What the search needs from the world, and nothing more.

The search calls two functions, like DeepMind's mctx separates search from model: `evaluate`
(prior over acts and value of a new node, asked together so an LLM-backed model can issue
both calls at once) and `transition` (one concrete realization of taking an act: the system
utterance, the simulated reply, the state after them). How a model batches its calls is its
own business. The LLM roles implement this for
dialogue; a toy environment implements it for tests. No prompt, HTTP or UI code is visible here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, Mapping, Protocol, Sequence, TypeVar

State = TypeVar("State")


@dataclass(frozen=True)
class Evaluation:
    prior: Mapping[str, float]
    value: float
    # How the model arrived at the prior and value (its sampled answers, a debate), kept on the node for
    # display; never read by the search.
    explanation: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Transition(Generic[State]):
    state: State
    utterance: str
    reply: str
    reply_act: str
    terminal_value: float | None = None


class SearchModel(Protocol[State]):
    def legal_acts(self, state: State) -> Sequence[str]:
        """Acts available in this state, in a fixed order (ties in selection go to the first)."""
        ...

    async def evaluate(self, state: State) -> Evaluation:
        """Prior over `legal_acts(state)` and the value of `state`, in [-1, 1]."""
        ...

    async def transition(self, state: State, act: str) -> Transition[State]:
        """A new, independently sampled realization of taking `act` in `state`."""
        ...
