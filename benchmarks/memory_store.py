"""Which lesson store: numpy over SQLite (the one used) against FAISS, at 10^5 lessons.

For each embedding size (256: the fake server's; 1536: OpenAI's text-embedding-3-small) it writes
N random unit vectors into a LessonStore file (one transaction), then times: the first search
(reads every row from SQLite into one matrix), later searches (one matrix product + top k),
and the same top-k queries on FAISS indexes built from the same matrix: exact (IndexFlatIP) and
approximate (HNSW, M = 32, efSearch = 128), with its recall@k against the exact answer. FAISS is not a
dependency: `pip install faiss-cpu` to get its rows. Prints one table.

    python benchmarks/memory_store.py --lessons 100000
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from gdp_zero.memory.store import LessonStore, NewLesson

K = 5
QUERIES = 50
EF_SEARCH = 128  # HNSW's search breadth: FAISS's default of 16 finds few true neighbours of random vectors


def timed_ms(fn, repeats: int) -> tuple[float, list]:  # type: ignore[no-untyped-def]
    results, times = [], []
    for i in range(repeats):
        started = time.perf_counter()
        results.append(fn(i))
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), results


def measure(n: int, dims: int, rng: np.random.Generator, hnsw_too: bool) -> list[tuple[str, ...]]:
    vectors = rng.standard_normal((n, dims)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    queries = rng.standard_normal((QUERIES, dims)).astype(np.float32)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "memory.sqlite"
        store = LessonStore(path)
        started = time.perf_counter()
        # One dialogue's worth of lessons per add, as self-play writes them (3 a dialogue).
        batch = [NewLesson(f"lesson {i}", f"situation {i}", vectors[i]) for i in range(n)]
        for start in range(0, n, 3):
            store.add(f"d{start}", batch[start:start + 3], None)
        write_s = time.perf_counter() - started
        started = time.perf_counter()
        store.search(queries[0], K)
        load_ms = (time.perf_counter() - started) * 1000
        query_ms, exact = timed_ms(lambda i: [r.lesson.id for r in store.search(queries[i], K)], QUERIES)
        size_mb = path.stat().st_size / 1e6
        store.close()
        matrix_mb = n * dims * 4 / 1e6
        rows.append(("numpy over SQLite (used)", f"{dims}", f"{write_s:.1f}", f"{size_mb:.0f}", f"{load_ms:.0f}",
                     f"{query_ms:.2f}", f"{matrix_mb:.0f}", "1.00"))
    try:
        import faiss  # type: ignore[import-not-found]
    except ImportError:
        rows.append(("faiss (not installed)", f"{dims}", "", "", "", "", "", ""))
        return rows
    faiss.omp_set_num_threads(1)
    flat = faiss.IndexFlatIP(dims)
    started = time.perf_counter()
    flat.add(vectors)
    build_ms = (time.perf_counter() - started) * 1000
    flat_ms, _ = timed_ms(lambda i: flat.search(queries[i:i + 1], K), QUERIES)
    rows.append(("faiss IndexFlatIP (exact)", f"{dims}", "", "", f"{build_ms:.0f} (build)", f"{flat_ms:.2f}",
                 f"{n * dims * 4 / 1e6:.0f}", "1.00"))
    if not hnsw_too:
        return rows
    hnsw = faiss.IndexHNSWFlat(dims, 32, faiss.METRIC_INNER_PRODUCT)
    hnsw.hnsw.efSearch = EF_SEARCH
    started = time.perf_counter()
    hnsw.add(vectors)
    build_ms = (time.perf_counter() - started) * 1000
    hnsw_ms, found = timed_ms(lambda i: hnsw.search(queries[i:i + 1], K)[1][0], QUERIES)
    # Store ids are row numbers + 1 (SQLite's rowid), FAISS ids are row numbers.
    recall = np.mean([len({int(x) + 1 for x in f} & set(e)) / K for f, e in zip(found, exact)])
    rows.append(("faiss HNSW M=32 (approximate)", f"{dims}", "", "", f"{build_ms:.0f} (build)", f"{hnsw_ms:.2f}",
                 f"{n * dims * 4 / 1e6:.0f}+graph", f"{recall:.2f}"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lessons", type=int, default=100_000)
    parser.add_argument("--dims", type=int, nargs="+", default=[256, 1536])
    parser.add_argument("--no-hnsw", action="store_true", help="skip the HNSW index (its build takes minutes)")
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {platform.system()}, Python {platform.python_version()}, "
          f"{os.cpu_count()} cores (shared, load average {os.getloadavg()[0]:.1f}); {args.lessons} lessons, top {K}, "
          f"median of {QUERIES} queries, 1 thread")
    print("| store | dims | write (s) | file (MB) | first search / build (ms) | search (ms) | RAM (MB) | recall@5 |")
    print("|---|---|---|---|---|---|---|---|")
    rng = np.random.default_rng(0)
    for dims in args.dims:
        for row in measure(args.lessons, dims, rng, not args.no_hnsw):
            print("| " + " | ".join(row) + " |", flush=True)


if __name__ == "__main__":
    main()
