"""The shell: statements end with ';', results print as tables with the time they took."""

from __future__ import annotations

import shutil
import sys
import time
import typing as t
import warnings
from collections.abc import Callable
from pathlib import Path

import vql
from vql.shell import format as fmt
from vql.shell.complete import SqlCompleter
from vql.shell.modes import MODES, TABLE_MODES, write_live
from vql.sql.parse import is_complete, parse_one, split_statements

HELP = """\
Statements end with ';' and may span lines. Examples:
  LOAD VIDEO 'videos/*.mp4' INTO clips;
  SELECT frame_id, ts FROM clips WHERE has_object(frame, 'person') SAMPLE 1 FPS;
  EXPLAIN SELECT congested FROM clips;
Dot commands:
  .help              this text
  .tables            video tables and plain tables (SHOW TABLES)
  .functions         the functions you can call (SHOW FUNCTIONS)
  .timer on|off      print each statement's run time, on stderr (off)
  .progress on|off   show frames done, rate and time left while a query runs (on at a terminal)
  .explain on|off    print each query's plan before its result (off)
  .mode MODE         table or box (long results shortened, wide ones fit the screen), or
                     every row as csv, json, jsonlines, line, markdown or parquet (needs .output)
  .output [FILE]     write results to FILE (replaced), or to the screen again without FILE
  .open [FILE]       close this database and open FILE (created if missing), or a new
                     in-memory one
Tab completes keywords, tables, columns and functions; the history is kept across sessions.
  .quit / .exit      leave the shell (Ctrl-D works too)
"""


def _is_query(sql: str) -> bool:
    """Whether ``sql`` is a query (its plan can be explained)."""
    from sqlglot import exp

    from vql.sql.dialect import VideoQuery

    try:
        return isinstance(parse_one(sql), exp.Query | VideoQuery)
    except vql.Error:
        return False  # running it reports the error


class _Flushing:
    """A text stream flushed after each write (a live query's rows show as they come)."""

    def __init__(self, out: t.TextIO):
        self.out = out

    def write(self, text: str) -> int:
        """Write ``text`` and flush."""
        written = self.out.write(text)
        self.out.flush()
        return written

    def flush(self) -> None:
        """Flush the stream."""
        self.out.flush()

    def __getattr__(self, name: str) -> t.Any:
        return getattr(self.out, name)


def _is_plan(cursor: vql.Cursor) -> bool:
    names = [d[0] for d in cursor.description or ()]
    return names == ["explain"] or names[:1] == ["plan"]


class Shell:
    """The ``vql`` shell: dot commands and SQL over a connection, results written by ``.mode``."""

    def __init__(self, connection: vql.Connection, out: t.TextIO | None = None,
                 err: t.TextIO | None = None):
        self.con = connection
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.timer = False  # as in DuckDB's shell; on stderr, so piped output stays clean
        self.explain = False
        self.mode = "table"
        self.output: t.TextIO | None = None  # results go here instead of ``out`` (.output)
        self.output_path: Path | None = None
        self.running = True
        self.completer: SqlCompleter | None = None  # the interactive shell's
        self._progress_shown = False
        self.commands: dict[str, Callable[[list[str]], bool]] = {
            ".help": self._help, ".tables": lambda args: self.run_sql("SHOW TABLES"),
            ".functions": lambda args: self.run_sql("SHOW FUNCTIONS"),
            ".timer": self._timer, ".progress": self._progress, ".explain": self._explain,
            ".mode": self._mode, ".output": self._output, ".open": self._open,
            ".quit": self._quit,
            ".exit": self._quit,
        }
        is_tty = getattr(self.err, "isatty", None)
        self.set_progress(bool(is_tty and is_tty()))

    def width(self) -> int:
        """The terminal's width (``$COLUMNS`` first, as the shells read it; 120 when unknown)."""
        return shutil.get_terminal_size((120, 24)).columns

    def print(self, text: str = "") -> None:
        """Print ``text`` to ``out``, clearing the progress line first."""
        self._clear_progress()
        print(text, file=self.out, flush=True)

    def set_progress(self, on: bool) -> None:
        """Turn the progress line on stderr on or off (on when stderr is a terminal)."""
        self.con.set_progress_handler(self._show_progress if on else None, 0.25)

    def _show_progress(self, progress: t.Any) -> None:
        self.err.write("\r\x1b[K" + fmt.progress_line(progress))
        self.err.flush()
        self._progress_shown = True

    def _clear_progress(self) -> None:
        if self._progress_shown:
            self.err.write("\r\x1b[K")
            self.err.flush()
            self._progress_shown = False

    # --- running text ------------------------------------------------------------------------

    def run_text(self, text: str) -> bool:
        """Run dot commands (one per line, between statements) and ';'-separated statements,
        in order; stop at an error."""
        sql_lines: list[str] = []
        for line in text.splitlines():
            pending = "\n".join(sql_lines)
            if line.strip().startswith(".") and (not pending.strip() or is_complete(pending)):
                if not self._run_statements(pending) or not self.run_command(line.strip()):
                    return False
                sql_lines = []
                continue
            sql_lines.append(line)
        return self._run_statements("\n".join(sql_lines))

    def _run_statements(self, text: str) -> bool:
        try:
            statements = split_statements(text)
        except vql.Error as error:
            print(fmt.error(error), file=self.err, flush=True)
            return False
        return all(self.run_sql(statement) for statement in statements)

    def run_command(self, line: str) -> bool:
        """Run one dot command line (``.mode csv``); False when it is unknown or fails."""
        name, *args = line.split()
        command = self.commands.get(name.lower())
        if command is None:
            known = ", ".join(sorted(self.commands))
            print(f"Error: unknown command {name} (known: {known})", file=self.err, flush=True)
            return False
        return command(args)

    def run_sql(self, sql: str) -> bool:
        """Run ``sql`` and print its result and warnings; False after an error (printed)."""
        if self.explain and _is_query(sql) and not self.run_sql("EXPLAIN " + sql):
            return False
        started = time.perf_counter()
        with self.con.cursor() as cursor:
            try:
                with warnings.catch_warnings():
                    # printed below, once, as the shell's own "Warning:" lines
                    warnings.simplefilter("ignore", vql.TargetNotOptimizedWarning)
                    warnings.simplefilter("ignore", vql.FallbackWarning)
                    cursor.execute(sql)
                for _, message in cursor.messages:
                    print(f"Warning: {message}", file=self.err, flush=True)
                with warnings.catch_warnings(record=True) as later:
                    # raised once the rows are read (frames of a damaged file skipped)
                    warnings.simplefilter("always", vql.DamagedVideoWarning)
                    self._print_result(cursor)
                for warning in later:
                    print(f"Warning: {warning.message}", file=self.err, flush=True)
            except vql.Error as error:
                self._clear_progress()
                print(fmt.error(error), file=self.err, flush=True)
                return False
            except OSError as error:  # the .output file could not be written
                print(f"Error: {error}", file=self.err, flush=True)
                return False
        if self.timer:
            print(f"Run Time: {time.perf_counter() - started:.3f} s", file=self.err, flush=True)
        return True

    def _print_result(self, cursor: vql.Cursor) -> None:
        if cursor.description is not None:
            self._print_rows(cursor)
        elif cursor.rowcount >= 0:
            self.print(f"OK, {cursor.rowcount} row{'s' if cursor.rowcount != 1 else ''}")
        else:
            self.print("OK")

    def _print_rows(self, cursor: vql.Cursor) -> None:
        self._clear_progress()
        target = self.output or self.out
        if _is_plan(cursor) and self.mode in TABLE_MODES:
            # A plan is text to read: its lines as they are, never cut to a table's width
            for row in cursor:
                print("\n".join(str(value) for value in row), file=target)
            target.flush()
            return
        mode = self.mode
        if mode == "parquet" and self.output_path is None:
            raise vql.ProgrammingError("parquet is binary: choose a file first with .output FILE")
        width = self.width() if self.output is None else None
        if cursor.streams is not None:  # a live query: every row as it comes, until Ctrl-C
            target = t.cast(t.TextIO, _Flushing(target))
            if mode in TABLE_MODES:
                write_live(cursor, target, self.output_path, width)
                self._print_footer(cursor)  # it ended by its LIMIT
                return
        count = MODES[mode](cursor, target, self.output_path, width)
        target.flush()
        if self.output is not None:
            self.print(f"{count} row{'s' if count != 1 else ''} written to {self.output_path}")
        self._print_footer(cursor)

    def _print_footer(self, cursor: vql.Cursor) -> None:
        footer = fmt.accuracy_footer(cursor)
        if footer:
            self.print(footer)

    # --- dot commands ------------------------------------------------------------------------

    def _help(self, args: list[str]) -> bool:
        self.print(HELP.rstrip())
        return True

    def _timer(self, args: list[str]) -> bool:
        value = self._on_off(".timer", args)
        if value is not None:
            self.timer = value
        return value is not None

    def _progress(self, args: list[str]) -> bool:
        value = self._on_off(".progress", args)
        if value is not None:
            self.set_progress(value)
        return value is not None

    def _on_off(self, name: str, args: list[str]) -> bool | None:
        if args and args[0].lower() in {"on", "off"}:
            return args[0].lower() == "on"
        print(f"Error: usage: {name} on|off", file=self.err, flush=True)
        return None

    def _explain(self, args: list[str]) -> bool:
        value = self._on_off(".explain", args)
        if value is not None:
            self.explain = value
        return value is not None

    def _mode(self, args: list[str]) -> bool:
        if len(args) == 1 and args[0].lower() in MODES:
            self.mode = args[0].lower()
            return True
        print(f"Error: usage: .mode {'|'.join(MODES)} (now {self.mode})", file=self.err,
              flush=True)
        return False

    def _output(self, args: list[str]) -> bool:
        if self.output is not None:
            self.output.close()
        self.output, self.output_path = None, None
        if not args:
            return True
        path = Path(args[0]).expanduser()
        try:
            self.output = path.open("w", encoding="utf-8")
        except OSError as error:
            print(f"Error: cannot write {str(path)!r}: {error.strerror}", file=self.err,
                  flush=True)
            return False
        self.output_path = path
        return True

    def _connected(self) -> str:
        database = self.con.engine.database
        if database == ":memory:":
            return ("Connected to a transient in-memory database.\n"
                    "Use \".open FILENAME\" to reopen on a persistent database.")
        return f"Connected to {Path(database).resolve()}."

    def _open(self, args: list[str]) -> bool:
        """``.open [FILE]``: close this database and open FILE (created if missing), or a new
        in-memory one, as DuckDB's shell does. Options of the command line (-readonly) stay."""
        if len(args) > 1:
            print("Error: usage: .open [FILE]", file=self.err, flush=True)
            return False
        target = str(Path(args[0]).expanduser()) if args else ":memory:"
        engine = self.con.engine
        try:
            connection = vql.connect(target, read_only=engine.read_only,
                                     load_functions=engine.load_functions)
        except vql.Error as error:
            print(fmt.error(error), file=self.err, flush=True)
            return False
        for _, message in connection.messages:
            print(f"Warning: {message}", file=self.err, flush=True)
        progress = self.con.engine.progress_handler is not None
        self.con.close()
        self.con = connection
        if self.completer is not None:
            self.completer.connection = connection
        self.set_progress(progress)
        self.print(self._connected())
        return True

    def _quit(self, args: list[str]) -> bool:
        self.running = False
        return True

    # --- interactive -------------------------------------------------------------------------

    def interactive(self, history_file: str) -> None:
        """Prompt for statements, with history and completion, until ``.quit`` or end of input."""
        from prompt_toolkit import PromptSession
        from prompt_toolkit.history import FileHistory
        from prompt_toolkit.key_binding import KeyBindings

        bindings = KeyBindings()

        @bindings.add("enter")
        def _enter(event: t.Any) -> None:
            buffer = event.current_buffer
            text = buffer.text.strip()
            if not text or text.startswith(".") or is_complete(buffer.text):
                buffer.validate_and_handle()
            else:
                buffer.insert_text("\n")

        completer = self.completer = SqlCompleter(self.con, self.commands)
        session: PromptSession[str] = PromptSession(
            history=FileHistory(history_file), key_bindings=bindings, multiline=True,
            completer=completer, complete_while_typing=False,
            prompt_continuation=lambda width, line, wrap: "...> ".rjust(width))
        self.print(f"VQL {vql.__version__}. Statements end with ';'. Type .help for help.")
        self.print(self._connected())
        while self.running:
            try:
                text = session.prompt("vql> ")
            except KeyboardInterrupt:
                continue  # Ctrl-C clears the line
            except EOFError:
                break
            try:
                self.run_text(text)
            except KeyboardInterrupt:
                self._clear_progress()
                print("Interrupted", file=self.err, flush=True)
