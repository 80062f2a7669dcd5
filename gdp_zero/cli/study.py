"""`gdp-zero study check | serve | export`: the crowd-study commands."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from gdp_zero.cli.options import (
    add_limit_arguments,
    add_llm_arguments,
    add_study_server_arguments,
    backend_from_args,
    limit_settings,
    mode_from_args,
    positive_int,
)
from gdp_zero.study.spec import DB_URL_ENV, PlannerChoice, Study, load_study
from gdp_zero.serving.limits import LimitSettings

DEFAULT_DB = "sqlite:///study.db"


def configure(study: argparse.ArgumentParser) -> None:
    sub = study.add_subparsers(dest="study_command", required=True)

    check = sub.add_parser("check", help="validate a study file and summarise it")
    check.add_argument("study_file", type=Path)
    check.set_defaults(run=check_command)

    serve = sub.add_parser("serve", help="serve the participant flow (and the admin dashboard)")
    serve.add_argument("study_file", type=Path)
    add_study_server_arguments(serve, default_db=DEFAULT_DB, default_port=7861)
    serve.add_argument("--participations-per-hour", type=positive_int,
                       default=LimitSettings().participations_per_hour,
                       help="new participations a client address may start in an hour (default %(default)s; made-up ids "
                            "from one machine filled a study): raise it for a lab whose machines share an address")
    add_llm_arguments(serve)
    serve.add_argument("--allow-demo", action="store_true",
                       help="pilot the study on the demo LLM's canned replies or the tiny local model (without it, a study "
                            "refuses to start on them: participants must meet a real model)")
    add_limit_arguments(serve, sessions=False)
    serve.set_defaults(run=serve_command)

    export = sub.add_parser("export", help="write the study's data as CSV and JSONL files")
    export.add_argument("--db", default=os.environ.get(DB_URL_ENV), required=DB_URL_ENV not in os.environ,
                        help=f"database URL, as given to `study serve` (default: the {DB_URL_ENV} environment variable)")
    export.add_argument("--out", type=Path, required=True, help="directory for the files (created if missing)")
    export.add_argument("--study", help="the study's id, when the database holds more than one")
    export.add_argument("--raw-ids", action="store_true", help="write recruitment ids as they are (default: salted hashes)")
    export.add_argument("--salt", help="salt for the pseudonyms (default: the one stored in the database)")
    export.add_argument("--include-preview", action="store_true", help="also export the researcher's preview runs")
    export.set_defaults(run=export_command)


def check_command(args: argparse.Namespace) -> int:
    study = load_study(args.study_file)
    print(summary(study, args.study_file))
    return 0


def settings_text(choice: PlannerChoice) -> str:
    """A condition's or contestant's search, time budget and own model, as the summary lists them."""
    details: dict[str, Any] = {**choice.search.model_dump(exclude_none=True)}
    if choice.time_budget_s is not None:
        details["time_budget_s"] = choice.time_budget_s
    if choice.llm:
        details["llm"] = choice.llm
    return ", ".join(f"{k}={v}" for k, v in details.items()) or "defaults"


def summary(study: Study, path: Path) -> str:
    lines = [f"{path}: OK", f"study {study.id!r}: {study.title}"]
    if study.arena is not None:
        arena = study.arena
        lines.append(f"crowd arena: {arena.votes_required} votes for the completion code, at most {arena.most_votes} per "
                     f"participant, {arena.votes_per_address_per_hour} per address an hour")
        lines.append("contestants (shown as A and B until each vote):")
        for contestant in arena.contestants:
            lines.append(f"  {contestant.name}: planner {contestant.planner} ({settings_text(contestant)}), "
                         f"shown after the vote as {contestant.shown_name!r}")
    else:
        lines.append("conditions (participants see only the label):")
        for condition in study.conditions:
            quota = f", quota {condition.quota}" if condition.quota is not None else ""
            lines.append(f"  {condition.name}: planner {condition.planner} ({settings_text(condition)}){quota}, "
                         f"label {condition.label!r}")
        rules = study.chat
        lines.append(
            f"chat: {rules.min_turns}-{rules.max_turns} turns, messages up to {rules.max_message_chars} characters, "
            f"idle timeout {rules.idle_timeout_minutes:g} min"
        )
    for name, items in (("per-turn ratings", study.turn_ratings), ("pre-survey", study.survey_items("pre")), ("post-survey", study.survey_items("post"))):
        lines.append(f"{name}: " + (", ".join(f"{i.id} ({i.type})" for i in items) or "none"))
    if study.attention_check is not None:
        check = study.attention_check
        lines.append(f"attention check: {check.item.id} in the {check.survey}-survey, on failure: {check.on_failure}")
    code, url = study.completion.redirect()
    lines.append(f"completion: code {code}, redirect {url}")
    screened_code, screened_url = study.completion.redirect(screened_out=True)
    if screened_code or screened_url:
        lines.append(f"screened out: code {screened_code}, redirect {screened_url}")
    return "\n".join(lines)


def serve_command(args: argparse.Namespace) -> int:
    from gdp_zero.study.readiness import check_condition_models, refuse_demo
    from ui.study.server import serve  # the web pages sit above the library: only this command imports them

    study = load_study(args.study_file)
    refuse_demo(mode_from_args(args), args.allow_demo)  # before the local model spends seconds loading
    backend = backend_from_args(args, embeddings=any(c.memory is not None for c in study.conditions))
    try:
        check_condition_models(study, backend.settings)  # a wrong key, address or model: one line now
        return serve(study, database_url=args.db, backend=backend, host=args.host, port=args.port,
                     admin_password=args.admin_password, limits=limit_settings(args),
                     trusted_proxies=args.trusted_proxy, local_only=args.local_only)
    finally:
        backend.stop()


def export_command(args: argparse.Namespace) -> int:
    from gdp_zero.study.export import export_study

    # A database that cannot be used is a DatabaseError, a ConfigError: one line from main(), as for serve.
    written = export_study(args.db, args.out, study_id=args.study, raw_ids=args.raw_ids, salt=args.salt, include_preview=args.include_preview)
    for path, rows in written.items():
        print(f"{path}: {rows} rows")
    return 0
