"""Frame decoding with decord, guarded so that a stuck decoder becomes an error.

decord runs in C with the GIL released, so a decoder that never returns (seen with files whose
packets carry no usable timestamps) cannot be interrupted from Python. Each reader therefore
decodes in a daemon thread of its own and the caller waits at most ``timeout`` seconds per
call (``VQL_DECODE_TIMEOUT``); past that it raises ``VideoError`` and the reader is abandoned
(the daemon thread cannot keep the process alive)."""

from __future__ import annotations

import os
import queue
import threading
import typing as t

import numpy as np

from vql.errors import VideoError
from vql.exec.sequential import SequentialDecoder, reaches
from vql.video.probe import native_log

DEFAULT_TIMEOUT_S = 120.0


def default_timeout() -> float:
    """Seconds one decoder call may take: ``VQL_DECODE_TIMEOUT``, else 120."""
    raw = os.environ.get("VQL_DECODE_TIMEOUT", "").strip()
    return float(raw) if raw else DEFAULT_TIMEOUT_S


class FrameReader:
    """Decodes frames of one video file by index (RGB, H x W x 3 uint8)."""

    def __init__(self, path: str, threads: int, size: tuple[int, int] | None = None,
                 timeout: float | None = None, stop_read_ahead: bool = False):
        """``size``: (width, height) to decode at; None for the native size. ``timeout``:
        seconds one call may take (None: ``VQL_DECODE_TIMEOUT``, default 120).
        ``stop_read_ahead``: after every batch (a slow consumer: a model); see ``read``."""
        self.path = path
        self.stop_read_ahead = stop_read_ahead
        self.timeout = default_timeout() if timeout is None else timeout
        self._requests: queue.Queue[Request | None] = queue.Queue()
        self._stuck: str | None = None
        self._decoded_any = False  # whether any frame was decoded (see read_or_skip)
        # The thread holds the queue, not the reader, so a dropped reader ends it (__del__).
        self._thread = threading.Thread(target=_serve, args=(self._requests,),
                                        name=f"vql-decode {path}", daemon=True)
        self._thread.start()
        self._reader: t.Any = None
        # Behind a slow consumer, native frames in order come from PyAV (see sequential.py)
        # until a frame does not line up with decord's index; None: not opened yet
        self._in_order: SequentialDecoder | None = None
        self._in_order_wanted = stop_read_ahead and size is None
        width, height = size or (-1, -1)

        def open_reader() -> t.Any:
            import decord

            return decord.VideoReader(path, ctx=decord.cpu(0), num_threads=threads,
                                      width=width, height=height)

        self._open = open_reader
        self._reader = self._opened("opening it", "cannot open for decoding")

    def _opened(self, what: str, failure: str) -> t.Any:
        """A new decord reader of the file. What FFmpeg and decord print while it opens is
        caught (not shown on the terminal) and joins the error (see ``native_log``); the
        window is this thread's wait, so a stuck decoder ends it too."""
        with native_log() as said:
            try:
                return self._call(self._open, what)
            except VideoError:
                raise
            except Exception as error:  # the file went away or changed, or is not a video
                raise VideoError(self.path, f"{failure} ({error}){said.words()}") from error

    def _call(self, work: t.Callable[[], t.Any], what: str) -> t.Any:
        if self._stuck is not None:
            raise VideoError(self.path, f"its decoder is stuck since {self._stuck}")
        reply: queue.Queue[t.Any] = queue.Queue(maxsize=1)
        self._requests.put((work, reply))
        try:
            ok, value = reply.get(timeout=self.timeout)
        except queue.Empty:
            self._stuck = what
            raise VideoError(self.path, f"{what} did not finish within {self.timeout:g} s "
                                        "(VQL_DECODE_TIMEOUT): the decoder is stuck; the file "
                                        "may be damaged or its timestamps unusable") from None
        if not ok:
            raise value
        return value

    @property
    def fps(self) -> float:
        """The video's average frame rate."""
        return float(self._reader.get_avg_fps())

    def read(self, frame_ids: np.ndarray) -> np.ndarray:
        """The frames ``frame_ids`` (N x H x W x 3 uint8); VideoError if decoding fails or hangs."""
        what = f"decoding frames {int(frame_ids[0])}..{int(frame_ids[-1])}"
        ids = frame_ids.tolist()
        if self._in_order_wanted and ids:
            in_order = self._read_in_order(ids, what)
            if in_order is not None:
                return in_order
        # decord keeps decoding after a batch, into a queue without bound, until the next call
        # (dmlc/decord#157, #208): behind a slow consumer (a detector) it held the rest of the
        # video, about 1 MB a frame at 768x432. Seeking back to the start stops it; the next
        # batch then seeks to its first frame (from the keyframe before it: up to a GOP of
        # decoding more per batch), so it is done for a slow consumer only (a model), when
        # PyAV cannot read the frames in order instead (a resolution knob, a jump, damage).
        stop = self.stop_read_ahead
        reader = self._reader

        def decode() -> np.ndarray:
            frames = reader.get_batch(ids).asnumpy()
            if stop:
                reader.seek(0)
            return t.cast(np.ndarray, frames)

        try:
            return t.cast(np.ndarray, self._call(decode, what))
        except VideoError:
            raise
        except Exception as error:
            raise VideoError(self.path, f"{what} failed ({error})") from error

    def _read_in_order(self, ids: list[int], what: str) -> np.ndarray | None:
        """The frames ``ids`` from the sequential decoder, or None where it cannot give them:
        not reachable from where it is, or no longer of use (then it is dropped for good)."""
        if not reaches(ids, 0 if self._in_order is None else self._in_order.next):
            return None
        reader = self._reader

        def decode() -> np.ndarray | None:
            if self._in_order is None:  # a frame may be half a frame off its expected time
                self._in_order = SequentialDecoder(self.path, 0.5 / float(reader.get_avg_fps()))
            return self._in_order.read(ids, reader.get_frame_timestamp(np.asarray(ids))[:, 0])

        try:
            frames = self._call(decode, what)
        except VideoError:
            if self._stuck is not None:
                raise
            frames = None
        except Exception:  # PyAV cannot open or read it: decord reads it from here on
            frames = None
        if frames is None:
            self._in_order_wanted, self._in_order = False, None
        return t.cast("np.ndarray | None", frames)

    def read_available(self, frame_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(frames, decoded): the frames that decode, and a mask over ``frame_ids`` of which
        did. A file damaged in its middle fails a whole batch in decord; the batch is split
        in halves until the frames that cannot be decoded are found (each is tried alone).
        A stuck decoder still raises."""
        try:
            frames = self.read(frame_ids)
            self._decoded_any = True
            return frames, np.ones(len(frame_ids), dtype=bool)
        except VideoError:
            if self._stuck is not None:
                raise
            # decord's reader is left in a state where frames far from the damage fail too:
            # each retry starts from a fresh one
            self._reader = self._opened("opening it again", "cannot open it again")
            if len(frame_ids) == 1:
                return np.empty((0, 0, 0, 3), dtype=np.uint8), np.zeros(1, dtype=bool)
        half = len(frame_ids) // 2
        first, first_ok = self.read_available(frame_ids[:half])
        second, second_ok = self.read_available(frame_ids[half:])
        parts = [part for part in (first, second) if len(part)]
        frames = np.concatenate(parts) if parts else first
        return frames, np.concatenate([first_ok, second_ok])

    def read_or_skip(self, frame_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``read_available``, except that when no frame of the batch decodes and this
        reader has decoded none yet, its first frame is tried (LOAD decoded it): if that
        fails too, the failure is not damage (a size decord cannot produce, a file it cannot
        read) and the batch's error is raised."""
        try:
            frames = self.read(frame_ids)
        except VideoError as error:
            if self._stuck is not None:
                raise
            frames, decoded = self.read_available(frame_ids)
            if not decoded.any() and not self._decoded_any:
                try:
                    self.read(np.zeros(1, dtype=np.int64))
                except VideoError:
                    raise error from None
                self._decoded_any = True
            return frames, decoded
        self._decoded_any = True
        return frames, np.ones(len(frame_ids), dtype=bool)

    def close(self) -> None:
        """Stops the decoding thread (a stuck one is left to end with the process)."""
        self._requests.put(None)

    def __del__(self) -> None:
        requests = getattr(self, "_requests", None)
        if requests is not None:
            requests.put(None)


Request = tuple[t.Callable[[], t.Any], "queue.Queue[t.Any]"]


def _serve(requests: queue.Queue[Request | None]) -> None:
    while True:
        request = requests.get()
        if request is None:
            return
        work, reply = request
        try:
            reply.put((True, work()))
        except BaseException as error:  # handed to the caller, raised there
            reply.put((False, error))
        # Hold nothing between calls: the work refers to the reader, and a reader still
        # referred to here would never be dropped (nor its thread ended).
        del request, work, reply
