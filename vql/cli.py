"""The ``vql`` command: an interactive shell, ``vql -c "SQL"``, ``vql script.sql``, or
``vql run QUERY_FILE --videos GLOB`` (a batch run over an archive, ``vql.batch``), or
``vql render QUERY --out FILE`` (a picture of a query's result, ``vql.render``)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import vql
from vql.settings import Settings
from vql.shell.repl import Shell


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vql", description="VQL: ask questions of videos in SQL.",
        epilog="With no SQL given and a terminal attached, starts the interactive shell. "
               "'vql run --help' describes batch runs over video archives.")
    parser.add_argument("script", nargs="?", help="a file of ';'-separated statements to run")
    parser.add_argument("-c", "--command", help="run these statements and exit")
    parser.add_argument("--db", default=os.environ.get("VQL_DATABASE", ":memory:"),
                        help="the database file (default: $VQL_DATABASE or :memory:)")
    parser.add_argument("--no-functions", action="store_true",
                        help="do not run the files of the database's CREATE FUNCTION ... FROM "
                             "functions (open a database you did not make this way)")
    parser.add_argument("--version", action="version", version=f"vql {vql.__version__}")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["run"]:
        from vql.batch.cli import run_main

        return run_main(argv[1:])
    if argv[:1] == ["render"]:
        return render_main(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        connection = vql.connect(args.db, autocommit=True,
                                 load_functions=not args.no_functions)
    except vql.Error as error:
        print(f"Error: {error}", file=sys.stderr)
        return 1
    shell = Shell(connection)
    for _, message in connection.messages:
        print(f"Warning: {message}", file=sys.stderr)
    try:
        if args.command is not None:
            ok = shell.run_text(args.command)
        elif args.script is not None:
            path = Path(args.script)
            if not path.is_file():
                print(f"Error: no such script {args.script!r}", file=sys.stderr)
                return 1
            ok = shell.run_text(path.read_text())
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
        connection.close()
    return 0 if ok else 1


def render_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="vql render",
        description="Draw a query's result: each row on its frame (boxes of detections, the "
                    "frame's time and the row's values) as a clip (.mp4, .avi) or a folder of "
                    "PNGs; or, with --timeline, its number and boolean columns over time as a "
                    "PNG plot. The same as RENDER [TIMELINE] 'FILE' AS QUERY.")
    parser.add_argument("query", help="a SELECT with path and frame_id (a clip or images), or "
                        "ts/frame_id and values (a timeline)")
    parser.add_argument("--out", required=True, help="clip.mp4, clip.avi, a folder, or plot.png")
    parser.add_argument("--timeline", action="store_true", help="plot values over time")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace FILE if it exists (never a video a table reads)")
    parser.add_argument("--db", default=os.environ.get("VQL_DATABASE", ":memory:"),
                        help="the database file (default: $VQL_DATABASE or :memory:)")
    args = parser.parse_args(argv)
    target = args.out.replace("'", "''")
    head = "RENDER TIMELINE" if args.timeline else "RENDER"
    query = args.query.strip().rstrip(";")
    overwrite = " OVERWRITE" if args.overwrite else ""
    return main(["--db", args.db, "-c", f"{head} '{target}'{overwrite} AS {query};"])


if __name__ == "__main__":
    sys.exit(main())
