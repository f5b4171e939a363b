"""Memory stays flat however long the input: peak resident memory of a full-decode query over
an archive of 1, 5 and 20 videos (symbolic links to the shared room video, 1394 frames each),
and of detection queries over 1 and 3 copies (10 with ``--long``), each in a process of its own
streamed with fetchmany(256), result cache off.

    python bench/memory.py [--long]   # needs the shared videos ($VQL_SHARED, default ../shared)

Prints two tables: videos, frames, wall time, frames per second, resident memory before the
query and its peak while the query ran (sampled every 10 ms). Target for the detection queries
(issue 12): peak under 1 GB and within 10 % across the lengths.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

import vql
from vql.settings import Settings
from vql.shell.format import table

SIZES = (1, 5, 20)
QUERY = "SELECT avg(brightness), count(*) FROM archive{n}"
DETECTION = ("SELECT frame_id FROM a WHERE has_object(frame, 'person')",
             "SELECT frame_id, has_object(frame, 'person') FROM a")

# no result cache: every run decodes (the archives share one video's content)
NO_CACHE = dataclasses.replace(Settings.from_env(), cache_mb=0)


class PeakRSS:
    """Samples this process's resident memory in a background thread."""

    def __init__(self) -> None:
        self.process = psutil.Process()
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.01)

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def main() -> int:
    shared = Path(os.environ.get("VQL_SHARED", Path(__file__).resolve().parents[2] / "shared"))
    source = (shared / "data" / "videos" / "one-by-one-person-detection.mp4").resolve()
    if not source.is_file():
        print(f"{source} not found; set VQL_SHARED", file=sys.stderr)
        return 1
    rows = []
    with tempfile.TemporaryDirectory() as tmp, vql.connect(settings=NO_CACHE) as con:
        for n in SIZES:
            folder = Path(tmp) / f"a{n}"
            folder.mkdir()
            for i in range(n):
                (folder / f"clip{i:03d}.mp4").symlink_to(source)
            con.execute(f"CREATE VIDEO TABLE archive{n} FROM ?", [str(folder / "*.mp4")])
        con.execute(QUERY.format(n=1)).fetchall()  # warm up: imports, first decode
        for n in SIZES:
            before = psutil.Process().memory_info().rss
            with PeakRSS() as peak:
                started = time.perf_counter()
                (_, frames), = con.execute(QUERY.format(n=n)).fetchall()
                elapsed = time.perf_counter() - started
            rows.append((n, frames, f"{elapsed:.1f}", f"{frames / elapsed:.0f}",
                         f"{before / 2**20:.0f}", f"{peak.peak / 2**20:.0f}"))
    print(f"machine: {os.cpu_count()} cores; query: {QUERY.format(n='N')}")
    print(table(["videos", "frames", "seconds", "frames/s", "RSS before (MiB)",
                 "peak RSS during (MiB)"], rows))
    sizes = (1, 3, 10) if "--long" in sys.argv else (1, 3)
    rows = [[query, n, *_detection(source, query, n)] for query in DETECTION for n in sizes]
    print(table(["query", "videos", "frames", "seconds", "frames/s", "RSS before (MiB)",
                 "peak RSS during (MiB)"], rows))
    return 0


def _detection(source: Path, query: str, n: int) -> list[str]:
    """One detection query over ``n`` copies of ``source``, in a fresh process."""
    import subprocess

    out = subprocess.run([sys.executable, __file__, "--one", str(source), query, str(n)],
                         capture_output=True, text=True, check=True).stdout
    return out.strip().splitlines()[-1].split("\t")


def _one(source: Path, query: str, n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp, vql.connect(settings=NO_CACHE) as con:
        for i in range(n):
            (Path(tmp) / f"clip{i:03d}.mp4").symlink_to(source)
        con.execute("CREATE VIDEO TABLE a FROM ?", [str(Path(tmp) / "*.mp4")])
        before = psutil.Process().memory_info().rss
        with PeakRSS() as peak:
            started = time.perf_counter()
            cur, rows = con.execute(query), 0
            while batch := cur.fetchmany(256):
                rows += len(batch)
            elapsed = time.perf_counter() - started
        (frames,), = con.execute("SELECT count(*) FROM a").fetchall()
        print("\t".join([str(frames), f"{elapsed:.1f}", f"{frames / elapsed:.0f}",
                         f"{before / 2**20:.0f}", f"{peak.peak / 2**20:.0f}"]))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--one"]:
        _one(Path(sys.argv[2]), sys.argv[3], int(sys.argv[4]))
        sys.exit(0)
    sys.exit(main())
