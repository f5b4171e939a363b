"""Who holds a database file, for the error a second process gets when DuckDB cannot lock it.

DuckDB lets one process open a database file for writing, or several open it read-only while
none writes; its own message names the holder's program and PID. This turns that into what to
do: the holder's command line (from /proc where there is one) and the two ways out."""

from __future__ import annotations

import re
from pathlib import Path

from vql.errors import DatabaseInUseError

_HOLDER = re.compile(r"Conflicting lock is held in (?P<program>.+?) \(PID (?P<pid>\d+)\)")


def is_lock_conflict(message: str) -> bool:
    """Whether DuckDB's error ``message`` says another process holds the file's lock."""
    return "Could not set lock on file" in message


def command_line(pid: int) -> str | None:
    """The command line of process ``pid`` ('vql my.duckdb'), None where it cannot be read."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    words = [w.decode(errors="replace") for w in raw.split(b"\0") if w]
    if len(words) >= 3 and words[1:3] == ["-m", "vql.cli"]:
        words = ["vql", *words[3:]]
    elif words and Path(words[0]).name.startswith("python") and len(words) > 1 and \
            Path(words[1]).name == "vql":
        words = ["vql", *words[2:]]
    return " ".join(words) if words else None


def lock_error(database: str, message: str, read_only: bool) -> DatabaseInUseError:
    """The error for a database another process holds, from DuckDB's ``message``."""
    found = _HOLDER.search(message)
    if found is None:
        holder = "another process"
    else:
        pid = int(found["pid"])
        shown = command_line(pid) or found["program"]
        holder = f"process {pid} ({shown})"
    # DuckDB says so when the holder only reads: then reading is possible here too
    holder_reads = "read-only mode" in message
    if holder_reads and not read_only:
        advice = ("it has the file open read-only, so open it read-only too (vql -readonly "
                  f"{database}, or vql.connect({database!r}, read_only=True)), or close it "
                  "and try again")
    elif read_only:
        advice = ("it has the file open for writing, and DuckDB lets others read a file only "
                  "while no process writes it: close that one (.quit in its shell, "
                  "connection.close() in Python) and try again")
    else:
        advice = ("one process at a time may write a DuckDB file: close that one (.quit in "
                  "its shell, connection.close() in Python) and try again; if both only need "
                  "to read, open both with -readonly (read_only=True)")
    return DatabaseInUseError(f"cannot open database {database!r}: it is in use by {holder}; "
                              f"{advice}")
