"""Small pieces of wording shared by the terminal chat and the web app."""

from __future__ import annotations


def plural(count: int, noun: str) -> str:
    """"1 simulation", "2 simulations"."""
    return f"{count} {noun}{'' if count == 1 else 's'}"
