"""One handler per bound statement type, found through a registry."""

from __future__ import annotations

import time
import typing as t
import warnings
from collections.abc import Callable
from pathlib import Path

import duckdb
import pyarrow as pa

from vql.accuracy import METRIC_NAMES
from vql.bind import listings
from vql.bind import statements as st
from vql.bind.names import user_facing
from vql.catalog import StoredFunction
from vql.errors import (
    BindError,
    CatalogError,
    FallbackWarning,
    InternalError,
    ProgrammingError,
    suggestion,
)
from vql.errors import Warning as VQLWarning
from vql.exec.profile import operator_lines
from vql.exec.result import Result
from vql.functions.macros import macro_from_expression
from vql.functions.registry import file_hash, load_file
from vql.functions.spec import FrameFunction, MacroFunction, Param
from vql.physical.cost import estimate
from vql.plan.explain import logical_lines, physical_lines
from vql.plan.nodes import Filter, VideoScan, chain
from vql.session.query import Planned, plan_query, run_query
from vql.session.runners import check_runner, runner
from vql.sql.parse import parse_expression
from vql.tune.tuner import table_cache_shares
from vql.video.live import is_live, probe_stream
from vql.video.probe import probe_all
from vql.video.watch import finished_now

if t.TYPE_CHECKING:
    from vql.render.shapes import Shapes
    from vql.session.engine import Engine


def execute(engine: Engine, bound: st.Bound) -> Result:
    """Execute a bound statement with its kind's handler; errors and streamed rows speak of
    the names the user wrote."""
    handler = HANDLERS.get(type(bound))
    if handler is None:
        raise InternalError(f"no handler for {type(bound).__name__}")
    names = _names_of(bound)
    try:
        result = handler(engine, bound)
    except duckdb.Error as error:  # DuckDB's message names what the user wrote
        raise _renamed(error, names) from error
    if result.reader is not None and names:
        result.reader = _renaming(result.reader, names)
    return result


def _names_of(bound: st.Bound) -> dict[str, str]:
    """Internal name -> what the user wrote, for a statement that runs a query."""
    query = bound.query if isinstance(bound, st.Explain | st.Render) else bound
    return dict(query.names) if isinstance(query, st.Query) else {}


def _renamed(error: duckdb.Error, names: dict[str, str]) -> duckdb.Error:
    """The same DuckDB error, its message in the user's names (the engine converts it)."""
    message = user_facing(str(error), names)
    if message == str(error):
        return error
    try:
        return type(error)(message)
    except TypeError:  # an error class that takes other arguments: keep it as it is
        return error


def _renaming(reader: pa.RecordBatchReader, names: dict[str, str]) -> pa.RecordBatchReader:
    """A result's stream whose DuckDB errors (met while rows stream) use the user's names."""

    def batches() -> t.Iterator[pa.RecordBatch]:
        try:
            yield from reader
        except duckdb.Error as error:
            renamed = _renamed(error, names)
            if renamed is error:
                raise
            raise renamed from error

    return pa.RecordBatchReader.from_batches(reader.schema, batches())


# --- video tables --------------------------------------------------------------------------


def _create_video_table(engine: Engine, stmt: st.CreateVideoTable) -> Result:
    catalog = engine.catalog
    exists = catalog.is_video_table(stmt.name)
    if not stmt.load and exists:
        raise CatalogError(f"video table {stmt.name!r} already exists; use LOAD VIDEO ... INTO "
                           f"{stmt.name} to add videos to it")
    if is_live(stmt.source) or (exists and catalog.live_source(stmt.name) is not None):
        return _create_live_table(engine, stmt, exists)
    if stmt.watch and (stmt.load or exists):
        raise CatalogError("WATCH makes a new table that follows a folder: CREATE VIDEO TABLE "
                           "name FROM 'folder/*.mp4' WATCH")
    # every file is checked before the catalog changes (WATCH: those finished now)
    probes = finished_now(stmt.source) if stmt.watch else probe_all(stmt.source)
    if not exists:  # measurements left by a dropped table of that name are not this one's
        engine.measurements.apart(lambda: engine.measurements.forget_profiles(stmt.name))
    held = catalog.held_contents()
    with engine.atomic():
        if not exists:
            catalog.create_video_table(stmt.name)
        name = catalog.canonical_name(stmt.name)
        added = catalog.add_videos(name, probes)
        if stmt.watch:
            catalog.watch(name, stmt.source)
    engine.results.forget(held - catalog.held_contents())  # a file that changed on disk
    videos = catalog.videos_of(name)
    table = pa.table({"table": [name], "videos_added": [added], "videos": [len(videos)],
                      "frames": [sum(v.frames for v in videos)]})
    return Result.of_table(table, rowcount=added)


def _create_live_table(engine: Engine, stmt: st.CreateVideoTable, exists: bool) -> Result:
    """CREATE VIDEO TABLE cam FROM 'rtsp://...': a live table, its stream probed now."""
    if stmt.load:
        raise CatalogError(
            f"LOAD VIDEO cannot add a live stream to a table or files to a live table "
            f"({stmt.source!r} into {stmt.name!r}): a live stream is a video table of its own, "
            f"CREATE VIDEO TABLE name FROM 'rtsp://...'")
    # the stream answers before the catalog changes
    info = probe_stream(stmt.source, engine.settings.connect_timeout_s)
    engine.measurements.apart(lambda: engine.measurements.forget_profiles(stmt.name))
    with engine.atomic():
        engine.catalog.create_live_table(stmt.name, info)
    table = pa.table({"table": [engine.catalog.canonical_name(stmt.name)], "live": [info.url],
                      "fps": [info.fps], "width": [info.width], "height": [info.height],
                      "codec": [info.codec]})
    return Result.of_table(table, rowcount=0)


def _drop_video_table(engine: Engine, stmt: st.DropVideoTable) -> Result:
    if engine.catalog.is_video_table(stmt.name):
        held = engine.catalog.held_contents()
        with engine.atomic():
            engine.catalog.drop_video_table(stmt.name)
        engine.measurements.apart(lambda: engine.measurements.forget_profiles(stmt.name))
        engine.results.forget(held - engine.catalog.held_contents())
    return Result()


def _show_tables(engine: Engine, stmt: st.ShowTables) -> Result:
    return Result.of_table(listings.tables(engine.catalog))


def _describe_video_table(engine: Engine, stmt: st.DescribeVideoTable) -> Result:
    return Result.of_table(listings.video_columns(engine.catalog.live_source(stmt.name)))


# --- views over video tables (vql/bind/views.py) --------------------------------------------


def _create_view(engine: Engine, stmt: st.CreateView) -> Result:
    if stmt.sql is None and stmt.plain is None:
        return Result()  # IF NOT EXISTS, and it exists
    with engine.atomic():
        if stmt.plain is not None:  # a DuckDB view takes the name of one kept here
            engine.catalog.delete_view(stmt.name)
            return _query(engine, stmt.plain)
        if stmt.drop_duckdb_view:  # CREATE OR REPLACE of a DuckDB view
            engine.catalog.run(f"DROP VIEW {_quoted(stmt.name)}")
        engine.catalog.save_view(stmt.name, t.cast(str, stmt.sql))
    return Result()


def _drop_view(engine: Engine, stmt: st.DropView) -> Result:
    with engine.atomic():
        engine.catalog.delete_view(stmt.name)
    return Result()


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# --- functions -----------------------------------------------------------------------------


def _show_functions(engine: Engine, stmt: st.ShowFunctions) -> Result:
    return Result.of_table(listings.functions(engine.registry))


def _create_function(engine: Engine, stmt: st.CreateFunction) -> Result:
    existing = engine.registry.get(stmt.name)
    if existing is not None and existing.origin == "builtin":
        raise CatalogError(f"{stmt.name!r} is a built-in function and cannot be replaced")
    if existing is not None and not stmt.replace:
        raise CatalogError(f"function {stmt.name!r} already exists; use CREATE OR REPLACE "
                           "FUNCTION to redefine it")
    _check_function_name(stmt.name)
    if stmt.source_file is not None:
        trusted = file_hash(stmt.source_file) if Path(stmt.source_file).is_file() else ""
        function: FrameFunction | MacroFunction = function_from_file(stmt.name, stmt.source_file)
        # body: the hash of the file as it was run now; reopening runs it only if unchanged
        stored = StoredFunction(stmt.name, "file", (), trusted,
                                str(Path(stmt.source_file).resolve()))
    else:
        function = build_macro(stmt.name, stmt.params, stmt.body)
        stored = StoredFunction(stmt.name, "expression", stmt.params, stmt.body, "")
    with engine.atomic():
        engine.catalog.save_function(stored)
    engine.registry.add(function)
    return Result()


def _check_function_name(name: str) -> None:
    import re

    from sqlglot import exp

    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise CatalogError(f"{name!r} cannot name a function: use letters, digits and _ (a "
                           "function is called by its bare name, name(frame))")
    call = parse_expression(f"{name}(1)")
    if not isinstance(call, exp.Anonymous):
        raise CatalogError(f"{name!r} is the name of a built-in SQL function; choose another")


def function_from_file(name: str, path: str) -> FrameFunction:
    """The ``@udf`` function ``name`` that the file ``path`` declares (its only one,
    renamed, when it declares one under another name)."""
    from dataclasses import replace

    declared = load_file(path)
    matching = [f for f in declared if f.name == name.lower()]
    if not matching and len(declared) == 1:
        matching = [replace(declared[0], name=name.lower())]
    if not matching:
        names = ", ".join(f.name for f in declared) or "none"
        raise CatalogError(f"{path!r} declares no function {name!r} with @udf "
                           f"(it declares: {names})")
    return matching[0]


def build_macro(name: str, params: tuple[str, ...], body: str) -> MacroFunction:
    """A user macro from CREATE FUNCTION name [(params)] AS body; a parameter is a name, or
    a name and the DuckDB type its arguments must have ("k INTEGER", as stored)."""
    specs = tuple(_macro_param(name, p) for p in params)
    if len({p.name for p in specs}) != len(specs):
        raise BindError(f"function {name!r} repeats a parameter name")
    expression = parse_expression(body)
    return macro_from_expression(name.lower(), specs, expression, body, origin="user",
                                 doc=f"defined as {body}")


def _macro_param(function: str, text: str) -> Param:
    name, _, sql_type = text.strip().partition(" ")
    name = name.lower()
    if name == "frame":
        if sql_type.strip():
            raise BindError(f"function {function!r}: the frame parameter takes no type")
        return Param("frame", "frame")
    return Param(name, "any", sql_type=sql_type.strip())


def _drop_function(engine: Engine, stmt: st.DropFunction) -> Result:
    function = engine.registry.get(stmt.name)
    if function is not None and function.origin == "builtin":
        raise CatalogError(f"{stmt.name!r} is a built-in function and cannot be dropped")
    if function is None:
        if stmt.if_exists:
            return Result()
        user = [f.name for f in engine.registry if f.origin != "builtin"]
        raise CatalogError(f"unknown function {stmt.name!r}{suggestion(stmt.name, user)}")
    with engine.atomic():
        engine.catalog.delete_function(stmt.name)
    engine.registry.remove(stmt.name)
    return Result()


def _analyze_video_table(engine: Engine, stmt: st.AnalyzeVideoTable) -> Result:
    from vql.tune.costs import Profiler

    outcomes = Profiler(engine.catalog, engine.registry, engine.settings).profile(stmt.name)
    measured = [o.profile for o in outcomes if o.profile is not None]
    engine.measurements.apart(lambda: engine.measurements.save_profiles(stmt.name, measured),
                              raise_error=True)
    rows = [{"operator": o.operator, "status": o.status} | ({
        "variant": o.profile.variant, "resolution": o.profile.resolution,
        "batch_size": o.profile.batch_size,
        "ms_per_frame": round(o.profile.ms_per_frame, 3), "frames": o.profile.frames,
    } if o.profile else {}) for o in outcomes]
    return Result.of_table(pa.Table.from_pylist(rows, schema=ANALYZE_SCHEMA),
                           rowcount=len(measured))


ANALYZE_SCHEMA = pa.schema([("operator", pa.string()), ("variant", pa.string()),
                            ("resolution", pa.string()),
                            ("batch_size", pa.int64()), ("ms_per_frame", pa.float64()),
                            ("frames", pa.int64()), ("status", pa.string())])


# --- queries, EXPLAIN, transactions --------------------------------------------------------


def _query(engine: Engine, stmt: st.Query) -> Result:
    return run_query(engine, stmt)


def _explain(engine: Engine, stmt: st.Explain) -> Result:
    planned = plan_query(engine, stmt.query, explain=not stmt.analyze)
    plan = planned.plan
    lines = ["== Logical plan (reference) ==", *logical_lines(planned.placed or plan),
             "", "== Optimized logical plan ==", *logical_lines(plan),
             "", "== Physical plan ==", *physical_lines(plan, planned.operators)]
    ahead = runner(engine.runner)
    if ahead is not None:
        lines += ["", f"== Runner: {engine.runner} ==", *ahead.explain(engine, stmt.query)]
    for node in plan.inputs:
        scan = chain(node)[0]
        if isinstance(scan, VideoScan):
            found = estimate(node, engine.measurements.profiles(scan.table),
                             table_cache_shares(engine.services, node, scan.table))
            lines += ["", f"== Estimates for {scan.alias} (this machine, CPU) ==", *found.lines]
            if found.seconds is not None:
                usd = found.seconds * engine.settings.effective_threads() * \
                    engine.settings.price_cpu_core_s
                lines.append(f"dollar cost: ${usd:.6f} ({engine.settings.effective_threads()} "
                             f"cores × ${engine.settings.price_cpu_core_s:g}/core-second)")
    tuning = planned.tuning
    if tuning is not None:
        accuracy = tuning.estimated_accuracy()
        lines += ["", "== Cost-based choice ==",
                  f"metric: {METRIC_NAMES[tuning.shape]} ({tuning.shape})",
                  "estimated accuracy: " + ("not profiled" if accuracy is None
                                            else f"{accuracy:.3f}"),
                  *tuning.lines()]
    options = stmt.query.options.describe()
    if options:
        lines += ["", "== Options ==", *options]
    lines += [f"note: {notice}" for notice in (*stmt.query.notices, *planned.warnings)]
    if stmt.analyze:
        lines += ["", "== Execution ==", *_analyze(engine, stmt.query, planned)]
    names = dict(stmt.query.names)
    return Result.of_table(pa.table({"plan": [user_facing(line, names) for line in lines]}))


def _analyze(engine: Engine, query: st.Query, planned: Planned) -> list[str]:
    """Run the query; per operator, its estimated and actual time and rows."""
    started = time.perf_counter()
    result = run_query(engine, query, planned)
    rows = 0
    try:
        if result.reader is not None:
            rows = sum(batch.num_rows for batch in result.reader)
    finally:
        if result.finish:
            result.finish()
    elapsed = time.perf_counter() - started
    stats = result.stats
    lines = [f"rows returned: {rows}", f"elapsed: {elapsed:.3f} s"]
    if stats is not None:
        lines += [f"{key}: {value}" for key, value in stats.as_dict().items()
                  if key != "operators"]
        estimates: dict[str, float] = {}
        for node in planned.plan.inputs:
            scan = chain(node)[0]
            if isinstance(scan, VideoScan):
                estimates.update(estimate(node, engine.measurements.profiles(scan.table),
                                          table_cache_shares(engine.services, node, scan.table)).parts)
        lines += ["", "operator | estimated | actual (own time) | rows in -> out | pass rate",
                  *operator_lines(stats, planned.operators, estimates)]
    if result.tuning is not None and result.tuning.controller is not None:
        lines.append(f"latency controller: {result.tuning.controller.summary()}")
    if result.tuning is not None and result.tuning.live is not None:
        lines.append(f"live controller: {result.tuning.live.summary()}")
    if result.tuning is not None and result.tuning.lossy:
        accuracy = result.tuning.estimated_accuracy()
        lines.append("estimated accuracy: " + ("not profiled" if accuracy is None
                                               else f"{accuracy:.3f}"))
    return lines


def _transaction(engine: Engine, stmt: st.Transaction) -> Result:
    actions: dict[str, Callable[[], None]] = {
        "begin": engine.begin, "commit": engine.commit, "rollback": engine.rollback}
    if stmt.action not in actions:
        raise ProgrammingError(f"unknown transaction action {stmt.action!r}")
    actions[stmt.action]()
    return Result()


def _clear_cache(engine: Engine, stmt: st.ClearCache) -> Result:
    engine.results.flush()  # values staged by earlier queries go too
    caches, values = engine.results.clear(stmt.function)
    return Result.of_table(pa.table({"caches_dropped": [caches], "values_dropped": [values]}))


def _shapes_of(query: st.Query) -> Shapes:
    """The lines and zones the query names with literal coordinates (drawn on its clip)."""
    from vql.render.shapes import shapes_in

    predicates = [n.predicate for p in query.plan.inputs for n in chain(p)
                  if isinstance(n, Filter)]
    return shapes_in(query.plan.sql, *predicates)


def _render(engine: Engine, stmt: st.Render) -> Result:
    """Run the query and draw its result: a clip or images, or a timeline plot."""
    from vql.render import render_clip, render_timeline
    from vql.render.target import check_target

    videos = [v.path for name in engine.catalog.video_tables()
              for v in engine.catalog.videos_of(name)]
    database = [] if engine.database == ":memory:" else [engine.database,
                                                          engine.database + ".wal"]
    check_target(stmt.target, stmt.timeline, stmt.overwrite, videos + database)
    result = _query(engine, stmt.query)
    try:
        if result.reader is None:
            raise ProgrammingError("RENDER takes a query that returns rows")
        names = result.reader.schema.names
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ProgrammingError(f"RENDER draws columns by name; {', '.join(twice)} "
                                   "appears more than once: give each an alias")
        with warnings.catch_warnings(record=True) as fallbacks:
            # an mp4 without an H.264 encoder: said in the result's messages, which the
            # shell prints, rather than raised where the shell would not show it
            warnings.simplefilter("always", FallbackWarning)
            if stmt.timeline:
                rendered = render_timeline(result.reader.read_all(), stmt.target)
            else:
                rendered = render_clip(result.reader, stmt.target,
                                       threads=engine.settings.decode_thread_count(),
                                       shapes=_shapes_of(stmt.query))
    finally:
        if result.finish is not None:
            result.finish()
    kind = "timeline" if stmt.timeline else ("clip" if Path(stmt.target).suffix else "images")
    counted = "points" if stmt.timeline else "frames"
    messages: list[tuple[type[VQLWarning], str] | str] = [
        (FallbackWarning, str(w.message)) for w in fallbacks
        if issubclass(w.category, FallbackWarning)]
    if rendered.left_out:
        messages.append(f"{rendered.left_out} rows past the first {rendered.items} were not "
                        "drawn")
    return Result.of_table(pa.table({"file": [rendered.path], "kind": [kind],
                                     counted: [rendered.items]}), messages=messages,
                           stats=result.stats)


def _set_option(engine: Engine, stmt: st.SetOption) -> Result:
    if stmt.name == "runner":
        engine.runner = check_runner(stmt.value)
    else:  # ray_address
        engine.ray_address = stmt.value.strip()
    return Result()


HANDLERS: dict[type, Callable[[Engine, t.Any], Result]] = {
    st.CreateVideoTable: _create_video_table,
    st.DropVideoTable: _drop_video_table,
    st.ShowTables: _show_tables,
    st.DescribeVideoTable: _describe_video_table,
    st.ShowFunctions: _show_functions,
    st.CreateFunction: _create_function,
    st.DropFunction: _drop_function,
    st.Query: _query,
    st.Explain: _explain,
    st.AnalyzeVideoTable: _analyze_video_table,
    st.ClearCache: _clear_cache,
    st.Render: _render,
    st.Transaction: _transaction,
    st.CreateView: _create_view,
    st.DropView: _drop_view,
    st.SetOption: _set_option,
}
