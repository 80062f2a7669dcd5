"""Scratch folders for the files a server hands out (transcripts, trees, study exports).

One folder per purpose and process, named with the process id, removed when the process exits.
A process killed before it could clean up (SIGKILL, out of memory, power loss) leaves its folder
behind, and study exports hold participants' data: the next server to start removes every folder
of its purpose whose process is gone.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

PREFIX = "gdp-zero-"


def scratch_folder(purpose: str, *, base: Path | None = None) -> Path:
    """A new, private folder for `purpose` (e.g. "ui", "study-export"), removed at exit; folders
    that dead processes left for the same purpose are removed first."""
    base = base or Path(tempfile.gettempdir())
    remove_orphans(purpose, base)
    folder = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{purpose}-{os.getpid()}-", dir=base))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def remove_orphans(purpose: str, base: Path) -> list[Path]:
    """Remove this user's `purpose` folders whose process no longer runs; the folders removed."""
    removed = []
    for folder in base.glob(f"{PREFIX}{purpose}-*-*"):
        pid = folder.name[len(f"{PREFIX}{purpose}-"):].split("-", 1)[0]
        if not pid.isdigit() or not folder.is_dir() or folder.stat().st_uid != os.getuid() or _alive(int(pid)):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True
