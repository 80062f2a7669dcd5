"""LLM usage as a table: per turn and for the whole session, by role, with totals. Pure functions."""

from __future__ import annotations

from typing import Any, Mapping

from gdp_zero.llm.ledger import UsageLedger

USAGE_HEADERS = ["scope", "role", "calls", "prompt tokens", "completion tokens", "seconds", "retries", "fallbacks"]
SESSION_SCOPE = "session"


def _row(scope: str, role: str, usage: Mapping[str, Any]) -> list[Any]:
    return [
        scope,
        role,
        int(usage.get("calls", 0)),
        int(usage.get("prompt_tokens", 0)),
        int(usage.get("completion_tokens", 0)),
        round(float(usage.get("seconds", 0.0)), 2),
        int(usage.get("retries", 0)),
        int(usage.get("fallbacks", 0)),
    ]


def usage_rows(ledger: UsageLedger, turn_labels: Mapping[int, str]) -> list[list[Any]]:
    """Session rows first (by role, then "all roles"), then each turn's, newest turn first.

    `turn_labels` names ledger turns (e.g. "turn 2 · emotion appeal"); a ledger turn without a
    label spent calls on a reply that failed or was undone: it is still counted, and says so. Seconds are time on the wire, summed over
    calls, so they can exceed the turn's wall time when calls overlap.
    """
    summary = ledger.to_dict()
    rows: list[list[Any]] = []
    scopes = [(SESSION_SCOPE, summary["session"])]
    for turn in sorted(summary["turns"], key=lambda t: -t["turn"]):
        scopes.append((turn_labels.get(turn["turn"], f"attempt #{turn['turn']} (failed or undone)"), turn))
    for scope, block in scopes:
        for role, usage in sorted(block["by_role"].items()):
            rows.append(_row(scope, role, usage))
        rows.append(_row(scope, "all roles", block["total"]))
    return rows
