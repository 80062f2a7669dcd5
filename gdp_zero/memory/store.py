"""A file-backed lesson store: SQLite rows, searched as one numpy matrix in memory.

Chosen by measurement (benchmarks/memory_store.py, the README's "Reflection memory"): exact
search by one matrix product over 10^5 lessons of 256 dimensions takes a few milliseconds, far
below one LLM call, so an approximate index would buy nothing a planner could notice and would
add a native dependency. SQLite keeps the file safe against a kill mid-write (one transaction
per dialogue) and lets a lesson be added once only: (dialogue id, ordinal) is unique, so a
resumed run that writes a dialogue's lessons again adds nothing.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gdp_zero.records import now_iso
from gdp_zero.validation import ConfigError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS lessons (
    id INTEGER PRIMARY KEY,
    dialogue_id TEXT NOT NULL,
    ordinal INTEGER NOT NULL,
    text TEXT NOT NULL,
    situation TEXT NOT NULL,
    outcome REAL,
    created_at TEXT NOT NULL,
    embedding BLOB NOT NULL,
    UNIQUE (dialogue_id, ordinal)
);
CREATE TABLE IF NOT EXISTS store_info (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True)
class Lesson:
    id: int
    dialogue_id: str  # the dialogue it was learned from
    text: str
    situation: str  # the text its embedding was made from
    outcome: float | None  # how that dialogue ended


@dataclass(frozen=True)
class NewLesson:
    text: str
    situation: str
    embedding: Sequence[float]


@dataclass(frozen=True)
class Recalled:
    lesson: Lesson
    similarity: float  # cosine, in [-1, 1]


class LessonStore:
    """Lessons in one SQLite file; `search` ranks them all by cosine similarity to a query vector."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self._db = sqlite3.connect(self.path)
            # WAL with NORMAL sync: a commit survives a killed process (what a resumed run needs)
            # without an fsync per dialogue; only a power cut may lose the last few.
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as error:
            raise ConfigError(f"{self.path}: not a lesson memory file ({error})") from None
        self._ids = np.zeros(0, dtype=np.int64)
        self._matrix: np.ndarray | None = None  # unit rows, loaded on the first search

    def close(self) -> None:
        self._db.close()

    def __len__(self) -> int:
        (count,) = self._db.execute("SELECT count(*) FROM lessons").fetchone()
        return int(count)

    @property
    def dims(self) -> int | None:
        row = self._db.execute("SELECT value FROM store_info WHERE key = 'dims'").fetchone()
        return int(row[0]) if row else None

    def has_dialogue(self, dialogue_id: str) -> bool:
        return self._db.execute("SELECT 1 FROM lessons WHERE dialogue_id = ? LIMIT 1", (dialogue_id,)).fetchone() is not None

    def add(self, dialogue_id: str, lessons: Sequence[NewLesson], outcome: float | None) -> int:
        """Store a dialogue's lessons in one transaction; lessons it already has are kept, not added again."""
        rows = []
        for ordinal, lesson in enumerate(lessons):
            vector = self._unit(lesson.embedding)
            rows.append((dialogue_id, ordinal, lesson.text, lesson.situation, outcome, now_iso(), vector.tobytes()))
        with self._db:
            if rows:
                self._db.execute("INSERT OR IGNORE INTO store_info VALUES ('dims', ?)", (str(len(lessons[0].embedding)),))
            before = self._db.total_changes
            self._db.executemany(
                "INSERT OR IGNORE INTO lessons (dialogue_id, ordinal, text, situation, outcome, created_at, embedding) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            return self._db.total_changes - before

    def search(self, query: Sequence[float], k: int) -> list[Recalled]:
        """The `k` lessons most similar to `query`, most similar first (ties: the older first)."""
        if k <= 0:
            return []
        self._load_new_rows()
        if self._matrix is None or not len(self._ids):
            return []
        scores = self._matrix @ self._unit(query)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.lexsort((self._ids[top], -scores[top]))]
        lessons = self._lessons([int(self._ids[i]) for i in top])
        return [Recalled(lessons[int(self._ids[i])], float(scores[i])) for i in top]

    def _unit(self, vector: Sequence[float]) -> np.ndarray:
        array = np.asarray(vector, dtype=np.float32)
        dims = self.dims
        if dims is not None and array.shape != (dims,):
            raise ConfigError(
                f"{self.path}: its lessons have {dims}-dimensional embeddings, this one has {array.size}; "
                "use the embedding model the memory was written with, or another --memory file"
            )
        norm = float(np.linalg.norm(array))
        return array / norm if norm else array

    def _load_new_rows(self) -> None:
        """Rows written since the last search (by this process or another) join the matrix."""
        last = int(self._ids[-1]) if len(self._ids) else 0
        rows = self._db.execute("SELECT id, embedding FROM lessons WHERE id > ? ORDER BY id", (last,)).fetchall()
        if not rows:
            return
        added = np.frombuffer(b"".join(blob for _, blob in rows), dtype=np.float32).reshape(len(rows), -1)
        self._ids = np.concatenate([self._ids, np.array([row[0] for row in rows], dtype=np.int64)])
        self._matrix = added if self._matrix is None else np.vstack([self._matrix, added])

    def _lessons(self, ids: list[int]) -> dict[int, Lesson]:
        marks = ",".join("?" * len(ids))
        rows = self._db.execute(
            f"SELECT id, dialogue_id, text, situation, outcome FROM lessons WHERE id IN ({marks})", ids
        ).fetchall()
        return {row[0]: Lesson(*row) for row in rows}
