"""The one shape every LLM request takes, whichever endpoint style serves it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Prompt:
    """A prompt rendered for both endpoint styles, so a role can switch API without rewriting it.

    `system` holds the static instructions and comes first so that providers' prefix caches hit
    across calls; `user` is the dynamic part. `completion` is the same content as one plain-text
    few-shot prompt ending with a cue, for servers or models that only offer /completions.
    """

    system: str
    user: str
    completion: str
    stop: tuple[str, ...] = ()
