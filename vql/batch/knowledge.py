"""What a batch run's workers share through its coordinator, the database's only writer.

A worker runs a video's queries in a database of its own (in memory, in its own process), so
it cannot read what the user's database knows, nor write what it learns. With each job the
coordinator sends what the database holds that the video's queries use:

* the video table's measured costs (``vql_catalog.profiles``, as ``ANALYZE`` stores them), so
  that a worker's plans use measured costs, not declared ones;
* the result cache's values for the video's content (``catalog/results.py``), so that a
  function computed on this file before, in any table or run, is not computed again;
* the accuracy profiles measured on the video's content (``vql_catalog.video_accuracy``), so
  that a query with a target reuses what an earlier run of its pipeline measured on this
  file instead of profiling it again.

The worker seeds its database with them (cached values only if the file's content is still
the one they were computed on), runs the queries, and sends back the costs it measured and
the values it computed that the database did not hold, and the accuracy profiles it measured;
the coordinator writes them (costs replacing the same configuration's, values not written
twice, a pipeline's profile on the video replacing the older one), each apart from the user's
transaction as a query's are.

An accuracy profile is kept per video content, not for the run's table: each worker measures
it on its one video, and another video (another camera, another hour) is profiled on its own.
"""

from __future__ import annotations

import contextlib
import dataclasses
import typing as t
from collections.abc import Iterator
from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa

from vql.catalog import AccuracyProfile, Profile

if t.TYPE_CHECKING:
    from vql.session.engine import Engine


@dataclass(frozen=True, slots=True)
class CachedValues:
    """One function's cached values for one video content at one decode scale."""

    key: str
    function: str
    content: str
    scale: float
    frame_ids: np.ndarray
    values: pa.Array


@dataclass(frozen=True, slots=True)
class Knowledge:
    """Measured costs of the video table, and cached function values and accuracy profiles
    of one video."""

    profiles: tuple[Profile, ...] = ()
    cache: tuple[CachedValues, ...] = ()
    accuracy: tuple[AccuracyProfile, ...] = ()  # ``content``: the video's sha256

    def is_empty(self) -> bool:
        """Nothing to seed or to write."""
        return not self.profiles and not self.cache and not self.accuracy


def _cached(engine: Engine, content: str) -> tuple[CachedValues, ...]:
    """Every value the engine's result cache holds for ``content``."""
    if not engine.results.enabled:
        return ()
    entries = engine.measurements.run(
        """SELECT c.key, c.function, e.scale FROM vql_catalog.result_entries e
           JOIN vql_catalog.result_caches c USING (name) WHERE e.content = ?
           ORDER BY c.key, e.scale""", [content])
    found = []
    for key, function, scale in entries:
        cached = engine.results.load(str(key), [content], float(scale)).get(content)
        if cached is not None and len(cached.frame_ids):
            found.append(CachedValues(str(key), str(function), content, float(scale),
                                      cached.frame_ids, cached.values))
    return tuple(found)


@contextlib.contextmanager
def ctrl_c() -> Iterator[None]:
    """Ctrl-C during one of the coordinator's DuckDB queries is a KeyboardInterrupt, as it is
    anywhere else in the run (DuckDB stops the query and raises its own error instead)."""
    try:
        yield
    except (duckdb.InterruptException, RuntimeError) as error:
        if isinstance(error, duckdb.InterruptException) or "interrupted" in str(error).lower():
            raise KeyboardInterrupt from error
        raise


def known(engine: Engine, table: str, path: str) -> Knowledge:
    """What the coordinator's database holds for a job: the table's costs, and the cached
    values of the content ``path`` had when the database last saw it."""
    with ctrl_c():
        rows = engine.measurements.run(
            "SELECT sha256 FROM vql_catalog.videos WHERE path = ? ORDER BY video_id DESC "
            "LIMIT 1", [path])
        content = str(rows[0][0]) if rows else None
        cache = _cached(engine, content) if content else ()
        accuracy = tuple(engine.measurements.video_accuracy(content)) if content else ()
        return Knowledge(tuple(engine.measurements.profiles(table)), cache, accuracy)


def seed(engine: Engine, table: str, content: str, knowledge: Knowledge) -> None:
    """A worker's database learns what the coordinator sent (values only for ``content``,
    the file's content now)."""
    if knowledge.profiles:
        engine.measurements.save_profiles(table, knowledge.profiles)
    now = engine.catalog.content(table)  # what the worker's table holds: this video
    for pipeline, measured in _by_pipeline(knowledge.accuracy).items():
        if all(p.content == content for p in measured):
            engine.measurements.save_accuracy(
                table, pipeline, [dataclasses.replace(p, table=table, content=now)
                                  for p in measured])
    if not engine.results.enabled:
        return
    for entry in knowledge.cache:
        if entry.content == content:
            engine.results.stage(entry.key, entry.function, entry.values.type, entry.content,
                                 entry.scale, entry.frame_ids, entry.values)
    engine.results.flush()


def learned(engine: Engine, table: str, content: str, sent: Knowledge) -> Knowledge:
    """What a worker's database holds now that the coordinator did not send: costs measured
    here, values computed here (an entry with more frames than the one sent), accuracy
    profiles measured here (a pipeline's that differs from the one sent)."""
    engine.results.flush()  # the last query's values
    before = {_profile_key(p): p.ms_per_frame for p in sent.profiles}
    profiles = tuple(p for p in engine.measurements.profiles(table)
                     if before.get(_profile_key(p)) != p.ms_per_frame)
    frames = {(e.key, e.scale): len(e.frame_ids) for e in sent.cache if e.content == content}
    cache = tuple(e for e in _cached(engine, content)
                  if len(e.frame_ids) > frames.get((e.key, e.scale), 0))
    sent_accuracy = {k: _measured(v) for k, v in _by_pipeline(sent.accuracy).items()}
    accuracy = tuple(
        dataclasses.replace(p, table="", content=content)
        for pipeline, measured in _by_pipeline(engine.measurements.accuracy_profiles(table)).items()
        if _measured(measured) != sent_accuracy.get(pipeline) for p in measured)
    return Knowledge(profiles, cache, accuracy)


def store(engine: Engine, table: str, knowledge: Knowledge) -> None:
    """The coordinator writes what a worker learned: costs replacing the same configuration's
    (apart from the user's transaction), values staged and written once."""
    with ctrl_c():
        if knowledge.profiles:
            profiles = knowledge.profiles
            engine.measurements.apart(
                lambda: engine.measurements.save_profiles(table, profiles))
        if knowledge.cache and engine.results.enabled:
            for entry in knowledge.cache:
                engine.results.stage(entry.key, entry.function, entry.values.type,
                                     entry.content, entry.scale, entry.frame_ids, entry.values)
            engine.results.flush()
        if knowledge.accuracy:
            grouped = _by_pipeline(knowledge.accuracy)

            def save_accuracy() -> None:
                for pipeline, measured in grouped.items():
                    engine.measurements.save_video_accuracy(measured[0].content, pipeline,
                                                            measured)

            engine.measurements.apart(save_accuracy)


def _by_pipeline(profiles: t.Iterable[AccuracyProfile]) -> dict[str, list[AccuracyProfile]]:
    grouped: dict[str, list[AccuracyProfile]] = {}
    for profile in profiles:
        grouped.setdefault(profile.pipeline, []).append(profile)
    return grouped


def _measured(profiles: list[AccuracyProfile]) -> set[tuple[t.Any, ...]]:
    """What tells one measurement of a pipeline's profile from another."""
    return {(p.knob, p.value, p.config, p.accuracy, str(p.measured_at)) for p in profiles}


def _profile_key(profile: Profile) -> tuple[t.Any, ...]:
    return (profile.operator, profile.variant, profile.device, profile.batch_size,
            profile.resolution)
