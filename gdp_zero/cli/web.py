"""`gdp-zero ui`: the web app."""

from __future__ import annotations

import argparse
from pathlib import Path

from gdp_zero.cli.options import add_limit_arguments, add_llm_arguments, backend_from_args, limit_settings


def configure(parser: argparse.ArgumentParser) -> None:
    add_llm_arguments(parser)
    parser.add_argument("--host", default="127.0.0.1", help="address to serve on (default: %(default)s)")
    parser.add_argument("--port", type=int, default=7860, help="port to serve on (default: %(default)s)")
    parser.add_argument("--share", action="store_true", help="ask Gradio for a public share link")
    parser.add_argument("--data-dir", type=Path, action="append", default=[], metavar="FOLDER",
                        help="a folder whose P4G files the Strategies tab may read (repeatable; none: the tab takes uploads only)")
    add_limit_arguments(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from gdp_zero.backends import check_backend
    from ui.app import launch  # the web app sits above the library: only this command imports it

    limits = limit_settings(args)
    backend = backend_from_args(args)
    try:
        if backend.banner:
            print(backend.banner, flush=True)
        check_backend(backend)
        launch(backend, host=args.host, port=args.port, share=args.share, limits=limits, data_dirs=args.data_dir)
    finally:
        backend.stop()
    return 0
