"""``vql run QUERY_FILE --videos GLOB``: the command line of a batch run."""

from __future__ import annotations

import argparse
import sys
import typing as t
from pathlib import Path

import vql
from vql.batch.runner import EXPORTS, ArchiveRun, RunProgress, RunReport
from vql.exec.progress import time_left
from vql.settings import default_database

# Exit statuses: all videos processed; the run could not start; some files failed; Ctrl-C.
OK, ERROR, FAILURES, INTERRUPTED = 0, 1, 2, 130


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``vql run`` (its help describes a batch run and exit statuses)."""
    parser = argparse.ArgumentParser(
        prog="vql run",
        description="Run the queries of QUERY_FILE over every video GLOB names, each video on "
                    "its own (an aggregate is per video), committing each video's results as "
                    "it finishes. Run the same command again to continue an interrupted run: "
                    "finished, unchanged videos are skipped.",
        epilog="Exit status: 0 every video processed (now or by an earlier start); 2 some "
               "files failed (each listed with its whole reason; the others' results are "
               "written); 1 the run could not start, or stopped on an error that is not about "
               "a file; 130 interrupted (Ctrl-C).")
    parser.add_argument("query_file", help="a file of ';'-separated statements: queries "
                        "(SELECT ...) and set-up statements such as CREATE FUNCTION")
    parser.add_argument("--videos", required=True,
                        help="a video file or a glob, quoted (e.g. 'archive/**/*.mp4')")
    parser.add_argument("--db", default=default_database(),
                        help="the database that keeps the videos, results and run records, "
                             "so that an interrupted run can resume (default, as for vql: "
                             "$VQL_DATABASE, else in memory, which needs --out FILE and "
                             "cannot resume)")
    parser.add_argument("--table", default="videos",
                        help="the video table the queries read (default: videos)")
    parser.add_argument("--out", help="results.parquet or results.csv: the file written when the "
                        "run finishes, ordered by video_path and result_row; with several "
                        "queries, one file holding them all, its first column 'query' the "
                        "query's number in QUERY_FILE (1, 2, ...) and then every query's "
                        "columns (NULL where a query has no such column). Or a table name. The "
                        "results are also kept in tables named after --out (default: the query "
                        "file's name), NAME_1, NAME_2, ... with several queries")
    parser.add_argument("--workers", type=int, default=1,
                        help="worker processes (default 1: in this process); with --ray, "
                        "videos in flight at once, and the CPUs of a local Ray instance")
    parser.add_argument("--explain", action="store_true",
                        help="print where the videos would run and each query's plan as a "
                        "worker would make it for the first video, and run nothing")
    parser.add_argument("--ray", nargs="?", const="", default=None, metavar="ADDRESS",
                        help="run the videos on a Ray actor pool (--workers actors, each keeping its models "
                        "loaded from one video to the next): alone, on a local Ray instance "
                        "started for the run; 'auto' or an address, on a running cluster "
                        "(the 'ray' extra)")
    return parser


class ProgressLine:
    """One line rewritten in place at a terminal; a line per video otherwise (logs)."""

    def __init__(self, stream: t.TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()

    def __call__(self, state: RunProgress) -> None:
        head = progress_head(state)
        if self.tty:
            print(f"\r\033[K{head}", end="", file=self.stream, flush=True)
        else:
            what = "done" if state.last_error is None else f"failed: {state.last_error}"
            print(f"{head}  {state.last}: {what}", file=self.stream, flush=True)

    def end(self) -> None:
        """End the rewritten line at a terminal with a newline (a log needs nothing)."""
        if self.tty:
            print(file=self.stream)


def progress_head(state: RunProgress) -> str:
    """``[3/40 videos] 412 frames/s, 1 failed, about 2 min 10 s left``."""
    failed = f", {state.failed} failed" if state.failed else ""
    left = state.seconds_left
    eta = f", {time_left(left)}" if left is not None and state.done < state.total else ""
    return f"[{state.done}/{state.total} videos] {state.frames_per_second:,.0f} frames/s{failed}{eta}"


def summary(report: RunReport) -> str:
    """What a run did: counts (a failed file is a failure, not processed), where the results
    are, and each failure with its whole reason."""
    rate = report.frames / report.seconds if report.seconds else 0.0
    lines = [f"run {report.run}: {report.videos} videos matched; {report.processed} processed, "
             f"{len(report.failures)} failed, {report.skipped} finished earlier "
             f"({report.seconds:.1f} s, {report.frames:,} frames decoded, {rate:,.0f} frames/s)"]
    lines.append(f"results: {_where(report)}")
    if report.lossy:
        estimate = report.accuracy
        lowest = f"lowest estimated accuracy {estimate:.3f}" if estimate is not None else \
            "the accuracy of some is not known"
        lines.append(f"{report.lossy} of {len(report.estimates)} videos answered by lossy "
                     f"plans ({lowest}; per video: vql_catalog.run_videos.accuracy)")
    if report.placement:
        used = len(report.nodes)
        lines.append(f"ran on {report.placement}; videos run on {used} node"
                     f"{'s' if used != 1 else ''}; models loaded {report.model_loads} time"
                     f"{'s' if report.model_loads != 1 else ''}")
    if report.failures:
        lines.append(f"failed ({len(report.failures)}):")
        lines.extend(f"  {path}: {error}" for path, error in report.failures)
    if report.interrupted:
        lines.append("interrupted: the finished videos are committed; run the same command "
                     "again to continue")
    return "\n".join(lines)


def _where(report: RunReport) -> str:
    tables = ", ".join(report.outputs)
    if len(report.outputs) == 1:
        return f"{report.files[0]} (and table {tables})" if report.files else f"table {tables}"
    if not report.files:
        return f"tables {tables} (queries 1-{len(report.outputs)})"
    return (f"{report.files[0]} ({len(report.outputs)} queries, told apart by its column "
            f"'query'; and tables {tables})")


def run_main(argv: list[str]) -> int:
    """``vql run``: run a query file over every video of an archive; the exit status (0, 1, 2
    or 130, as the parser's epilog says)."""
    args = build_parser().parse_args(argv)
    if args.db == ":memory:" and Path(args.out or "").suffix.lower() not in EXPORTS:
        print("Error: with no --db (or $VQL_DATABASE) the run's database is in memory, and "
              "its results would be lost when it ends: give --out results.parquet (or .csv), "
              "or --db FILE to keep them and resume an interrupted run", file=sys.stderr)
        return ERROR
    progress = ProgressLine()
    try:
        with vql.connect(args.db) as connection:
            run = ArchiveRun(connection, args.query_file, args.videos, table=args.table,
                             out=args.out, workers=args.workers, progress=progress,
                             ray=args.ray)
            if args.explain:
                print(run.explain())
                return OK
            report = run.execute()
    except vql.Error as error:
        progress.end()
        print(f"Error: {error}", file=sys.stderr)
        return ERROR
    progress.end()
    print(summary(report))
    if args.db == ":memory:" and report.interrupted:
        print("The run's database was in memory: run it again with --db FILE to be able to "
              "resume it", file=sys.stderr)
    if report.interrupted:
        return INTERRUPTED
    return FAILURES if report.failures else OK
