"""The vql command: -c, script files, piped input, exit codes, and the interactive shell
driven through a pseudo-terminal."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pexpect
import pytest

import vql
from tests.conftest import interactive

VQL = [sys.executable, "-m", "vql.cli"]


def run(*args: str, stdin: str | None = None, cwd: Path | None = None,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``vql ARGS``, in a new empty folder unless ``cwd`` is given (the default database,
    vql.duckdb, is made in the working folder)."""
    return subprocess.run([*VQL, *args], input=stdin, capture_output=True, text=True,
                          timeout=120, cwd=cwd or tempfile.mkdtemp(prefix="vql-cli-"),
                          env=env)


def test_command_prints_a_table_and_the_timer_is_off_or_on_stderr() -> None:
    """As in DuckDB's shell the timer is off, and when on it goes to stderr, so that piped
    output is only the result (issue 13)."""
    result = run("-c", "SELECT 40 + 2 AS answer;")
    assert result.returncode == 0, result.stderr
    assert "| answer |" in result.stdout and "|     42 |" in result.stdout
    assert "Run Time" not in result.stdout + result.stderr
    timed = run(stdin=".timer on\n.mode csv\nSELECT 40 + 2 AS answer;\n")
    assert timed.stdout.split() == ["answer", "42"]
    assert "Run Time:" in timed.stderr


def test_errors_exit_non_zero_with_a_caret() -> None:
    result = run("-c", "SELECT 1;\nSELECT tss FROM vql_catalog.videos;\nSELECT 3;")
    assert result.returncode == 1
    assert "Referenced column" in result.stderr or "tss" in result.stderr
    parse = run("-c", "SELECT * FROM t SAMPLE 2;")
    assert parse.returncode == 1
    assert parse.stderr.splitlines()[-1].strip() == "^"
    assert "Expected FPS" in parse.stderr


def test_script_file_and_database_file(tmp_path: Path, road_video: Path) -> None:
    script = tmp_path / "q.sql"
    script.write_text(f"LOAD VIDEO '{road_video}' INTO road;\n"
                      "-- a comment; with a semicolon\n"
                      "SELECT count(*) AS frames\n  FROM road;\n")
    database = tmp_path / "v.duckdb"
    result = run("--db", str(database), str(script))
    assert result.returncode == 0, result.stderr
    assert "|    377 |" in result.stdout
    again = run("--db", str(database), "-c", "SELECT count(*) FROM road WHERE ts < 1;")
    assert again.returncode == 0 and "|           13 |" in again.stdout


def test_piped_statements_and_warnings() -> None:
    result = run(stdin=".timer off\nSELECT 1 AS one WITH LATENCY 2s;\n")
    assert result.returncode == 0, result.stderr
    assert "Run Time" not in result.stdout and "|   1 |" in result.stdout
    assert "Warning: target WITH LATENCY 2 s was not optimized for" in result.stderr


def test_missing_script_is_an_error(tmp_path: Path) -> None:
    result = run(str(tmp_path / "nope.sql"))
    assert result.returncode == 1 and "no such script" in result.stderr


def test_interactive_shell_through_a_pty(tmp_path: Path) -> None:
    shell = interactive(tmp_path)
    try:
        shell.expect("Type .help for help")
        shell.expect("vql> ")
        shell.sendline("SELECT 20 +")
        shell.sendline("22 AS answer;")  # a statement over two lines
        shell.expect(r"\|\s+42 \|")
        shell.sendline("SELECT nope;")
        shell.expect("Referenced column")
        shell.sendline(".help")
        shell.expect("Dot commands")
        shell.sendline(".quit")
        shell.expect(pexpect.EOF)
    finally:
        shell.close(force=True)
    history = (tmp_path / "history").read_text()
    assert "SELECT 20 +" in history and "22 AS answer;" in history


@pytest.mark.parametrize("command", [".tables", ".functions"])
def test_dot_commands(command: str) -> None:
    result = run(stdin=f"{command}\n")
    assert result.returncode == 0, result.stderr
    assert "| name" in result.stdout


def test_no_input_at_all_is_an_error_not_a_crash() -> None:
    result = subprocess.run([*VQL], stdin=None, capture_output=True, text=True, timeout=60,
                            preexec_fn=lambda: os.close(0))
    assert result.returncode == 1 and "no statements" in result.stderr


def test_ctrl_c_cancels_the_query_not_the_shell(tmp_path: Path, room_video: Path) -> None:
    shell = interactive(tmp_path)
    try:
        shell.expect("vql> ")
        shell.sendline(f"LOAD VIDEO '{room_video}' INTO room;")
        shell.expect("videos_added")
        shell.expect("vql> ")
        shell.sendline("SELECT count(*) FROM room WHERE has_object(frame, 'person');")  # ~20 s
        shell.expect("has_object")
        time.sleep(3)
        shell.sendintr()
        shell.expect("Interrupted", timeout=30)
        shell.sendline("SELECT count(*) FROM room WHERE frame_id < 5 AND brightness > 0;")
        shell.expect(r"\|\s+5 \|", timeout=30)  # the connection and the decoder still work
        shell.sendline(".quit")
        shell.expect(pexpect.EOF)
    finally:
        shell.close(force=True)


def test_a_fallback_is_said_once(road_video: Path) -> None:
    result = run("-c", f"LOAD VIDEO '{road_video}' INTO road;\n"
                       "SELECT max(vehicle_count) FROM road WHERE frame_id < 20;")
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("vehicle_count counts moving objects") == 1
    assert result.stderr.startswith("Warning: ")


def test_dot_commands_between_piped_statements_apply_in_order() -> None:
    """A dot command after a statement was read as SQL ('.mode' a ParseError): it now runs
    between the statements before and after it, as in sqlite3 and DuckDB."""
    result = run(stdin="SELECT 1 AS a;\n.mode csv\nSELECT 2 AS b;\n")
    assert result.returncode == 0, result.stderr
    assert "| a |" in result.stdout and result.stdout.split()[-2:] == ["b", "2"]


def test_the_first_argument_is_a_database_as_in_duckdb(tmp_path: Path) -> None:
    """'vql my.duckdb' opens (or creates) that database, 'vql my.duckdb SQL' runs SQL in it
    (it was read as a script: 'no such script', or a UnicodeDecodeError for a real
    database); '-readonly' opens it read-only; a .sql file is still a script (issue 13)."""
    database = tmp_path / "my.duckdb"
    assert run(str(database), "CREATE TABLE t AS SELECT 42 AS x").returncode == 0
    piped = run(str(database), stdin="SELECT x + 1 AS y FROM t;\n")
    assert piped.returncode == 0 and "| 43 |" in piped.stdout
    plain = tmp_path / "plain"  # a DuckDB file without a database suffix: read its header
    plain.write_bytes(database.read_bytes())
    assert "| 42 |" in run(str(plain), "SELECT x FROM t").stdout
    refused = run("-readonly", str(database), "DROP TABLE t")
    assert refused.returncode == 1 and "read-only" in refused.stderr
    script = tmp_path / "s.sql"
    script.write_text("SELECT x FROM t;")
    assert "| 42 |" in run("--db", str(database), str(script)).stdout


def test_explain_is_never_cut(tmp_path: Path, road_video: Path) -> None:
    """Plan lines were cut at 90 characters inside a table box (issue 13): in the table mode
    a plan prints as its own lines, whole."""
    sql = (f"LOAD VIDEO '{road_video}' INTO road; EXPLAIN SELECT frame_id, brightness, "
           "has_object(frame, 'car') AS car_in_view FROM road WHERE brightness > 0.3;")
    result = run("-c", sql)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "== Physical plan ==" in lines and not any(line.endswith("…") for line in lines)
    assert any("AS car_in_view" in line and len(line) > 90 for line in lines)


MIXED = "SELECT 1 AS a, 'x|y' AS b UNION ALL SELECT 2, NULL ORDER BY a"


@pytest.mark.parametrize("flag,expected", [
    ("-csv", "a,b\n1,x|y\n2,\n"),
    ("-json", '[{"a": 1, "b": "x|y"},\n{"a": 2, "b": null}]\n'),
    ("-jsonlines", '{"a": 1, "b": "x|y"}\n{"a": 2, "b": null}\n'),
    ("-line", "a = 1\nb = x|y\n\na = 2\nb = NULL\n"),
    ("-markdown", "| a | b |\n|---|---|\n| 1 | x\\|y |\n| 2 | NULL |\n"),
    ("-box", "┌───┬──────┐\n│ a │ b    │\n├───┼──────┤\n│ 1 │ x|y  │\n│ 2 │ NULL │\n"
             "└───┴──────┘\n(2 rows)\n"),
])
def test_output_flags_as_in_duckdb(flag: str, expected: str) -> None:
    """``vql :memory: -csv "SQL"`` and the other flags of the duckdb and sqlite3 shells; the
    flag may come before or after the database."""
    result = run(":memory:", flag, MIXED)
    assert result.returncode == 0, result.stderr
    assert result.stdout == expected
    assert run(flag, ":memory:", MIXED).stdout == expected


def test_a_wide_result_hides_middle_columns_to_fit_the_terminal() -> None:
    columns = ", ".join(f"{i} AS column_number_{i}" for i in range(12))
    result = run(":memory:", f"SELECT {columns}", env=dict(os.environ, COLUMNS="80"))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80  # no line wraps
    assert "column_number_0" in lines[1] and "column_number_11" in lines[1] and "…" in lines[1]
    assert "12 columns" in lines[-1] and "shown" in lines[-1]
    every = run(":memory:", "-line", f"SELECT {columns}")  # all of them, a line each
    assert every.stdout.count("column_number_") == 12


def test_vql_and_vql_run_share_one_default_database(tmp_path: Path) -> None:
    """Both open $VQL_DATABASE, else an in-memory database, as duckdb (the shell used
    :memory:, vql run ./vql.duckdb); nothing is written where nobody asked."""
    assert run("-c", "CREATE TABLE notes AS SELECT 7 AS n;", cwd=tmp_path).returncode == 0
    assert list(tmp_path.iterdir()) == []
    named = tmp_path / "elsewhere.duckdb"
    env = dict(os.environ, VQL_DATABASE=str(named))
    assert run("-c", "CREATE TABLE t AS SELECT 1 AS a;", cwd=tmp_path, env=env).returncode == 0
    assert run("-csv", "-c", "SELECT a FROM t;", env=env).stdout == "a\n1\n"
    from vql.batch.cli import build_parser

    query = tmp_path / "q.sql"
    query.write_text("SELECT 1;")
    assert build_parser().parse_args([str(query), "--videos", "x"]).db == ":memory:"
    # in memory, a run would keep nothing without an --out file: refused before it starts
    refused = run("run", str(query), "--videos", str(tmp_path / "*.mp4"), cwd=tmp_path)
    assert refused.returncode == 1 and "give --out results.parquet" in refused.stderr


def test_dot_open_reopens_on_a_file(tmp_path: Path) -> None:
    database = tmp_path / "kept.duckdb"
    result = run(stdin=f"CREATE TABLE lost AS SELECT 1 AS a;\n.open {database}\n"
                       "CREATE TABLE kept AS SELECT 2 AS b;\n")
    assert result.returncode == 0, result.stderr
    assert f"Connected to {database}" in result.stdout
    tables = run("-csv", str(database), "SELECT name FROM (SHOW TABLES)")
    assert tables.stdout == "name\nkept\n", tables.stderr


HOLD = """
import sys, time, vql
con = vql.connect(sys.argv[1], read_only=sys.argv[2] == "ro")
print("holding", flush=True)
time.sleep(60)
"""


@pytest.mark.parametrize("holder,second", [("rw", "rw"), ("rw", "ro"), ("ro", "rw")])
def test_a_database_another_process_holds_names_it_and_what_to_do(
        tmp_path: Path, holder: str, second: str) -> None:
    database = tmp_path / "held.duckdb"
    assert run(str(database), "CREATE TABLE t AS SELECT 1 AS a").returncode == 0
    process = subprocess.Popen([sys.executable, "-c", HOLD, str(database), holder],
                               stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None and process.stdout.readline() == "holding\n"
        flags = ["-readonly"] if second == "ro" else []
        result = run(*flags, str(database), "SELECT a FROM t")
        assert result.returncode == 1
        message = result.stderr
        assert f"in use by process {process.pid}" in message, message
        assert "Traceback" not in message
        if holder == "ro":
            assert "open it read-only too" in message and "-readonly" in message
        elif second == "ro":
            assert "close that one" in message
        else:
            assert "close that one" in message and "-readonly" in message
    finally:
        process.kill()
        process.wait()
    with pytest.raises(vql.DatabaseInUseError, match="in use by process"):
        process = subprocess.Popen([sys.executable, "-c", HOLD, str(database), "rw"],
                                   stdout=subprocess.PIPE, text=True)
        try:
            assert process.stdout is not None and process.stdout.readline() == "holding\n"
            vql.connect(str(database))
        finally:
            process.kill()
            process.wait()


def test_a_live_query_prints_rows_as_they_come_until_ctrl_c(tmp_path: Path, serve,
                                                            road_video: Path) -> None:
    """Issue 16: the shell prints a live query's rows as the stream plays; Ctrl-C stops it
    and the shell goes on; under a target, the estimate and the adapting plan follow the rows."""
    sender = serve(road_video)
    shell = interactive(tmp_path)
    try:
        shell.expect("vql> ")
        shell.sendline(f"CREATE VIDEO TABLE cam FROM '{sender.url}';")
        shell.expect(r"\| cam\s+\| tcp://")
        shell.expect("vql> ")
        shell.sendline("SELECT frame_id, ts, vehicle_count, congested FROM cam;")
        shell.expect(r"\| frame_id\s+\| ts")
        shell.expect(r"\| 2\s+\| 0\.16 ")
        first = time.monotonic()
        shell.expect(r"\| 30\s+\| 2\.4 ")  # the rows of 2.2 s of video later
        assert time.monotonic() - first > 1.0  # printed as they came, not at the end
        shell.sendintr()
        shell.expect("Interrupted", timeout=30)
        shell.expect("vql> ")
        shell.sendline("SELECT event FROM vql_catalog.stream_events;")
        shell.expect(r"\| connected \|")
        shell.expect("vql> ")
        # under a target, the line under the rows says how the plan adapted
        shell.sendline("SELECT frame_id, len(detect(frame)) AS n FROM cam LIMIT 30 "
                       "WITH LATENCY 500ms;")
        shell.expect(r"\| 29\s+\|")
        shell.expect(r"Estimated accuracy: .*adapting plan: .* now; \d+ switches", timeout=30)
        shell.sendline(".quit")
        shell.expect(pexpect.EOF)
    finally:
        shell.close(force=True)
