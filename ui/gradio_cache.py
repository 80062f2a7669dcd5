"""Gradio's file cache inside this server's own scratch folder (gdp_zero/serving/scratch.py).

Gradio copies every file it hands out (transcripts, trees, study exports, uploads) into its
cache, by default /tmp/gradio: shared by every Gradio server on the machine, world-readable
(0644 files in a 0755 folder), left behind by a server that is killed, and served again by the
next one, so after a SIGKILL of `study serve` the next server's participant app served the
admin's exports without a password. GRADIO_TEMP_DIR names the cache; Gradio reads it when a
block is made (where files are copied) and when an app is mounted (which files it serves), so
`private_gradio_cache()` runs before the server builds its apps. The folder is this process's
alone (0700), removed at exit (and SIGTERM, gdp_zero/serving/signals.py) and, after a crash, by
the next server that starts.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from gdp_zero.serving.scratch import scratch_folder


@functools.cache
def private_gradio_cache() -> Path:
    """This process's Gradio cache folder, made (and set as Gradio's) on the first call."""
    folder = scratch_folder("gradio")
    os.environ["GRADIO_TEMP_DIR"] = str(folder)
    return folder
