"""Flags shared by several commands, and what they build: the LLM backend, the planner's search,
the limits of a public server. Every planner flag is validated by the settings model
(gdp_zero.mcts.config) and a broken rule is reported under the flag's name."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gdp_zero.mcts.config import FINAL_CHOICES, ROOT_RULES, InvalidSetting, changed

if TYPE_CHECKING:
    from gdp_zero.backends import Backend
    from gdp_zero.planners.gdpzero import GDPZeroConfig
    from gdp_zero.serving.limits import LimitSettings


@dataclasses.dataclass(frozen=True)
class SearchFlag:
    setting: str  # the GDPZeroConfig field it sets (and the argparse dest)
    flag: str
    type: Any
    help: str
    choices: tuple[str, ...] | None = None


# One flag per search setting a user may want to change; unset flags keep the backend's suggestion.
SEARCH_FLAGS = (
    SearchFlag("simulations", "--sims", int, "MCTS simulations per turn"),
    SearchFlag("realizations", "--realizations", int, "k realizations per node"),
    SearchFlag("q0", "--q0", float, "initial Q of unvisited acts"),
    SearchFlag("c_puct", "--cpuct", float, "exploration constant"),
    SearchFlag("prior_samples", "--prior-samples", int, "samples of the next act for the policy prior"),
    SearchFlag("value_samples", "--value-samples", int, "samples of the user's answer for the value"),
    SearchFlag("concurrency", "--in-flight", int, "simulations of one search in flight at once, at most"),
    SearchFlag("waves", "--waves", int, "PUCT root: at most n / WAVES simulations in flight, so early values steer later ones"),
    SearchFlag("time_budget_s", "--time-budget", float,
               "seconds: stop launching simulations when the next would not finish in time"),
    SearchFlag("choose_by", "--choose-by", str,
               "final act: most visited (as published; the --sequential default), highest Q, or highest Q "
               "shrunk towards the parent's value among acts tried --min-visits times (the default)", FINAL_CHOICES),
    SearchFlag("shrinkage", "--shrinkage", float, "--choose-by shrunk: visits the parent's mean value counts as"),
    SearchFlag("min_visits", "--min-visits", int, "--choose-by shrunk: visits an act needs to be chosen"),
    SearchFlag("root", "--root", str,
               "root selection: PUCT (as published) or Gumbel-top-k with Sequential Halving (see the README)", ROOT_RULES),
    SearchFlag("considered_acts", "--considered-acts", int, "Gumbel root: acts sampled for Sequential Halving (m)"),
    SearchFlag("gumbel_scale", "--gumbel-scale", float, "Gumbel root: scale of the Gumbel noise (0: deterministic)"),
    SearchFlag("value", "--value", str, "a state's value: persuadee (the simulated persuadee answers, as published) "
               "or debate (advocates argue for and against, then a judge answers; see the README)"),
    SearchFlag("debate_rounds", "--debate-rounds", int, "--value debate: rounds of arguments before the judge answers"),
    SearchFlag("seed", "--seed", int, "seed of the search's random choices"),
)
FLAG_OF = {f.setting: f.flag for f in SEARCH_FLAGS}


def add_llm_arguments(parser: argparse.ArgumentParser) -> None:
    from gdp_zero.backends import MODES

    group = parser.add_argument_group("LLM")
    group.add_argument("--llm", choices=MODES, default="auto",
                       help="auto: a real endpoint if a key or base URL is set, else the local model if installed, else canned demo replies")
    group.add_argument("--model", help="model name for every role (default gpt-4o-mini, or OPENAI_MODEL)")
    group.add_argument("--base-url", help="OpenAI-compatible endpoint, e.g. http://localhost:8000/v1 (vLLM)")
    group.add_argument("--api-key", help="prefer the OPENAI_API_KEY environment variable: flags show in process lists")
    group.add_argument("--config", type=Path, help="TOML file with [llm] and per-role [llm.roles.NAME] settings")


def add_planner_arguments(parser: argparse.ArgumentParser) -> None:
    from gdp_zero.planners import PLANNERS
    from gdp_zero.planners.gdpzero import GDPZeroConfig

    d = GDPZeroConfig()
    group = parser.add_argument_group(
        f"planner (defaults: {d.simulations} simulations, k={d.realizations}, Q0 {d.q0:g}, c_puct {d.c_puct:g}, "
        f"{d.prior_samples} prior and {d.value_samples} value samples, at most {d.in_flight} in flight, "
        f"{d.choose_by} Q chosen)")
    group.add_argument("--planner", choices=PLANNERS, default="gdpzero")
    for f in SEARCH_FLAGS:
        group.add_argument(f.flag, dest=f.setting, type=f.type, choices=f.choices, help=f.help)
    group.add_argument("--sequential", action="store_true",
                       help="the published search: one call at a time, no batching, no tree reuse")
    group.add_argument("--no-reuse", action="store_true", help="do not keep the chosen subtree for the next turn")
    group.add_argument("--closed-loop", action="store_true", help="ablation: closed-loop search (k = 1)")
    group.add_argument("--no-response-selection", action="store_true", help="ablation: write a fresh reply for the chosen act")


def search_config(args: argparse.Namespace, parser: argparse.ArgumentParser, suggested: GDPZeroConfig) -> GDPZeroConfig:
    """The search the flags describe on top of `suggested`, validated by the settings model; a
    broken rule ends in `parser.error` naming the flag."""
    given = {f.setting: getattr(args, f.setting) for f in SEARCH_FLAGS if getattr(args, f.setting) is not None}
    if args.sequential and given.get("concurrency", 1) != 1:
        parser.error(f"argument --in-flight: --sequential runs one simulation at a time, got --in-flight {given['concurrency']}")
    if args.sequential and args.no_reuse:
        parser.error("argument --no-reuse: --sequential never reuses the tree already")
    try:
        if args.sequential:
            numbers = {f.setting: getattr(suggested, f.setting) for f in SEARCH_FLAGS if f.setting != "concurrency"}
            suggested = type(suggested).sequential(**numbers)
        ablations = {"open_loop": not args.closed_loop, "response_selection": not args.no_response_selection}
        if args.no_reuse:
            ablations["reuse_tree"] = False
        return changed(suggested, **given, **ablations)
    except InvalidSetting as invalid:
        parser.error(f"argument {FLAG_OF.get(invalid.setting, invalid.setting)}: {invalid.problem}")


def checked_flags(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """Bad planner flags fail before any backend starts (the local model takes seconds to load)."""
    from gdp_zero.planners.gdpzero import GDPZeroConfig

    search_config(args, parser, GDPZeroConfig())


def backend_from_args(args: argparse.Namespace, *, embeddings: bool | None = None) -> Backend:
    """The backend of the LLM flags; `embeddings` (default: a `--memory` was given) asks for /v1/embeddings."""
    from gdp_zero.backends import open_backend

    if embeddings is None:
        embeddings = getattr(args, "memory", None) is not None
    return open_backend(args.llm, embeddings=embeddings, **_llm_choices(args))


def mode_from_args(args: argparse.Namespace) -> str:
    """The backend the LLM flags choose (`--llm auto` resolved), without starting it."""
    from gdp_zero.backends import resolve_mode

    return resolve_mode(args.llm, **_llm_choices(args))


def _llm_choices(args: argparse.Namespace) -> dict[str, Any]:
    return {"config_path": args.config, "model": args.model, "base_url": args.base_url, "api_key": args.api_key}


def add_limit_arguments(parser: argparse.ArgumentParser, *, sessions: bool = True) -> None:
    """The flags of a public server's limits; `sessions=False` for a server that limits only LLM
    turns (the study server, whose participations are bounded by quotas and tokens, not browser sessions)."""
    from gdp_zero.serving.limits import LimitSettings

    defaults = LimitSettings()
    group = parser.add_argument_group("limits (per client address, and for the whole server)")
    if sessions:
        group.add_argument("--max-sessions", type=positive_int, default=defaults.max_sessions,
                           help=f"open sessions on the server; new ones are refused beyond it (default {defaults.max_sessions})")
        group.add_argument("--max-sessions-per-client", type=positive_int, default=defaults.max_sessions_per_client,
                           help=f"open sessions per client address (default {defaults.max_sessions_per_client})")
    group.add_argument("--turns-per-minute", type=positive_int, default=defaults.turns_per_minute,
                       help=f"LLM turns a client address may start per minute (default {defaults.turns_per_minute})")
    group.add_argument("--max-turns-in-flight", type=positive_int, default=defaults.max_turns_in_flight,
                       help=f"LLM turns running at once on the server (default {defaults.max_turns_in_flight})")
    group.add_argument("--trusted-proxy", type=trusted_proxy, action="append", default=[], metavar="ADDRESS",
                       help="a reverse proxy (IP address or network, repeatable) whose X-Forwarded-For names the client; "
                            "without one no forwarded address is believed (README: A public server)")
    if sessions:
        group.add_argument("--idle-minutes", type=positive_float, default=defaults.idle_timeout_s / 60,
                           help=f"close a session after this many minutes without activity (default {defaults.idle_timeout_s / 60:g})")


def limit_settings(args: argparse.Namespace) -> LimitSettings:
    """The limits the flags set; flags a command does not have keep their defaults."""
    from gdp_zero.serving.limits import LimitSettings

    defaults = LimitSettings()
    return LimitSettings(
        max_sessions=getattr(args, "max_sessions", defaults.max_sessions),
        max_sessions_per_client=getattr(args, "max_sessions_per_client", defaults.max_sessions_per_client),
        turns_per_minute=args.turns_per_minute,
        max_turns_in_flight=args.max_turns_in_flight,
        idle_timeout_s=getattr(args, "idle_minutes", defaults.idle_timeout_s / 60) * 60,
        participations_per_hour=getattr(args, "participations_per_hour", defaults.participations_per_hour),
    )


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return value


def trusted_proxy(text: str) -> str:
    from gdp_zero.serving.forwarding import checked_proxies

    try:
        return checked_proxies([text])[0]
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def add_study_server_arguments(parser: argparse.ArgumentParser, *, default_db: str, default_port: int) -> None:
    """The flags of a server for crowd workers (`study serve`, `pairwise serve`): its database, the
    researcher pages' password (or local-only access), and where it listens."""
    import os

    from gdp_zero.study.spec import ADMIN_PASSWORD_ENV, DB_URL_ENV

    parser.add_argument("--db", default=os.environ.get(DB_URL_ENV) or default_db,
                        help=f"database URL: sqlite:///FILE (default {default_db}) or postgresql://USER:PASSWORD@HOST/DB "
                             f"(prefer the {DB_URL_ENV} environment variable for a URL with a password: flags show in process lists)")
    parser.add_argument("--admin-password", default=os.environ.get(ADMIN_PASSWORD_ENV),
                        help=f"password of the researcher pages (prefer the {ADMIN_PASSWORD_ENV} environment variable: flags show in process lists)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--local-only", action="store_true",
                        help="serve the researcher pages without a password, to this machine alone: a loopback "
                             "--host and no proxy forwarding to it (otherwise set a password)")
    parser.add_argument("--port", type=int, default=default_port)

