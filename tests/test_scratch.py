"""Scratch folders: removed at exit, and after a SIGKILL by the next server to start."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from gdp_zero.serving.scratch import scratch_folder

ROOT = Path(__file__).resolve().parents[2]
MAKE_FOLDER = """
import sys, time
from pathlib import Path
from gdp_zero.serving.scratch import scratch_folder
folder = scratch_folder("study-export", base=Path(sys.argv[1]))
(folder / "answers.csv").write_text("participant,answer\\n")
print(folder, flush=True)
if sys.argv[2] == "wait":
    time.sleep(600)
"""


def start(base: Path, mode: str) -> tuple[subprocess.Popen[str], Path]:
    process = subprocess.Popen([sys.executable, "-c", MAKE_FOLDER, str(base), mode], cwd=ROOT, text=True,
                               stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert process.stdout is not None
    return process, Path(process.stdout.readline().strip())


def test_a_folder_is_removed_when_its_process_exits(tmp_path: Path) -> None:
    process, folder = start(tmp_path, "exit")
    assert process.wait(timeout=60) == 0
    assert folder.parent == tmp_path and not folder.exists()


def test_a_killed_process_leaves_its_folder_to_the_next_start_which_removes_it(tmp_path: Path) -> None:
    killed, orphan = start(tmp_path, "wait")
    running, alive = start(tmp_path, "wait")
    try:
        assert (orphan / "answers.csv").exists()
        killed.send_signal(signal.SIGKILL)
        killed.wait(timeout=60)
        assert orphan.exists()  # SIGKILL runs no exit handler

        other_purpose = scratch_folder("ui", base=tmp_path)
        assert orphan.exists()  # only folders of the same purpose are looked at
        mine = scratch_folder("study-export", base=tmp_path)
        assert not orphan.exists()
        assert alive.exists() and mine.exists() and other_purpose.exists()  # a live process keeps its folder
    finally:
        running.kill()
        running.wait(timeout=60)
