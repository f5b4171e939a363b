"""``vql watch QUERY_FILE --db DATABASE``: run a file of continuous queries over live tables.

The file's statements run in order. One that reads a live table (a camera) or a WATCH table
(a recorder's folder) is continuous: it runs in a thread of its own, on a connection of its
own to the same database, until Ctrl-C (or ``--seconds``); the others (CREATE VIDEO TABLE,
CREATE TABLE alerts, ...) run first, as in a script. A continuous SELECT writes its rows to
standard output as JSON lines (``{"query": 2, ...}``) as they come; a continuous ``INSERT ...
SELECT`` commits as it goes. Every ``--interval`` seconds a status line per camera goes to
standard error: frames in, processed and dropped, lag and latency p50/p99.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import typing as t
import warnings
from pathlib import Path

import vql
from vql.exec.continuous import RUNNING
from vql.settings import DEFAULT_DATABASE, default_database
from vql.shell.modes import _plain
from vql.shell.repl import Shell
from vql.sql.parse import parse_one, split_statements

# Exit statuses: stopped by Ctrl-C or --seconds, or every query ended; a statement failed.
OK, ERROR = 0, 1


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``vql watch``."""
    parser = argparse.ArgumentParser(prog="vql watch", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("query_file", help="a file of ';'-separated statements")
    parser.add_argument("--db", default=default_database(),
                        help="the database (default: $VQL_DATABASE, else in memory, which "
                             "runs one continuous query at most)")
    parser.add_argument("--interval", type=float, default=5.0,
                        help="seconds between status lines (default 5)")
    parser.add_argument("--seconds", type=float, default=None,
                        help="stop after this many seconds (default: run until Ctrl-C)")
    return parser


def watch_main(argv: list[str]) -> int:
    """``vql watch``: the exit status."""
    args = build_parser().parse_args(argv)
    try:
        text = Path(args.query_file).read_text(encoding="utf-8")
    except OSError as error:
        print(f"Error: cannot read {args.query_file!r}: {error.strerror}", file=sys.stderr)
        return ERROR
    try:
        con = vql.connect(args.db)
    except vql.Error as error:
        print(f"Error: {error}", file=sys.stderr)
        return ERROR
    watch = Watch(con, args.db)
    # printed once per statement as the shell's "Warning:" lines (cursor.messages)
    warnings.simplefilter("ignore", vql.FallbackWarning)
    warnings.simplefilter("ignore", vql.TargetNotOptimizedWarning)
    try:
        if not watch.start(split_statements(text)):
            return ERROR
        return watch.follow(args.interval, args.seconds)
    except KeyboardInterrupt:
        return OK
    finally:
        watch.stop()
        con.close()


class Watch:
    """The continuous statements of one ``vql watch``, each in a thread of its own."""

    def __init__(self, con: vql.Connection, database: str):
        self.con, self.database = con, database
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []
        self.failed: list[str] = []
        self.out_lock = threading.Lock()

    def start(self, statements: list[str]) -> bool:
        """Run the set-up statements and start the continuous ones; False after an error."""
        shell = Shell(self.con)
        for number, sql in enumerate(statements, 1):
            if not self._continuous(sql):
                if not shell.run_sql(sql):
                    return False
                continue
            if self.threads and self.database == DEFAULT_DATABASE:
                print("Error: an in-memory database runs one continuous query: give a database "
                      "file with --db", file=sys.stderr)
                return False
            thread = threading.Thread(target=self._run, args=(number, sql), daemon=True,
                                      name=f"vql-watch {number}")
            self.threads.append(thread)
            thread.start()
        if not self.threads:
            print("Error: no statement of the file reads a live or WATCH table",
                  file=sys.stderr)
            return False
        return True

    def follow(self, interval_s: float, seconds: float | None) -> int:
        """Print status lines until every query ends, ``seconds`` pass or Ctrl-C."""
        started = last = time.monotonic()
        while any(thread.is_alive() for thread in self.threads):
            if seconds is not None and time.monotonic() - started >= seconds:
                break
            time.sleep(0.1)
            if time.monotonic() - last >= interval_s:
                last = time.monotonic()
                self.status()
        self.status()
        return ERROR if self.failed else OK

    def status(self) -> None:
        """A status line per camera of the running queries, to standard error."""
        for run in list(RUNNING.values()):
            for stats in run.streams.values():
                print(stats.describe(), file=sys.stderr, flush=True)

    def stop(self) -> None:
        """Cancel the continuous queries and wait for them."""
        self.stopping.set()
        for thread in self.threads:
            thread.join(30)

    def _continuous(self, sql: str) -> bool:
        """Whether ``sql`` reads a live or WATCH table (as the catalog has them now)."""
        endless = {r[0].lower() for r in self.con.execute(
            "SELECT table_name FROM vql_catalog.live_sources UNION ALL "
            "SELECT table_name FROM vql_catalog.watched_sources").fetchall()}
        try:
            tree = parse_one(sql)
        except vql.Error:
            return False
        from sqlglot import exp

        return any(table.name.lower() in endless for table in tree.find_all(exp.Table))

    def _run(self, number: int, sql: str) -> None:
        con = self.con if self.database == DEFAULT_DATABASE else vql.connect(self.database)
        con.set_progress_handler(lambda _: self.stopping.is_set(), 0.2)
        try:
            cursor = con.execute(sql)
            for _, message in cursor.messages:
                print(f"Warning: {message}", file=sys.stderr, flush=True)
            if cursor.description is not None:
                self._print_rows(number, cursor)
        except vql.QueryCanceledError:
            pass  # stopped by vql watch
        except vql.Error as error:
            self.failed.append(str(error))
            print(f"Error in statement {number}: {error}", file=sys.stderr, flush=True)
        finally:
            con.set_progress_handler(None)
            if con is not self.con:
                con.close()

    def _print_rows(self, number: int, cursor: t.Any) -> None:
        columns = [d[0] for d in cursor.description]
        for row in cursor:
            line = json.dumps({"query": number, **{c: _plain(v) for c, v in zip(columns, row)}})
            with self.out_lock:
                print(line, flush=True)
