"""``vql run QUERY_FILE --videos GLOB``: the command line of a batch run."""

from __future__ import annotations

import argparse
import os
import sys
import typing as t

import vql
from vql.batch.runner import ArchiveRun, RunProgress, RunReport

# Exit statuses: all videos processed; the run could not start; some files failed; Ctrl-C.
OK, ERROR, FAILURES, INTERRUPTED = 0, 1, 2, 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vql run",
        description="Run the queries of QUERY_FILE over every video GLOB names, each video on "
                    "its own (an aggregate is per video), committing each video's results as "
                    "it finishes. Run the same command again to continue an interrupted run: "
                    "finished, unchanged videos are skipped.",
        epilog="Exit status: 0 all videos processed, 2 some files failed (listed), 1 the run "
               "could not start or stopped on an error that is not about a file, 130 "
               "interrupted.")
    parser.add_argument("query_file", help="a file of ';'-separated statements: queries "
                        "(SELECT ...) and set-up statements such as CREATE FUNCTION")
    parser.add_argument("--videos", required=True,
                        help="a video file or a glob, quoted (e.g. 'archive/**/*.mp4')")
    parser.add_argument("--db", default=os.environ.get("VQL_DATABASE") or "vql.duckdb",
                        help="the database that keeps the videos, results and run records "
                             "(default: $VQL_DATABASE or vql.duckdb)")
    parser.add_argument("--table", default="videos",
                        help="the video table the queries read (default: videos)")
    parser.add_argument("--out", help="results.parquet or results.csv (written when the run "
                        "finishes), or a table name; default: a table named after the query "
                        "file. Several queries get _1, _2, ... suffixes")
    parser.add_argument("--workers", type=int, default=1,
                        help="worker processes (default 1: in this process)")
    return parser


class ProgressLine:
    """One line rewritten in place at a terminal; a line per video otherwise (logs)."""

    def __init__(self, stream: t.TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()

    def __call__(self, state: RunProgress) -> None:
        left = state.seconds_left
        eta = "-" if left is None else _clock(left)
        failed = f", {state.failed} failed" if state.failed else ""
        head = (f"[{state.done}/{state.total} videos] {state.frames_per_second:,.0f} frames/s"
                f"{failed}, ETA {eta}")
        if self.tty:
            print(f"\r\033[K{head}", end="", file=self.stream, flush=True)
        else:
            what = "done" if state.last_error is None else f"failed: {state.last_error}"
            print(f"{head}  {state.last}: {what}", file=self.stream, flush=True)

    def end(self) -> None:
        if self.tty:
            print(file=self.stream)


def _clock(seconds: float) -> str:
    whole = int(round(seconds))
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def summary(report: RunReport) -> str:
    rate = report.frames / report.seconds if report.seconds else 0.0
    lines = [f"run {report.run}: {report.videos} videos matched, {report.skipped} finished "
             f"earlier, {report.processed} processed in {report.seconds:.1f} s "
             f"({report.frames:,} frames, {rate:,.0f} frames/s)"]
    for index, output in enumerate(report.outputs):
        written = f" -> {report.files[index]}" if index < len(report.files) else ""
        lines.append(f"results: table {output}{written}")
    if report.failures:
        lines.append(f"failed ({len(report.failures)}):")
        lines.extend(f"  {path}: {error}" for path, error in report.failures)
    if report.interrupted:
        lines.append("interrupted: the finished videos are committed; run the same command "
                     "again to continue")
    return "\n".join(lines)


def run_main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    progress = ProgressLine()
    try:
        with vql.connect(args.db) as connection:
            run = ArchiveRun(connection, args.query_file, args.videos, table=args.table,
                             out=args.out, workers=args.workers, progress=progress)
            report = run.execute()
    except vql.Error as error:
        progress.end()
        print(f"Error: {error}", file=sys.stderr)
        return ERROR
    progress.end()
    print(summary(report))
    if report.interrupted:
        return INTERRUPTED
    return FAILURES if report.failures else OK
