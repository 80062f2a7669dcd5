"""`gdp-zero ui`: the web app."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from gdp_zero.cli.options import add_limit_arguments, add_llm_arguments, backend_from_args, limit_settings

if TYPE_CHECKING:
    from gdp_zero.arena.contestants import Arena
    from gdp_zero.arena.service import ArenaService
    from gdp_zero.backends import Backend

DEFAULT_ARENA_DB = "sqlite:///arena.db"


def configure(parser: argparse.ArgumentParser) -> None:
    add_llm_arguments(parser)
    parser.add_argument("--host", default="127.0.0.1", help="address to serve on (default: %(default)s)")
    parser.add_argument("--port", type=int, default=7860, help="port to serve on (default: %(default)s)")
    parser.add_argument("--share", action="store_true", help="ask Gradio for a public share link")
    parser.add_argument("--data-dir", type=Path, action="append", default=[], metavar="FOLDER",
                        help="a folder whose P4G files the Strategies tab may read (repeatable; none: the tab takes uploads only)")
    parser.add_argument("--arena", type=Path, metavar="FILE",
                        help="an arena file: adds the Arena tab (two contestants answer side by side, the person votes)")
    parser.add_argument("--arena-db", default=DEFAULT_ARENA_DB,
                        help=f"where the arena's votes are stored: sqlite:///FILE (default {DEFAULT_ARENA_DB}) or postgresql://...")
    parser.add_argument("--memory", type=Path, metavar="FILE",
                        help="reflection memory (SQLite, made if missing): the gdpzero planner recalls lessons from it, "
                             "and every chat that ends adds its lessons (default: off)")
    add_limit_arguments(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from gdp_zero.arena.contestants import load_arena
    from gdp_zero.backends import check_backend
    from gdp_zero.study.db import DatabaseError
    from ui.app import launch  # the web app sits above the library: only this command imports it

    from gdp_zero.memory.store import LessonStore

    limits = limit_settings(args)
    if args.memory is not None:
        LessonStore(args.memory).close()  # a file that is not a memory stops here, in one line, before anything starts
    arena = load_arena(args.arena) if args.arena is not None else None  # a bad file stops before anything starts
    backend = backend_from_args(args)
    try:
        if backend.banner:
            print(backend.banner, flush=True)
        check_backend(backend)
        service = arena_service(arena, backend, args.arena_db) if arena is not None else None
        launch(backend, host=args.host, port=args.port, share=args.share, limits=limits, trusted_proxies=args.trusted_proxy,
               data_dirs=args.data_dir,
               arena=service, memory=args.memory)
    except DatabaseError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    finally:
        backend.stop()
    return 0


def arena_service(arena: Arena, backend: Backend, db: str) -> ArenaService:
    """The arena on this backend: each contestant's own model checked as the backend's is, votes in `db`."""
    from gdp_zero.arena.service import ArenaService
    from gdp_zero.backends import check_backend, suggested_search
    from gdp_zero.study.db import open_database

    for contestant in arena.contestants:
        if contestant.llm:
            check_backend(replace(backend, settings=contestant.llm_settings(backend.settings)))
    return ArenaService(arena, backend.settings, open_database(db), search=suggested_search(backend.mode))
