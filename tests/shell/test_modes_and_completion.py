"""The shell's .mode, .output and .explain commands, and tab completion."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pexpect
import pyarrow.parquet as pq

import vql
from tests.conftest import interactive
from vql.shell.complete import Names, candidates, names_of
from vql.shell.repl import Shell

QUERY = "SELECT frame_id, ts, round(brightness, 4) AS level FROM intersection WHERE frame_id < 50;"


def _shell(con: vql.Connection) -> tuple[Shell, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    shell = Shell(con, out, err)
    shell.timer = False
    return shell, out, err


def test_csv_and_json_modes_write_every_row(road: vql.Connection) -> None:
    shell, out, err = _shell(road)
    assert shell.run_text(".mode csv\n" + QUERY), err.getvalue()
    lines = out.getvalue().splitlines()
    assert lines[0] == "frame_id,ts,level" and len(lines) == 51  # no shortening
    assert lines[1].startswith("0,0.0,")
    out.truncate(0), out.seek(0)
    assert shell.run_text(".mode json\n" + QUERY)
    rows = json.loads(out.getvalue())  # one array, as DuckDB's .mode json
    assert len(rows) == 50 and rows[3]["frame_id"] == 3 and 0 < rows[3]["level"] < 1
    out.truncate(0), out.seek(0)
    assert shell.run_text(".mode jsonlines\n" + QUERY)
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(rows) == 50 and rows[3]["frame_id"] == 3


def test_output_to_a_file_and_back(road: vql.Connection, tmp_path: Path) -> None:
    shell, out, err = _shell(road)
    target = tmp_path / "rows.parquet"
    assert not shell.run_text(".mode parquet\n" + QUERY)  # binary: needs a file
    assert "choose a file first with .output FILE" in err.getvalue()
    assert shell.run_text(f".output {target}\n" + QUERY), err.getvalue()
    assert pq.read_table(target).num_rows == 50
    assert "50 rows written to" in out.getvalue()
    assert shell.run_text(".output\n.mode table\nSELECT 42 AS answer;")
    assert "| answer |" in out.getvalue()
    assert not shell.run_text(f".output {tmp_path / 'missing' / 'x.csv'}")
    assert "cannot write" in err.getvalue()


def test_explain_on_prints_the_plan_before_the_result(road: vql.Connection) -> None:
    shell, out, _ = _shell(road)
    assert shell.run_text(".explain on\n" + QUERY + "\nCREATE TABLE t AS SELECT 1 AS x;")
    text = out.getvalue()
    assert text.index("== Physical plan ==") < text.index("| frame_id |")
    assert text.count("== Physical plan ==") == 1  # not for the CREATE TABLE
    assert not shell.run_text(".explain maybe")


NAMES = Names(tables=("intersection", "events"), columns=("frame_id", "ts", "name"),
              functions=("detect", "has_object", "brightness"),
              commands=(".tables", ".timer", ".mode"))


def test_completion_offers_what_fits_where_the_cursor_is() -> None:
    assert candidates("SELECT * FROM inter", NAMES) == ["intersection"]
    assert candidates("SELECT * FROM ", NAMES) == ["intersection", "events"]
    assert candidates("SELECT fr", NAMES)[0] == "frame_id"
    assert "has_object" in candidates("SELECT * FROM t WHERE has", NAMES)
    assert candidates("sel", NAMES) == ["SELECT"]
    assert candidates("LOAD VIDEO 'a.mp4' INTO e", NAMES) == ["events"]
    assert candidates(".t", NAMES) == [".tables", ".timer"]
    assert candidates(".ti", NAMES) == [".timer"]
    assert candidates("SELECT ts SAM", NAMES) == ["SAMPLE"]


def test_completion_names_come_from_the_catalog(road: vql.Connection) -> None:
    road.execute("CREATE TABLE events (t0 DOUBLE, label VARCHAR)")
    names = names_of(road, [".help"])
    assert {"intersection", "events"} <= set(names.tables)
    assert {"frame_id", "label"} <= set(names.columns) and "detect" in names.functions


def test_tab_completes_in_the_interactive_shell(tmp_path: Path, road_video: Path) -> None:
    shell = interactive(tmp_path)
    try:
        shell.expect("vql> ")
        shell.sendline(f"LOAD VIDEO '{road_video}' INTO intersection;")
        shell.expect("videos_added")
        shell.send("SELECT count(*) AS n FROM interse\t")
        shell.send(";\r")
        shell.expect(r"\|\s+377 \|")
        shell.sendline(".quit")
        shell.expect(pexpect.EOF)
    finally:
        shell.close(force=True)
