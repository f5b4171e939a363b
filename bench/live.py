"""Live cameras: how many streams one machine serves with a per-frame detection query each.

    python bench/live.py [--seconds 20] [--streams 1,2,4,8] [--modes joined,separate,adapting]
    # needs $VQL_SHARED

For each N, N senders (``python -m vql.video.serve``, each a process of its own) stream the
room video on the loopback interface in real time (10 fps, looping), and N queries, one per
camera, each on its own connection and thread (as ``vql watch`` runs them), run

    SELECT frame_id, has_object(frame, 'person') AS person FROM camK

for ``--seconds``. Printed per N: rows per second (all cameras), latency from a frame's arrival
to its row (p50, p99, over every row), frames dropped (the query could not keep up: its queue
of VQL_LIVE_QUEUE frames was full), and accuracy: the share of the rows whose ``person`` equals
the same query's on the file for that frame. A row of N meets the target when p99 <= 1 s and
at most 1 % of the frames were dropped.

Each N runs three times, each in a process of its own: "joined", where the frames that
several cameras' pipelines hand the detector at once go through it in one call
(``vql/models/coalesce.py``, VQL's default on CUDA), "separate" (``VQL_COALESCE=0``, the
default on CPU), where each pipeline calls it on its own, as N ``model.track`` loops do, and
"adapting": separate calls, the query ``WITH LATENCY 1s`` (``vql/exec/adapt.py``: the rate and
resolution of each camera follow its load and content; the skipped frames' rows are filled
from the last processed frame). For "adapting", "estimated" is the mean of the cameras'
estimated accuracy, to hold against the measured one. Target: joined serves at least twice
the streams of separate within the target.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import vql
from vql.shell.format import table
from vql.video.serve import free_port

TARGET_P99_S = 1.0
TARGET_DROPPED = 0.01
WARMUP_ROWS = 30  # a camera's first rows (3 s): its connection and the model's loading


def reference(video: Path) -> list[bool]:
    """The query's answer on the file, by frame."""
    with vql.connect() as con:
        con.execute(f"LOAD VIDEO '{video}' INTO room")
        rows = con.execute("SELECT frame_id, has_object(frame, 'person') FROM room "
                           "ORDER BY frame_id").fetchall()
    return [bool(r[1]) for r in rows]


def run(n: int, video: Path, seconds: float, truth: list[bool]) -> dict[str, object]:
    """N cameras and N queries for ``seconds``; the row of the table."""
    folder = tempfile.mkdtemp(prefix="vql-live-bench-")
    database = os.path.join(folder, "live.duckdb")
    urls = [f"tcp://127.0.0.1:{free_port()}" for _ in range(n)]
    senders = [subprocess.Popen([sys.executable, "-m", "vql.video.serve", str(video), url,
                                 "--loop"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
               for url in urls]
    try:
        with vql.connect(database) as con:
            for k, url in enumerate(urls):
                con.execute(f"CREATE VIDEO TABLE cam{k} FROM '{url}'")
        stop = threading.Event()
        results: list[dict[str, object]] = [{} for _ in range(n)]
        threads = [threading.Thread(target=_query, args=(database, k, stop, results[k]))
                   for k in range(n)]
        for thread in threads:
            thread.start()
        time.sleep(seconds)
        stop.set()
        for thread in threads:
            thread.join(60)
    finally:
        for sender in senders:
            sender.kill()
            sender.wait()
    return _row(n, seconds, results, truth)


def _query(database: str, k: int, stop: threading.Event, out: dict[str, object]) -> None:
    con = vql.connect(database)
    con.set_progress_handler(lambda _: stop.is_set(), 0.2)
    rows: list[tuple[int, bool]] = []
    cursor = None
    target = os.environ.get("VQL_BENCH_TARGET", "")
    try:
        cursor = con.execute(f"SELECT frame_id, has_object(frame, 'person') FROM cam{k}"
                             + target)
        for row in cursor:
            rows.append((int(row[0]), bool(row[1])))
    except vql.QueryCanceledError:
        pass
    finally:
        if cursor is not None and cursor.streams:
            out["stats"] = next(iter(cursor.streams.values()))
            out["estimated"] = cursor.estimated_accuracy
        out["rows"] = rows
        con.close()


def _row(n: int, seconds: float, results: list[dict[str, object]],
         truth: list[bool]) -> dict[str, object]:
    rows = [r for result in results for r in result.get("rows", [])]  # type: ignore[attr-defined]
    stats = [result["stats"] for result in results if "stats" in result]
    latencies = sorted(x for s in stats  # after the warm-up (connecting, loading the model)
                       for x in s.latencies_s[WARMUP_ROWS:])  # type: ignore[attr-defined]
    frames_in = sum(s.frames_in for s in stats)  # type: ignore[attr-defined]
    dropped = sum(s.frames_dropped for s in stats)  # type: ignore[attr-defined]
    right = sum(truth[frame % len(truth)] == person for frame, person in rows)
    estimates = [float(r["estimated"]) for r in results  # type: ignore[arg-type]
                 if r.get("estimated") is not None]

    def pct(share: float) -> float:
        return latencies[min(int(share * len(latencies)), len(latencies) - 1)] if latencies \
            else float("nan")

    meets = bool(latencies) and pct(0.99) <= TARGET_P99_S and \
        dropped <= TARGET_DROPPED * max(frames_in, 1)
    return {"streams": n, "rows/s": round(len(rows) / seconds, 1),
            "p50 s": round(pct(0.5), 3), "p99 s": round(pct(0.99), 3),
            "frames in": frames_in, "dropped": dropped,
            "accuracy": round(right / len(rows), 4) if rows else float("nan"),
            "estimated": round(sum(estimates) / len(estimates), 4) if estimates else "-",
            "meets": "yes" if meets else "no"}


# mode: (VQL_COALESCE, the query's target clause)
MODES = {"joined": ("1", ""), "separate": ("0", ""), "adapting": ("0", " WITH LATENCY 1s")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--streams", default="1,2,4,8")
    parser.add_argument("--modes", default=",".join(MODES), help="of: " + ", ".join(MODES))
    parser.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    shared = Path(os.environ.get("VQL_SHARED", Path(__file__).resolve().parents[1].parent /
                                 "shared"))
    video = shared / "data" / "videos" / "one-by-one-person-detection.mp4"
    if args.one is not None:  # one row, in a process of its own
        truth = [bool(v) for v in json.loads(os.environ["VQL_BENCH_TRUTH"])]
        print(json.dumps(run(args.one, video, args.seconds, truth)))
        return
    truth = json.dumps([int(v) for v in reference(video)])
    rows = []
    for n in args.streams.split(","):
        for mode in args.modes.split(","):
            flag, target = MODES[mode]
            env = dict(os.environ, VQL_COALESCE=flag, VQL_BENCH_TRUTH=truth,
                       VQL_BENCH_TARGET=target)
            done = subprocess.run([sys.executable, __file__, "--one", n, "--seconds",
                                   str(args.seconds)], env=env, capture_output=True, text=True,
                                  check=True)
            rows.append({"model calls": mode, **json.loads(done.stdout.splitlines()[-1])})
    columns = list(rows[0])
    print(table(columns, [[r[c] for c in columns] for r in rows]))
    for mode in args.modes.split(","):
        best = max((int(r["streams"]) for r in rows  # type: ignore[call-overload]
                    if r["model calls"] == mode and r["meets"] == "yes"), default=0)
        print(f"{mode}: the largest N that meets p99 <= {TARGET_P99_S:g} s with <= "
              f"{TARGET_DROPPED:.0%} dropped is {best} ({os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
