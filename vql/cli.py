"""The ``vql`` command: an interactive shell (``vql [my.duckdb]``), ``vql my.duckdb "SQL"`` or
``vql -c "SQL"``, ``vql script.sql``, or
``vql run QUERY_FILE --videos GLOB`` (a batch run over an archive, ``vql.batch``), or
``vql render QUERY --out FILE`` (a picture of a query's result, ``vql.render``), or
``vql watch QUERY_FILE --db DATABASE`` (continuous queries over live tables, ``vql.shell.watch``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import vql
from vql.settings import Settings, default_database
from vql.shell.repl import Shell

# -csv, -json, ...: the output modes as flags, as in the duckdb and sqlite3 shells
MODE_FLAGS = ("table", "box", "csv", "json", "jsonlines", "line", "markdown")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``vql``: a database or script, SQL, ``--db`` and output modes."""
    parser = argparse.ArgumentParser(
        prog="vql", description="VQL: ask questions of videos in SQL.",
        epilog="With no SQL given and a terminal attached, starts the interactive shell. "
               "'vql run --help' describes batch runs over video archives, 'vql watch "
               "--help' continuous queries over cameras.")
    parser.add_argument("target", nargs="?", metavar="DATABASE|SCRIPT",
                        help="a database file to open (as 'duckdb my.duckdb'; created if it does "
                             "not exist), or a file of ';'-separated statements (.sql) to run")
    parser.add_argument("sql", nargs="?", metavar="SQL",
                        help="after a database: run these statements and exit")
    parser.add_argument("-c", "--command", help="run these statements and exit")
    parser.add_argument("--db", default=None,
                        help="the database file (default: $VQL_DATABASE, else an in-memory "
                             "database, as in duckdb; .open FILE in the shell reopens on a file)")
    parser.add_argument("-readonly", "--readonly", action="store_true",
                        help="open the database read-only (other processes may read it too)")
    modes = parser.add_mutually_exclusive_group()
    for mode in MODE_FLAGS:
        modes.add_argument(f"-{mode}", f"--{mode}", dest="mode", action="store_const",
                           const=mode, help=f"write results as .mode {mode} does")
    parser.add_argument("--no-functions", action="store_true",
                        help="do not run the files of the database's CREATE FUNCTION ... FROM "
                             "functions (open a database you did not make this way)")
    parser.add_argument("--version", action="version", version=f"vql {vql.__version__}")
    return parser


def main(argv: list[str] | None = None) -> int:
    """The ``vql`` command: ``-c`` SQL, a script, standard input or the interactive shell (or
    ``vql run``, ``vql render``); the exit status."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["run"]:
        from vql.batch.cli import run_main

        return run_main(argv[1:])
    if argv[:1] == ["render"]:
        return render_main(argv[1:])
    if argv[:1] == ["watch"]:
        from vql.shell.watch import watch_main

        return watch_main(argv[1:])
    parser = build_parser()
    args = parser.parse_intermixed_args(argv)
    database, script = args.db, None
    if args.target is not None:
        if is_database(args.target):
            if database is not None:
                parser.error(f"two databases: --db {database} and {args.target}")
            database = args.target
        else:
            script = args.target
            if args.sql is not None:
                parser.error(f"{args.target!r} is a script, not a database: give SQL after a "
                             "database file")
    database = database or default_database()
    command = args.command if args.command is not None else args.sql
    try:
        connection = vql.connect(database, autocommit=True, read_only=args.readonly,
                                 load_functions=not args.no_functions)
    except vql.Error as error:
        print(f"Error: {error}", file=sys.stderr)
        return 1
    shell = Shell(connection)
    if args.mode is not None:
        shell.mode = args.mode
    for _, message in connection.messages:
        print(f"Warning: {message}", file=sys.stderr)
    try:
        if command is not None:
            ok = shell.run_text(command)
        elif script is not None:
            path = Path(script)
            if not path.is_file():
                print(f"Error: no such script {script!r}", file=sys.stderr)
                return 1
            try:
                text = path.read_text()
            except UnicodeDecodeError:
                print(f"Error: {script!r} is neither a DuckDB database nor a text file of "
                      "statements", file=sys.stderr)
                return 1
            ok = shell.run_text(text)
        elif sys.stdin is None:
            print("Error: no statements: give -c SQL, a script, or standard input",
                  file=sys.stderr)
            ok = False
        elif not sys.stdin.isatty():
            ok = shell.run_text(sys.stdin.read())
        else:
            shell.interactive(str(Settings.from_env().history_file))
            ok = True
    except KeyboardInterrupt:
        print("Interrupted", file=sys.stderr)
        ok = False
    finally:
        shell.con.close()  # the one it opened last (.open)
    return 0 if ok else 1


DATABASE_SUFFIXES = (".duckdb", ".db", ".ddb", ".vql")


def is_database(target: str) -> bool:
    """Whether the command line's first argument names a database (opened, or created when it
    does not exist) rather than a script: a DuckDB file (its header says so), a database
    suffix, or a missing file that is not a .sql script."""
    path = Path(target)
    if path.is_file():
        with open(path, "rb") as handle:
            return handle.read(12)[8:12] == b"DUCK"
    return target == ":memory:" or path.suffix.lower() in DATABASE_SUFFIXES or (
        not path.exists() and path.suffix.lower() != ".sql")


def render_main(argv: list[str]) -> int:
    """``vql render``: draw a query's result as RENDER [TIMELINE] does; the exit status."""
    parser = argparse.ArgumentParser(
        prog="vql render",
        description="Draw a query's result: each row on its frame (boxes of detections, the "
                    "frame's time and the row's values) as a clip (.mp4 in H.264, .gif, .avi) "
                    "or a folder of "
                    "PNGs; or, with --timeline, its number and boolean columns over time as a "
                    "PNG plot. The same as RENDER [TIMELINE] 'FILE' AS QUERY.")
    parser.add_argument("query", help="a SELECT with path and frame_id (a clip or images), or "
                        "ts/frame_id and values (a timeline)")
    parser.add_argument("--out", required=True,
                        help="clip.mp4, clip.gif, clip.avi, a folder, or plot.png")
    parser.add_argument("--timeline", action="store_true", help="plot values over time")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace FILE if it exists (never a video a table reads)")
    parser.add_argument("--db", default=default_database(),
                        help="the database file (default: $VQL_DATABASE, else in memory)")
    args = parser.parse_args(argv)
    target = args.out.replace("'", "''")
    head = "RENDER TIMELINE" if args.timeline else "RENDER"
    query = args.query.strip().rstrip(";")
    overwrite = " OVERWRITE" if args.overwrite else ""
    return main(["--db", args.db, "-c", f"{head} '{target}'{overwrite} AS {query};"])


if __name__ == "__main__":
    sys.exit(main())
