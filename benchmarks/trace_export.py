"""Training traces from self-play: lines and tokens per dialogue, imitation against exploratory.

Plays a few self-play dialogues on the fake world with the default GDP-Zero search (or the
--sims given), exports the run in both formats (gdp_zero.traces) and counts, per dialogue, the
lines and the tokens of the whole file and of its assistant targets alone (what a trainer's loss
reads). Tokens are Gemma 3's (the local model's tokenizer, vocabulary only) when the `local`
extra is installed, else characters / 4. Prints one table.

    python benchmarks/trace_export.py --dialogues 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import tempfile
from collections.abc import Callable
from pathlib import Path

from search_speed import fake_server_process, settings_for

from gdp_zero.factory import ChatOptions
from gdp_zero.llm.client import LLMClient
from gdp_zero.personas import PERSONAS_DIR, load_personas
from gdp_zero.planners import GDPZeroConfig
from gdp_zero.selfplay import SelfPlayRun, run_selfplay
from gdp_zero.traces import TRACE_FORMATS, export_traces


def token_counter() -> tuple[Callable[[str], int], str]:
    try:
        import llama_cpp

        from gdp_zero.llm.local_model import model_path

        vocabulary = llama_cpp.Llama(str(model_path()), vocab_only=True, verbose=False)
        return (lambda text: len(vocabulary.tokenize(text.encode("utf-8"), add_bos=False))), "Gemma 3 tokens"
    except ImportError:
        return (lambda text: -(-len(text) // 4)), "characters / 4"


async def play(base_url: str, out: Path, dialogues: int, sims: int | None, max_turns: int) -> None:
    search = GDPZeroConfig(seed=0) if sims is None else GDPZeroConfig(simulations=sims, seed=0)
    run = SelfPlayRun("traces", out, tuple(load_personas([PERSONAS_DIR])), dialogues,
                      ChatOptions(search=search, max_exchanges=max_turns), concurrency=5)
    client = LLMClient(settings_for(base_url, seed=3))
    try:
        await run_selfplay(run, client)
    finally:
        await client.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dialogues", type=int, default=10)
    parser.add_argument("--sims", type=int, default=None, help="simulations per turn (default: the planner's)")
    parser.add_argument("--max-turns", type=int, default=6)
    args = parser.parse_args()
    count, unit = token_counter()
    sims = args.sims or GDPZeroConfig().simulations
    print(f"machine: {platform.machine()}, {platform.system()}, Python {platform.python_version()}, {os.cpu_count()} cores; "
          f"fake world; {args.dialogues} self-play dialogues, {sims} simulations per turn, at most {args.max_turns} "
          f"persuader turns; tokens: {unit}; tokens / line: mean [min, max]")
    print("| format | lines / dialogue | tokens / dialogue | target tokens / dialogue | tokens / line |")
    print("|---|---|---|---|---|")
    with fake_server_process(0.0) as base_url, tempfile.TemporaryDirectory() as folder:
        runs = Path(folder) / "runs.jsonl"
        asyncio.run(play(base_url, runs, args.dialogues, args.sims, args.max_turns))
        for fmt in TRACE_FORMATS:
            out = Path(folder) / f"{fmt}.jsonl"
            stats = export_traces([runs], fmt, out)
            examples = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
            whole = [sum(count(m["content"]) for m in e["messages"]) for e in examples]
            target = [count(e["messages"][-1]["content"]) for e in examples]
            per_dialogue = stats.lines / stats.dialogues
            print(f"| {fmt} | {per_dialogue:.1f} | {sum(whole) / stats.dialogues:,.0f} | {sum(target) / stats.dialogues:,.0f} | "
                  f"{statistics.mean(whole):,.0f} [{min(whole):,}, {max(whole):,}] |")


if __name__ == "__main__":
    main()
