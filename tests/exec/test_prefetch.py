"""Pipelining: decoding ahead in a background thread returns exactly what decoding in line
does, stops when the consumer stops, and raises the input thread's errors in the consumer."""

from __future__ import annotations

import dataclasses
import os
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pytest

import vql
from vql.exec.context import ExecContext
from vql.exec.operators import FeedOp
from vql.exec.prefetch import PrefetchOp
from vql.settings import Settings


def connect(video: Path, prefetch: int) -> vql.Connection:
    settings = dataclasses.replace(Settings.from_env(), cache_mb=0, prefetch=prefetch)
    con = vql.connect(":memory:", settings=settings)
    con.execute("LOAD VIDEO ? INTO intersection", [str(video)])
    return con


@pytest.mark.parametrize("sql", [
    "SELECT frame_id, brightness, motion(frame) AS m FROM intersection WHERE frame_id % 3 = 0",
    "SELECT frame_id, moving_objects(frame) FROM intersection",  # a stateful function, in order
])
def test_prefetching_returns_what_decoding_in_line_returns(road_video: Path, sql: str) -> None:
    with connect(road_video, 0) as inline, connect(road_video, 2) as ahead:
        plan = "\n".join(r[0] for r in ahead.execute("EXPLAIN " + sql).fetchall())
        assert "Prefetch" in plan
        assert ahead.execute(sql).fetchall() == inline.execute(sql).fetchall()


def test_a_model_pipeline_decodes_in_line(road_video: Path) -> None:
    """Decoding ahead in a thread of its own held about 0.5 GB more at a detection query's
    peak, for a few per cent of its time (bench/memory.py): a model's pipeline decodes in
    line, and stops decord reading ahead after each batch."""
    with connect(road_video, 2) as con:
        sql = "SELECT frame_id FROM intersection WHERE has_object(frame, 'car')"
        plan = "\n".join(r[0] for r in con.execute("EXPLAIN " + sql).fetchall())
        assert "Prefetch" not in plan and "Decode" in plan


@dataclass
class Source:
    """A stand-in input that counts what it produced and can fail."""

    fail_at: int | None = None
    produced: int = 0
    schema: pa.Schema = dataclasses.field(default_factory=lambda: pa.schema([("i", pa.int64())]))
    children: tuple = ()

    def describe(self) -> str:
        return "source"

    def batches(self, ctx: ExecContext) -> Iterator[pa.RecordBatch]:
        for i in range(1000):
            if i == self.fail_at:
                raise ValueError("the input broke")
            self.produced += 1
            yield pa.record_batch([pa.array([i])], schema=self.schema)


def test_a_consumer_that_stops_early_stops_the_input_thread() -> None:
    source = Source()
    stream = PrefetchOp(source, depth=2).batches(ExecContext(Settings()))
    assert [next(stream).column(0)[0].as_py() for _ in range(3)] == [0, 1, 2]
    stream.close()
    assert source.produced <= 3 + 2 + 1  # what was read, the queue, one in hand
    assert not [t for t in threading.enumerate() if t.name == "vql-prefetch"]


def test_an_error_in_the_input_thread_is_raised_in_the_consumer() -> None:
    stream = PrefetchOp(Source(fail_at=5), depth=2).batches(ExecContext(Settings()))
    with pytest.raises(ValueError, match="the input broke"):
        list(stream)


def test_an_interrupt_while_waiting_for_a_section_does_not_hang() -> None:
    """Ctrl-C while the consumer waits and the input thread waits on a section's feed (which
    its owner closes only after this unwinds): the consumer gives up waiting in bounded time,
    and the thread stops when the statement ends."""
    ctx = ExecContext(Settings())
    feed = FeedOp(pa.schema([("i", pa.int64())]))
    stream = PrefetchOp(feed, depth=2).batches(ctx)
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT)).start()  # a real Ctrl-C
        next(stream)
    assert time.monotonic() - started < 5
    ctx.close()
    deadline = time.monotonic() + 5
    while any(t.name == "vql-prefetch" for t in threading.enumerate()):
        assert time.monotonic() < deadline, "the input thread did not stop"
        time.sleep(0.05)
