"""The vql command: -c, script files, piped input, exit codes, and the interactive shell
driven through a pseudo-terminal."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pexpect
import pytest

VQL = [sys.executable, "-m", "vql.cli"]


def run(*args: str, stdin: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*VQL, *args], input=stdin, capture_output=True, text=True,
                          timeout=120, cwd=cwd)


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
    env = dict(os.environ, VQL_HISTORY=str(tmp_path / "history"), TERM="dumb")
    shell = pexpect.spawn(sys.executable, ["-m", "vql.cli"], env=env, encoding="utf-8",
                          timeout=60, dimensions=(40, 120))
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
    env = dict(os.environ, VQL_HISTORY=str(tmp_path / "history"), TERM="dumb")
    shell = pexpect.spawn(sys.executable, ["-m", "vql.cli"], env=env, encoding="utf-8",
                          timeout=60, dimensions=(40, 120))
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
