"""Pipelining: an operator whose input runs in a background thread, a few batches ahead.

Decoding (decord) and inference (onnxruntime) release the GIL, so with a ``PrefetchOp``
above the decoder the next batch is decoded while the functions run on this one. The queue
between the threads is bounded, so at most ``depth`` batches of pixels wait and memory stays
flat. An error in the input thread is raised in the consumer; when the consumer stops early
(a LIMIT, an error, Ctrl-C) the input thread is told to stop and is waited for.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from queue import Empty, Full, Queue

import pyarrow as pa

from vql.exec.context import ExecContext
from vql.exec.operators import UnaryOp

_POLL_S = 0.05
_JOIN_S = 1.0


@dataclass
class PrefetchOp(UnaryOp):
    """Runs its child in a background thread, up to ``depth`` batches ahead of the consumer."""

    depth: int = 2

    def describe(self) -> str:
        """That its input runs in a background thread, and how many batches ahead."""
        return f"Prefetch: its input runs in a background thread, up to {self.depth} batches ahead"

    def batches(self, ctx: ExecContext) -> Iterator[pa.RecordBatch]:
        """The child's batches, produced by a thread; its error is raised here."""
        buffer: Queue[tuple[str, object]] = Queue(self.depth)
        stop = threading.Event()

        def put(item: tuple[str, object]) -> bool:
            while not (stop.is_set() or ctx.stopping.is_set()):
                try:
                    buffer.put(item, timeout=_POLL_S)
                    return True
                except Full:
                    continue
            return False

        def produce() -> None:
            stream = self.child.batches(ctx)
            try:
                for batch in stream:
                    if not put(("batch", batch)):
                        return
                put(("end", None))
            except BaseException as error:  # handed to the consumer, raised there
                put(("error", error))
            finally:
                close = getattr(stream, "close", None)
                if close is not None:
                    close()

        worker = threading.Thread(target=produce, name="vql-prefetch", daemon=True)
        ctx.threads.append(worker)  # the statement's end waits for it (ExecContext.close)
        worker.start()
        try:
            while True:
                kind, item = buffer.get()
                if kind == "end":
                    return
                if kind == "error":
                    assert isinstance(item, BaseException)
                    raise item
                assert isinstance(item, pa.RecordBatch)
                yield item
        finally:
            stop.set()
            # Unblock a producer waiting on a full queue and wait for it, but not for ever: one
            # waiting for its own input (a section's feed, closed by the section's owner right
            # after this) stops by itself, or when the statement ends (ctx.stopping).
            deadline = time.monotonic() + _JOIN_S
            while worker.is_alive() and time.monotonic() < deadline:
                with contextlib.suppress(Empty):
                    buffer.get_nowait()
                worker.join(_POLL_S)
