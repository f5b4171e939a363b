"""VQL's grammar as hypothesis strategies, and the checks every generated statement must pass.

Used by ``tests/api/test_generated_statements.py`` (a short, reproducible CI run) and
``bench/fuzz.py`` (a longer campaign). The strategies make scripts of one or more statements:
valid ones from the grammar (SELECT with WHERE/GROUP BY/ORDER BY/LIMIT/SAMPLE/targets, the
built-in video functions, LOAD VIDEO, DROP, SHOW, DESCRIBE, EXPLAIN, CREATE/DROP FUNCTION,
CREATE TABLE AS, transactions, RENDER, several statements in one text), the same mutated or
cut short, with odd numbers and strings in every clause and ``?`` markers bound to parameters
of every Python type. Each script runs on a connection holding small synthetic clips
(:func:`make_world`); :func:`run_step` says what happened and checks that only ``vql.Error``
escaped, that the connection still answers ``SELECT 1`` (after a rollback at most) and that the
catalog holds no name twice.

Nothing generated writes outside the world's folder: :func:`unsafe` refuses (before it runs)
a statement whose RENDER target, function file or video source lies elsewhere, and statements
run with the scratch folder as the working directory, so relative paths land there too.
"""

from __future__ import annotations

import datetime as dt
import decimal
import glob
import math
import os
import re
import shutil
import time
import traceback
import typing as t
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import strategies as st

import vql

# --- the world statements refer to -----------------------------------------------------------


@dataclass(frozen=True)
class World:
    """Files the statements name. ``tables``: video table -> clip, loaded into every new
    connection; ``scratch``: emptied before each session, the working directory while
    statements run and the only place RENDER may write."""

    root: str
    tables: dict[str, str]
    scratch: str
    udf: str      # a valid function file (declares redness)
    broken: str   # function files that fail to load
    syntax: str
    bad_videos: tuple[str, ...]  # an empty file, a text file named .mp4, a clip cut short

    def reset_scratch(self) -> None:
        shutil.rmtree(self.scratch, ignore_errors=True)
        os.makedirs(self.scratch)


UDF_FILE = '''\
import numpy as np
import pyarrow as pa
import vql


@vql.udf(inputs=["frame", "channel:int=0"], returns=pa.float64(), cost_ms=0.3)
def redness(frames, channel):
    return frames[..., channel].reshape(len(frames), -1).mean(axis=1) / 255.0
'''


def make_world(root: Path) -> World:
    """Two small clips (8 frames of 128x72, 3 frames of 96x64), function files and bad videos
    in ``root``; a fraction of a second to make."""
    from vql.video.synthetic import pan_zoom_clip

    root.mkdir(parents=True, exist_ok=True)
    clip = pan_zoom_clip(root / "clip.mp4", seconds=1.0, fps=8, size=(128, 72))
    tiny = pan_zoom_clip(root / "tiny.mp4", seconds=0.75, fps=4, size=(96, 64))
    (root / "redness.py").write_text(UDF_FILE)
    (root / "broken.py").write_text("raise SystemExit(3)\n")
    (root / "syntax.py").write_text("def (:\n")
    (root / "empty.mp4").write_bytes(b"")
    (root / "text.mp4").write_text("not a video\n")
    (root / "cut.mp4").write_bytes(clip.read_bytes()[: clip.stat().st_size // 2])
    world = World(str(root), {"clip": str(clip), "tiny": str(tiny)}, str(root / "scratch"),
                  str(root / "redness.py"), str(root / "broken.py"), str(root / "syntax.py"),
                  tuple(str(root / n) for n in ("empty.mp4", "text.mp4", "cut.mp4")))
    world.reset_scratch()
    return world


def connect(world: World, autocommit: bool) -> vql.Connection:
    """A new in-memory connection with the world's clips loaded (and committed)."""
    con = vql.connect(":memory:", autocommit=autocommit)
    for name, path in world.tables.items():
        con.execute(f"LOAD VIDEO ? INTO {name}", [path])
    con.commit()
    return con


# --- literals ----------------------------------------------------------------------------------

T = t.TypeVar("T")


def weighted(*choices: tuple[int, st.SearchStrategy[T]]) -> st.SearchStrategy[T]:
    """One of the strategies, drawn in proportion to its weight (``st.one_of`` drops repeated
    strategies, so repeating one there does not weigh it)."""
    pool = [strategy for weight, strategy in choices for _ in range(weight)]
    return st.sampled_from(pool).flatmap(lambda strategy: strategy)


def sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def quoted_name(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


ODD_NUMBERS = ("0", "-0", "1", "-1", "0.5", ".5", "5.", "1e3", "2147483648", "-2147483649",
               "9223372036854775807", "9223372036854775808", "-9223372036854775809",
               "18446744073709551616", "170141183460469231731687303715884105728",
               "1" + "0" * 60, "1e308", "1e309", "-1e309", "1e-400", "0.0000001", "1_000")
FLOAT_SPECIALS = ("'nan'::DOUBLE", "'NaN'::FLOAT", "CAST('inf' AS DOUBLE)", "-'infinity'::DOUBLE",
                  "'-inf'::DOUBLE", "NaN", "Infinity", "NULL")
ODD_TEXTS = ("", "'", "''", '"', "\x00", "a\x00b", "é", "漢字", "😀", "\\", "\n", "%", "*", "?",
             "--", "/*", ";", "$1", " ", "person", "car", "persn", "\u202e", "\ud800")
LABELS = ("person", "car", "bus", "dog", "persn", "Person", "")
MODELS = ("fastestdet", "FastestDet", "nonexistent.onnx", "", "../fastestdet")
YOLO_MODELS = ("yolov8n.pt",)  # a download attempt each time (about a second offline): heavy


def numbers() -> st.SearchStrategy[str]:
    """Number literals, ordinary and odd."""
    ordinary = st.one_of(st.integers(-10, 100).map(str), st.sampled_from(("0.5", "0.25", "1.5")))
    return weighted((6, ordinary), (2, st.sampled_from(ODD_NUMBERS)),
                    (1, st.integers().map(str)),
                    (1, st.floats(allow_nan=False, allow_infinity=False).map(repr)))


def positive() -> st.SearchStrategy[str]:
    """What SAMPLE, LIMIT and the targets usually take: small positive numbers, or odd ones."""
    usual = st.sampled_from(("1", "2", "4", "0.5", "10", "0.9", "0.99", "100", "0.001"))
    return weighted((4, usual), (1, numbers()))


def texts() -> st.SearchStrategy[str]:
    ordinary = st.sampled_from(("person", "x", "clip", "a b"))
    return weighted((2, ordinary), (1, st.sampled_from(ODD_TEXTS)), (1, st.text(max_size=8)))


def strings() -> st.SearchStrategy[str]:
    """String literals holding odd text (NUL, quotes, unicode, a lone surrogate)."""
    return texts().map(sql_string)


def literals(markers: bool) -> st.SearchStrategy[str]:
    """Any literal; with ``markers`` a ``?`` parameter marker half the time."""
    plain = st.one_of(numbers(), strings(), st.sampled_from(
        FLOAT_SPECIALS + ("TRUE", "FALSE", "[1, 2]", "{'a': 1}", "DATE '2024-01-01'", "X'00ff'")))
    return weighted((1, st.just("?")), (1, plain)) if markers else plain


# --- names -----------------------------------------------------------------------------------

COLUMNS = ("video_id", "path", "frame_id", "ts", "fps", "width", "height", "duration",
           "computed", "frame")
TABLE_NAMES = ("clip", "tiny", "CLIP", "t1", "t2", "v1", '"clip"', '"Odd name"', "main.t1")
FUNCTION_NAMES = ("f0", "f1", "F0", "busy", "redness", "brightness", "sum", "select_", "_x")
DERIVED = ("brightness", "motion", "moving_objects", "vehicle_count", "congested")


def table_names(world: World) -> st.SearchStrategy[str]:
    loaded = st.sampled_from(tuple(world.tables))
    return weighted((6, loaded), (1, st.sampled_from(TABLE_NAMES)), (1, texts().map(quoted_name)))


def function_names() -> st.SearchStrategy[str]:
    usual = st.sampled_from(FUNCTION_NAMES)
    return weighted((3, usual), (1, texts().map(quoted_name)))


# --- expressions -----------------------------------------------------------------------------

class Grammar:
    """Strategies for VQL statements over a world.

    ``markers``: literals are often ``?`` (bound to generated parameters); ``heavy``: ANALYZE
    and YOLO model names may appear (seconds per statement; the CI test leaves them out).
    """

    def __init__(self, world: World, *, markers: bool = False, heavy: bool = False):
        self.world = world
        self.markers = markers
        self.heavy = heavy

    # frame functions: built-in, user-defined, bare derived columns and misuses
    def frame_calls(self) -> st.SearchStrategy[str]:
        lit = literals(self.markers)
        label = st.one_of(st.sampled_from(LABELS).map(sql_string), lit)
        model = st.one_of(st.sampled_from(MODELS + (YOLO_MODELS if self.heavy else ()))
                          .map(sql_string), lit)
        classes = st.sampled_from(("['person']", "['person', 'dog']", "'person'", "[]", "NULL"))
        cheap = st.one_of(
            st.sampled_from(DERIVED),
            st.sampled_from(DERIVED).map(lambda f: f"{f}(frame)"),
            lit.map(lambda n: f"congested(frame, {n})"),
            st.sampled_from(("f0", "f0(frame)", "f1(frame, 'x')", "redness", "redness(frame)",
                             "redness(frame, 2)", "busy", "brightness(frame, 1)",
                             "brightness(1)", "brightness()", "brightness(ts)",
                             "motion(frame) + motion(frame)", "len(moving_objects(frame))")),
        )
        detection = st.one_of(
            st.tuples(label, st.sampled_from(("has_object", "count_objects")))
            .map(lambda a: f"{a[1]}(frame, {a[0]})"),
            st.tuples(label, model).map(lambda a: f"has_object(frame, {a[0]}, {a[1]})"),
            st.sampled_from(("detect(frame)", "len(detect(frame))", "detect(frame)[1].label",
                             "detect(frame, frame)")),
            st.tuples(model, lit, classes)
            .map(lambda a: f"detect(frame, {a[0]}, {a[1]}, {a[2]})"),
        )
        # detection is the dearest (the model loads once per process): one draw in four
        return weighted((3, cheap), (1, detection))

    def expressions(self) -> st.SearchStrategy[str]:
        columns = st.one_of(st.sampled_from(COLUMNS),
                            st.sampled_from(COLUMNS).map(lambda c: f"clip.{c}"))
        leaves = st.one_of(columns, literals(self.markers), self.frame_calls())

        def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
            pair = st.tuples(inner, inner)
            ops = st.sampled_from(("+", "-", "*", "/", "//", "%", "=", "<>", "<", ">=", "AND",
                                   "OR", "||", "IS NOT DISTINCT FROM", "LIKE"))
            types = st.sampled_from(("INTEGER", "BIGINT", "HUGEINT", "UBIGINT", "DOUBLE",
                                     "VARCHAR", "BOOLEAN", "DATE", "BLOB", "DECIMAL(38, 10)",
                                     "INTEGER[]"))
            return st.one_of(
                st.tuples(inner, ops, inner).map(lambda a: f"({a[0]} {a[1]} {a[2]})"),
                inner.map(lambda e: f"NOT {e}"),
                inner.map(lambda e: f"-{e}"),
                inner.map(lambda e: f"{e} IS NULL"),
                st.tuples(inner, types).map(lambda a: f"CAST({a[0]} AS {a[1]})"),
                st.tuples(inner, types).map(lambda a: f"{a[0]}::{a[1]}"),
                st.tuples(st.sampled_from(("abs", "round", "coalesce", "greatest", "length",
                                           "typeof", "len", "lower")), pair)
                .map(lambda a: f"{a[0]}({a[1][0]}, {a[1][1]})"
                     if a[0] in ("round", "coalesce", "greatest") else f"{a[0]}({a[1][0]})"),
                st.tuples(inner, inner, inner)
                .map(lambda a: f"CASE WHEN {a[0]} THEN {a[1]} ELSE {a[2]} END"),
                st.tuples(inner, inner, inner).map(lambda a: f"{a[0]} BETWEEN {a[1]} AND {a[2]}"),
                st.tuples(inner, pair).map(lambda a: f"{a[0]} IN ({a[1][0]}, {a[1][1]})"),
                inner.map(lambda e: f"lag({e}) OVER (ORDER BY frame_id)"),
            )

        return st.recursive(leaves, extend, max_leaves=5)

    def aggregates(self) -> st.SearchStrategy[str]:
        return st.one_of(
            st.just("count(*)"),
            st.tuples(st.sampled_from(("count", "avg", "sum", "min", "max", "bool_or", "list",
                                       "count(DISTINCT")), self.expressions())
            .map(lambda a: f"{a[0]} {a[1]})" if a[0].endswith("DISTINCT") else f"{a[0]}({a[1]})"),
        )

    # --- queries ----------------------------------------------------------------------------

    def sources(self) -> st.SearchStrategy[str]:
        tables = table_names(self.world)
        return weighted(
            (4, tables), (1, tables.map(lambda n: f"{n} AS a")),
            (1, st.sampled_from(("clip JOIN tiny USING (frame_id)",
                                 "clip AS a JOIN tiny AS b ON a.frame_id = b.frame_id",
                                 "clip, tiny", "(SELECT * FROM clip WHERE frame_id < 4) AS s",
                                 "range(3) AS r(frame_id)", "clip, range(2)"))),
        )

    def video_clauses(self) -> st.SearchStrategy[str]:
        number = positive()
        unit = st.sampled_from(("ms", "s", "s", "sec", "min", "h", ""))
        target = st.one_of(
            st.tuples(number, unit).map(lambda a: f"LATENCY {a[0]}{a[1]}"),
            st.tuples(number, unit).map(lambda a: f"LATENCY {a[0]} {a[1]}"),
            number.map(lambda n: f"ACCURACY {n}"),
            number.map(lambda n: f"COST {n}"),
        )
        sample = st.one_of(st.just(""), number.map(lambda n: f" SAMPLE {n} FPS"))
        # each target at most once, mostly (twice is a parse error, tried now and then)
        distinct = st.lists(target, min_size=1, max_size=3, unique_by=lambda x: x.split()[0])
        targets = st.one_of(
            st.just(""),
            st.tuples(weighted((5, distinct), (1, st.lists(target, min_size=2, max_size=3))),
                      st.booleans())
            .map(lambda a: " WITH " + " AND ".join(a[0]) + (" BEST EFFORT" if a[1] else "")),
        )
        return st.tuples(sample, targets).map(lambda a: a[0] + a[1])

    def selects(self) -> st.SearchStrategy[str]:
        return t.cast(st.SearchStrategy[str], _selects(self))

    def typical_queries(self) -> st.SearchStrategy[str]:
        """Queries a user writes: known columns and functions of one clip, a simple
        predicate, grouping or ordering, then VQL's clauses (the odd value now and then)."""
        lit = st.one_of(numbers(), literals(self.markers)) if self.markers else numbers()
        label = st.one_of(st.sampled_from(LABELS[:3]).map(sql_string), literals(self.markers))
        items = st.sampled_from((
            "frame_id", "ts", "path", "brightness", "motion", "moving_objects", "congested",
            "vehicle_count", "brightness(frame) AS b", "computed", "f0", "redness",
            "*", "frame_id, ts", "frame"))
        detection = st.one_of(label.map(lambda a: f"has_object(frame, {a})"),
                              label.map(lambda a: f"count_objects(frame, {a})"),
                              st.just("len(detect(frame))"))
        predicate = st.one_of(
            lit.map(lambda n: f"brightness > {n}"), lit.map(lambda n: f"frame_id < {n}"),
            lit.map(lambda n: f"motion(frame) >= {n}"), lit.map(lambda n: f"ts BETWEEN 0 AND {n}"),
            st.sampled_from(("NOT congested", "f0", "busy", "computed", "moving_objects > 0")),
            detection)
        aggregate = st.sampled_from(("count(*)", "avg(brightness)", "max(motion)",
                                     "sum(vehicle_count)", "bool_or(congested)",
                                     "avg(len(detect(frame)))"))

        @st.composite
        def query(draw: st.DrawFn) -> str:
            table = draw(st.sampled_from(tuple(self.world.tables)))
            if draw(st.booleans()):
                text = f"SELECT path, {draw(aggregate)} FROM {table}"
                text += f" WHERE {draw(predicate)}" if draw(st.booleans()) else ""
                text += " GROUP BY path"
            else:
                columns = draw(st.lists(weighted((2, items), (1, detection)), min_size=1,
                                        max_size=3))
                text = f"SELECT {', '.join(columns)} FROM {table}"
                text += f" WHERE {draw(predicate)}" if draw(st.booleans()) else ""
                text += " ORDER BY ts DESC" if draw(st.booleans()) else ""
                text += f" LIMIT {draw(lit)}" if draw(st.booleans()) else ""
            return text + draw(self.video_clauses())

        return t.cast(st.SearchStrategy[str], query())

    def queries(self) -> st.SearchStrategy[str]:
        """A query with VQL's clauses: a SELECT, a CTE, a set operation or a subquery."""
        select = self.selects()
        simple = st.sampled_from(("SELECT frame_id FROM tiny", "SELECT 1 AS frame_id"))
        body = weighted(
            (4, select),
            (1, select.map(lambda s: f"WITH c AS ({s}) SELECT * FROM c")),
            (1, st.tuples(select, simple).map(lambda a: f"{a[0]} UNION ALL {a[1]}")),
            (1, st.tuples(select, self.expressions()).map(
                lambda a: f"SELECT frame_id FROM clip WHERE frame_id IN ({a[0]}) OR {a[1]}")),
            (1, st.sampled_from(("SELECT 1", "SELECT count(*) FROM clip", "SELECT * FROM t1",
                                 "VALUES (1), (2)"))),
        )
        general = st.tuples(body, self.video_clauses()).map(lambda a: a[0] + a[1])
        typical = self.typical_queries()
        return weighted((2, typical), (1, general))

    # --- statements -------------------------------------------------------------------------

    def video_sources(self) -> st.SearchStrategy[str]:
        world = self.world
        paths = (*world.tables.values(), *world.bad_videos, os.path.join(world.root, "*.mp4"),
                 os.path.join(world.root, "t*.mp4"), os.path.join(world.root, "none*.mp4"),
                 os.path.join(world.root, "missing.mp4"), world.root, world.udf, "clip.mp4",
                 "", "*", "[")
        return st.one_of(st.sampled_from(paths).map(sql_string), st.just("?"), strings())

    def statements(self) -> st.SearchStrategy[str]:
        world, query, name = self.world, self.queries(), table_names(self.world)
        function = function_names()
        maybe = st.booleans()
        explain = st.tuples(st.sampled_from(("EXPLAIN ", "EXPLAIN ANALYZE ")), query).map(
            lambda a: a[0] + a[1])
        load = st.tuples(st.sampled_from(("LOAD VIDEO {s} INTO {n}",
                                          "CREATE VIDEO TABLE {n} FROM {s}")),
                         self.video_sources(), name).map(
            lambda a: a[0].format(s=a[1], n=a[2]))
        drop = st.tuples(st.sampled_from(("DROP VIDEO TABLE", "DROP VIDEO TABLE IF EXISTS",
                                          "DROP TABLE", "DROP TABLE IF EXISTS", "DROP VIEW")),
                         name).map(lambda a: f"{a[0]} {a[1]}")
        show = st.one_of(st.sampled_from(("SHOW TABLES", "SHOW FUNCTIONS", "SHOW clip")),
                         name.map(lambda n: f"DESCRIBE {n}"),
                         self.selects().map(lambda q: f"DESCRIBE {q}"),
                         query.map(lambda q: f"DESCRIBE {q}"))
        params = st.sampled_from(("", "", "(frame)", "()", "(frame, x)", "(frame, frame)", "(x)"))
        create_function = st.tuples(maybe, function, params,
                                    st.one_of(self.expressions(), self.frame_calls())).map(
            lambda a: f"CREATE {'OR REPLACE ' if a[0] else ''}FUNCTION {a[1]}{a[2]} AS {a[3]}")
        files = st.sampled_from((world.udf, world.broken, world.syntax, "missing.py",
                                 world.root))
        function_file = st.tuples(maybe, function, files).map(
            lambda a: f"CREATE {'OR REPLACE ' if a[0] else ''}FUNCTION {a[1]} FROM "
                      f"{sql_string(a[2])}")
        drop_function = st.tuples(st.sampled_from(("DROP FUNCTION", "DROP FUNCTION IF EXISTS")),
                                  function).map(lambda a: f"{a[0]} {a[1]}")
        table_as = st.tuples(st.sampled_from(("CREATE TABLE", "CREATE OR REPLACE TABLE",
                                              "CREATE VIEW", "INSERT INTO")), name, query).map(
            lambda a: f"{a[0]} {a[1]} {'' if a[0] == 'INSERT INTO' else 'AS '}{a[2]}")
        # END and ABORT are DuckDB's words for COMMIT and ROLLBACK
        transaction = st.sampled_from(("BEGIN", "BEGIN TRANSACTION", "COMMIT", "ROLLBACK",
                                       "END", "ABORT"))
        render_files = st.sampled_from(("out.mp4", "out.png", "out.jpg", "frames", "out.gif",
                                        "out.xyz", "t.png", "t.svg", "t.mp4", "", "sub/x.png"))
        render = st.tuples(st.sampled_from(("RENDER", "RENDER TIMELINE")), render_files, maybe,
                           query).map(
            lambda a: f"{a[0]} {sql_string(os.path.join(world.scratch, a[1]))}"
                      f"{' OVERWRITE' if a[2] else ''} AS {a[3]}")
        clear = st.one_of(st.just("CLEAR CACHE"), function.map(lambda f: f"CLEAR CACHE {f}"))
        # VQL's catalog is read-only to plain SQL: attempts to change it around the guard
        catalog = st.sampled_from((
            "INSERT INTO vql_catalog.video_tables VALUES ('clip', now())",
            "INSERT INTO \"VQL_CATALOG\".\"Functions\" SELECT * FROM vql_catalog.functions",
            "DELETE FROM vql_catalog.videos", "UPDATE vql_catalog.video_tables SET name = 'x'",
            "DROP TABLE vql_catalog.functions", "USE vql_catalog", "USE main",
            "SET search_path = 'vql_catalog'",
            "CREATE TABLE video_tables AS SELECT * FROM vql_catalog.video_tables",
            "SELECT * FROM vql_catalog.video_tables"))
        families = [(12, query), (2, explain), (2, load), (1, drop), (1, show),
                    (2, create_function), (1, function_file), (1, drop_function), (1, table_as),
                    (2, transaction), (1, render), (1, clear), (1, catalog)]
        if self.heavy:
            families.append((1, name.map(lambda n: f"ANALYZE {n}")))
        return weighted(*families)

    def scripts(self) -> st.SearchStrategy[str]:
        """One to three statements in one text, with the odd comment and trailing ';'."""
        gap = st.sampled_from(("; ", ";\n", " ; ", ";; ", "; -- note\n", "; /* c */ "))
        end = st.sampled_from(("", "", "", ";", " ;", ";;", " -- end", "\n", "; -- end"))
        statements = self.statements()
        several = weighted((3, st.lists(statements, min_size=1, max_size=1)),
                           (1, st.lists(statements, min_size=2, max_size=3)))
        return st.tuples(several, gap, end).map(lambda a: a[1].join(a[0]) + a[2])

    def mutated(self) -> st.SearchStrategy[str]:
        """A script with a few tokens deleted, repeated, swapped or replaced, or cut short."""
        return st.one_of(self.scripts().flatmap(mutations), self.scripts().flatmap(cuts))


ALIASES = ("x", "y", '"a b"', "frame_id", '""')


@st.composite
def _selects(draw: st.DrawFn, grammar: Grammar) -> str:
    """SELECT [DISTINCT] ... FROM ... [WHERE] [GROUP BY [HAVING]] [ORDER BY] [LIMIT [OFFSET]]."""
    expressions = grammar.expressions()
    grouped = draw(st.booleans())
    if grouped:
        keys = draw(st.lists(st.one_of(st.sampled_from(("path", "video_id", "width")),
                                       expressions), min_size=1, max_size=2))
        items = keys[:1] + draw(st.lists(grammar.aggregates(), min_size=1, max_size=2))
    else:
        items = draw(st.one_of(st.just(["*"]), st.lists(expressions, min_size=1, max_size=3)))
    aliased = [f"{item} AS {draw(st.sampled_from(ALIASES))}"
               if item != "*" and draw(st.booleans()) else item for item in items]
    text = ("SELECT " + ("DISTINCT " if draw(st.booleans()) else "") + ", ".join(aliased)
            + " FROM " + draw(grammar.sources()))
    if draw(st.booleans()):
        text += " WHERE " + draw(expressions)
    if grouped:
        text += " GROUP BY " + ", ".join(keys)
        if draw(st.booleans()):
            text += " HAVING " + draw(grammar.aggregates()) + " > " + draw(numbers())
    if draw(st.booleans()):
        order = draw(st.one_of(st.sampled_from(("1", "frame_id", "ts")), expressions))
        text += " ORDER BY " + order + draw(st.sampled_from(("", " DESC", " ASC NULLS FIRST")))
    if draw(st.booleans()):
        text += " LIMIT " + draw(st.one_of(positive(), literals(grammar.markers)))
        if draw(st.booleans()):
            text += " OFFSET " + draw(positive())
    return text


# --- mutations -------------------------------------------------------------------------------

TOKEN = re.compile(r"'(?:[^']|'')*'?|\"(?:[^\"]|\"\")*\"?|\w+|\s+|.", re.DOTALL)
VOCABULARY = ("SELECT", "FROM", "WHERE", "GROUP BY", "ORDER BY", "LIMIT", "SAMPLE", "FPS",
              "WITH", "LATENCY", "ACCURACY", "COST", "AND", "OR", "NOT", "BEST EFFORT", "AS",
              "(", ")", ",", ";", "?", "*", "'", '"', "--", "/*", "NULL", "1e999", "-1", "0",
              "frame", "clip", "brightness(frame)", "EXPLAIN", "RENDER", "TIMELINE", "FUNCTION",
              "VIDEO", "TABLE", "INTO", "LOAD", "DROP", "CREATE", "OVER", "\x00", "😀", "$1",
              "$0", "$99", ":x", "[", "]", "{", "}", "::", ".", "=", "\\")


def mutations(script: str) -> st.SearchStrategy[str]:
    tokens = TOKEN.findall(script) or [""]

    @st.composite
    def mutate(draw: st.DrawFn) -> str:
        words = list(tokens)
        for _ in range(draw(st.integers(1, 3))):
            at = draw(st.integers(0, max(len(words) - 1, 0)))
            action = draw(st.sampled_from(("delete", "repeat", "swap", "replace", "insert",
                                           "number", "char")))
            if action == "delete" and words:
                del words[at]
            elif action == "repeat" and words:
                words.insert(at, words[at])
            elif action == "swap" and len(words) > 1:
                other = draw(st.integers(0, len(words) - 1))
                words[at], words[other] = words[other], words[at]
            elif action in ("replace", "insert", "number"):
                new = draw(numbers()) if action == "number" else draw(st.sampled_from(VOCABULARY))
                new = f" {new} "
                if action == "insert" or not words:
                    words.insert(at, new)
                else:
                    words[at] = new
            else:  # one odd character somewhere
                words.insert(at, draw(st.characters()))
        return "".join(words)

    return t.cast(st.SearchStrategy[str], mutate())


def cuts(script: str) -> st.SearchStrategy[str]:
    return st.integers(0, len(script)).map(lambda n: script[:n])


# --- parameters ------------------------------------------------------------------------------

class Opaque:
    """An object VQL cannot know how to bind."""

    def __repr__(self) -> str:
        return "Opaque()"


def scalars() -> st.SearchStrategy[t.Any]:
    return st.one_of(
        st.none(), st.booleans(),
        st.integers(-(2**70), 2**70),
        st.sampled_from((2**63, -(2**63) - 1, 2**64, 10**40, -(10**40))),
        st.floats(), st.sampled_from((math.nan, math.inf, -math.inf, -0.0, 1e308)),
        st.text(max_size=8), st.sampled_from(ODD_TEXTS),
        st.binary(max_size=8), st.binary(max_size=8).map(bytearray),
        st.sampled_from(LABELS), st.sampled_from(MODELS),
    )


def parameters() -> st.SearchStrategy[t.Any]:
    """A parameter value of any type: scalars, times, decimals, containers and objects."""
    small = scalars()
    return st.one_of(
        small, small, small,
        st.datetimes(), st.dates(), st.times(), st.timedeltas(),
        st.datetimes(timezones=st.just(dt.UTC)),
        st.decimals(allow_nan=True, allow_infinity=True), st.uuids(),
        st.lists(small, max_size=3), st.tuples(small, small),
        st.dictionaries(st.text(max_size=3), small, max_size=2),
        st.frozensets(st.integers(0, 3), max_size=2), st.complex_numbers(),
        st.sampled_from((Opaque(), object, Path("clip.mp4"), memoryview(b"ab"), range(3),
                         decimal.Decimal("1e-99999"), uuid.UUID(int=0))),
    )


def marker_count(sql: str) -> int:
    """How many ``?`` markers the engine will see (0 when the text cannot be tokenized)."""
    from vql.sql.parse import number_placeholders

    try:
        return number_placeholders(sql)[1]
    except vql.Error:
        return 0


@st.composite
def bound_parameters(draw: st.DrawFn, sql: str) -> t.Any:
    """Parameters for ``sql``: as many as it has markers, mostly; sometimes a count off by one,
    none at all, a tuple, or not a sequence (a dict, a string)."""
    count = marker_count(sql)
    values = draw(st.lists(parameters(), min_size=count, max_size=count))
    shape = draw(st.sampled_from(("list",) * 12 + ("tuple", "more", "fewer", "none", "dict",
                                                   "str")))
    if shape == "tuple":
        return tuple(values)
    if shape == "more":
        return [*values, draw(parameters())]
    if shape == "fewer":
        return values[:-1]
    if shape == "none":
        return None
    if shape == "dict":
        return {"1": values[0] if values else None}
    if shape == "str":
        return "?"
    return values


# --- sessions --------------------------------------------------------------------------------

FETCHES = ("all", "all", "all", "one", "many", "arrow", "none")


@dataclass(frozen=True)
class Step:
    """One call: ``con.cursor().execute(sql, params)``, then ``fetch`` the rows (``one``,
    ``many`` and ``none`` leave the rest open for the next statement to drain)."""

    sql: str
    params: t.Any
    fetch: str = "all"

    def __str__(self) -> str:
        params = "" if self.params is None else f"  params={self.params!r}"
        return f"{self.sql!r}{params}  fetch={self.fetch}"


MODES = ("valid", "mutated", "parameters")


@st.composite
def steps(draw: st.DrawFn, grammar: Grammar, mode: str) -> Step:
    """One step: a valid script, a mutated or cut one, or one full of ``?`` markers."""
    if mode == "mutated":
        sql = draw(grammar.mutated())
    else:
        sql = draw(grammar.scripts())
    if mode == "parameters":
        params = draw(bound_parameters(sql))
    else:  # matching parameters (also for markers a mutation brought in)
        params = draw(st.lists(scalars(), min_size=marker_count(sql),
                               max_size=marker_count(sql)))
    return Step(sql, params, draw(st.sampled_from(FETCHES)))


def sessions(world: World, mode: str, *, min_steps: int = 1, max_steps: int = 6,
             heavy: bool = False) -> st.SearchStrategy[list[Step]]:
    """Steps run one after the other on one connection."""
    grammar = Grammar(world, markers=mode == "parameters", heavy=heavy)
    return st.lists(steps(grammar, mode), min_size=min_steps, max_size=max_steps)


# --- safety ----------------------------------------------------------------------------------

def _inside(path: str, folder: str) -> bool:
    full = os.path.normpath(os.path.join(os.getcwd(), os.path.expanduser(path)))
    return os.path.commonpath([full, os.path.normpath(folder)]) == os.path.normpath(folder)


def unsafe(sql: str, params: t.Any, world: World) -> str | None:
    """Why ``sql`` must not run here (None when it may): a RENDER target outside the scratch
    folder, or a function file or video source outside the world's folder. Text that does
    not parse is safe: the engine parses all of it before running any of it."""
    from sqlglot import exp

    from vql.sql import dialect as d
    from vql.sql.parse import number_placeholders, parse

    try:
        trees = parse(number_placeholders(sql)[0])
    except Exception:  # noqa: BLE001 - the engine fails the same way before running anything
        return None

    def value(node: exp.Expr) -> str | None:
        if isinstance(node, exp.Placeholder):
            index = int(node.name) if str(node.name).isdigit() else 0
            if not isinstance(params, Sequence) or isinstance(params, str | bytes) \
                    or not 0 < index <= len(params):
                return None
            bound = params[index - 1]
            if isinstance(bound, bytes):
                return os.fsdecode(bound)
            return str(bound) if isinstance(bound, str) or hasattr(bound, "__fspath__") \
                else None
        return str(node.name)

    for tree in trees:
        for node in tree.walk():
            if isinstance(node, d.RenderQuery):
                target = value(node.args["target"])
                if target is None or "\x00" in target or not _inside(target, world.scratch):
                    return f"RENDER target {target!r} is outside {world.scratch}"
            elif isinstance(node, d.CreateVqlFunction | d.CreateVideoTable) \
                    and node.args.get("source") is not None:
                source = value(node.args["source"])
                if source is not None and "\x00" not in source \
                        and not _inside(source, world.root):
                    return f"source {source!r} is outside {world.root}"
                if source is not None and glob.has_magic(source) and ".." in source:
                    return f"glob {source!r} climbs out of its folder"
    return None


# --- running and checking --------------------------------------------------------------------

DUPLICATES = {
    "video table": """SELECT lower(name), count(*) FROM vql_catalog.video_tables
                      GROUP BY 1 HAVING count(*) > 1""",
    "function": """SELECT lower(name), count(*) FROM vql_catalog.functions
                   GROUP BY 1 HAVING count(*) > 1""",
    "video path": """SELECT path, count(*) FROM vql_catalog.videos
                     GROUP BY 1 HAVING count(*) > 1""",
    "video in table": """SELECT lower(table_name) || ' #' || video_id, count(*)
                         FROM vql_catalog.table_videos GROUP BY 1 HAVING count(*) > 1""",
    "video and plain table": """SELECT lower(v.name), 2 FROM vql_catalog.video_tables v
                                JOIN information_schema.tables p
                                  ON lower(p.table_name) = lower(v.name)
                                 AND p.table_schema = 'main'""",
}


def duplicate_names(con: vql.Connection) -> list[str]:
    """Names the catalog holds twice (also a video table that is a plain table too, and a
    user function named like a built-in), as ``kind: name``. Run with no result open."""
    found = []
    for kind, sql in DUPLICATES.items():
        try:
            rows = con.engine.duck.execute(sql).fetchall()
        except Exception as error:  # noqa: BLE001 - a catalog that cannot be read is reported
            return [f"catalog unreadable: {type(error).__name__}: {error}"]
        found += [f"{kind}: {row[0]!r}" for row in rows]
    builtins = {f.name.lower() for f in con.engine.registry if f.origin == "builtin"}
    stored = [r[0] for r in con.engine.duck.execute("SELECT name FROM vql_catalog.functions")
              .fetchall()]
    found += [f"user function named like a built-in: {n!r}" for n in stored
              if n.lower() in builtins]
    return found


def registry_drift(con: vql.Connection) -> str | None:
    """User functions the connection can call but the catalog does not hold, or the reverse
    (reported by bench/fuzz.py; not an assertion of the test)."""
    registry = {f.name.lower() for f in con.engine.registry if f.origin != "builtin"}
    rows = con.engine.duck.execute("SELECT lower(name) FROM vql_catalog.functions").fetchall()
    stored = {r[0] for r in rows}
    if registry == stored:
        return None
    return f"callable, not in the catalog: {sorted(registry - stored)}; " \
           f"in the catalog, not callable: {sorted(stored - registry)}"


@dataclass
class Outcome:
    """What one step did. ``kind``: "ok", "skipped", the ``vql.Error`` class's name, or
    "escape" (anything else: ``error`` holds it)."""

    kind: str
    error: BaseException | None = None
    late: bool = False            # the error came while the next statement drained the rows
    rolled_back: bool = False     # SELECT 1 failed until con.rollback()
    unusable: str | None = None   # SELECT 1 failed even after con.rollback(): why
    escapes: list[tuple[str, BaseException]] = field(default_factory=list)  # (where, error)
    duplicates: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failures(self) -> list[str]:
        """What breaks the contract: non-VQL exceptions, an unusable connection, a name
        held twice."""
        out = [f"{where}: {type(e).__name__}: {e}" for where, e in self.escapes]
        out += [f"connection unusable: {self.unusable}"] if self.unusable else []
        return out + [f"duplicate in the catalog: {d}" for d in self.duplicates]


def _fetch(cursor: vql.Cursor, fetch: str) -> None:
    if cursor.description is None:
        return
    if fetch == "all":
        cursor.fetchall()
    elif fetch == "one":
        cursor.fetchone()
    elif fetch == "many":
        cursor.fetchmany(2)
    elif fetch == "arrow":
        cursor.fetch_arrow_table()


def _select_one(con: vql.Connection) -> None:
    rows = con.execute("SELECT 1").fetchall()
    if rows != [(1,)]:
        raise AssertionError(f"SELECT 1 returned {rows!r}")


def run_step(con: vql.Connection, step: Step, world: World) -> Outcome:
    """Run one step and check the connection afterwards (see :class:`Outcome`)."""
    if unsafe(step.sql, step.params, world):
        return Outcome("skipped")
    outcome = Outcome("ok")
    open_rows = False
    started = time.perf_counter()
    try:
        cursor = con.cursor().execute(step.sql, step.params)
        open_rows = cursor.description is not None and step.fetch in ("one", "many", "none")
        _fetch(cursor, step.fetch)
    except vql.Error as error:
        outcome.kind, outcome.error = type(error).__name__, error
    except KeyboardInterrupt:
        raise
    except BaseException as error:  # noqa: BLE001 - SystemExit included: nothing else may escape
        outcome.kind, outcome.error = "escape", error
        outcome.escapes.append(("the statement", error))
    outcome.seconds = time.perf_counter() - started
    if open_rows:  # the next statement drains them: an error there belongs to this step
        try:
            _select_one(con)
        except vql.Error as error:
            outcome.kind, outcome.error, outcome.late = type(error).__name__, error, True
        except KeyboardInterrupt:
            raise
        except BaseException as error:  # noqa: BLE001
            outcome.escapes.append(("SELECT 1 draining the rows", error))
    _check_usable(con, outcome)
    if outcome.unusable is None:
        outcome.duplicates = duplicate_names(con)
    return outcome


def _check_usable(con: vql.Connection, outcome: Outcome) -> None:
    """SELECT 1 must work, after con.rollback() at most."""
    try:
        _select_one(con)
        return
    except KeyboardInterrupt:
        raise
    except vql.Error:
        pass
    except BaseException as error:  # noqa: BLE001
        outcome.escapes.append(("SELECT 1 after the statement", error))
    outcome.rolled_back = True
    try:
        con.rollback()
        _select_one(con)
    except KeyboardInterrupt:
        raise
    except BaseException as error:  # noqa: BLE001
        outcome.unusable = f"{type(error).__name__}: {error}"


def close(con: vql.Connection, autocommit: bool) -> list[tuple[str, BaseException]]:
    """Commit (without autocommit; a failed commit is fine) and close: what else was raised."""
    escapes: list[tuple[str, BaseException]] = []
    if not autocommit:
        try:
            con.commit()
        except vql.Error:
            pass
        except KeyboardInterrupt:
            raise
        except BaseException as error:  # noqa: BLE001
            escapes.append(("commit", error))
    try:
        con.close()
    except KeyboardInterrupt:
        raise
    except BaseException as error:  # noqa: BLE001 - close must work, even with VQL errors
        escapes.append(("close", error))
    return escapes


def describe(error: BaseException) -> str:
    """The exception and where it was raised (innermost frame), for reports."""
    frames = traceback.extract_tb(error.__traceback__)
    where = f" at {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
    return f"{type(error).__name__}{where}: {str(error)[:200]}"
