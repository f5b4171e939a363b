"""Live video sources: cameras and streams read with PyAV (FFmpeg), which speaks RTSP, RTMP, SRT,
UDP, TCP, HTTP(S) and HLS; decord, which VQL reads files with, reads none of them.

A ``LiveSource`` decodes in a thread of its own into a bounded queue of frames. When the
queue is full the oldest frame is dropped and counted (a live query wants the newest frames,
and memory stays bounded whatever the stream's length). A stream that drops is reconnected
with exponential back-off; each connection, drop and gap is a ``StreamEvent`` for the catalog's
``stream_events`` table. A stream that never connects fails with one ``VideoError``.

Frame numbers and times run on across reconnections: ``frame_id`` counts the frames the source
decoded (a dropped frame keeps its number, so a gap in ``frame_id`` shows a drop) and ``ts`` is
seconds from the first frame, by the stream's presentation times, plus the wall-clock length of
each gap.
"""

from __future__ import annotations

import contextlib
import threading
import time
import typing as t
from collections import deque
from dataclasses import dataclass
from urllib.parse import urlsplit

import numpy as np

from vql.errors import VideoError

# URL schemes FFmpeg reads as live streams (http(s) includes HLS playlists).
LIVE_SCHEMES = frozenset({"rtsp", "rtsps", "rtmp", "rtmps", "rtmpt", "srt", "udp", "tcp",
                          "rtp", "http", "https", "hls"})
QUEUE_FRAMES = 64       # frames held per source before the oldest is dropped
CONNECT_TIMEOUT_S = 10.0  # a stream that never connects within this is an error
READ_TIMEOUT_S = 5.0    # no data for this long: the connection is dropped and made again
BACKOFF_S = (0.25, 8.0)  # first and longest wait between reconnection attempts


def is_live(source: str) -> bool:
    """Whether ``source`` names a live stream or capture device rather than files."""
    scheme = urlsplit(source).scheme.lower()
    return scheme in LIVE_SCHEMES or source.startswith("/dev/video")


def _open(url: str, open_s: float, read_s: float) -> t.Any:
    """An FFmpeg input for ``url``: RTSP over TCP (UDP loses packets on busy networks), a
    Linux capture device through video4linux2."""
    import av

    # FFmpeg reads 5 s of a stream (MPEG-TS: about 1.5 s here) to find its codecs before it
    # gives the first frame; a live query wants it sooner
    options: dict[str, str] = {"analyzeduration": "300000"}
    kind = None
    scheme = urlsplit(url).scheme.lower()
    if scheme in ("rtsp", "rtsps") and "rtsp_transport" not in url:
        options["rtsp_transport"] = "tcp"
    if scheme == "udp":
        options["overrun_nonfatal"] = "1"
    if url.startswith("/dev/video"):
        kind = "video4linux2"
    return av.open(url, format=kind, options=options, timeout=(open_s, read_s))


@dataclass(frozen=True, slots=True)
class StreamInfo:
    """What probing a stream found: its frame rate, size and codec."""

    url: str
    fps: float
    width: int
    height: int
    codec: str


def probe_stream(url: str, timeout_s: float = CONNECT_TIMEOUT_S, frames: int = 12) -> StreamInfo:
    """Connect to ``url`` and decode a few frames: the frame rate (measured from their
    presentation times where the stream does not declare one), size and codec. A stream that
    gives no frame within ``timeout_s`` is a ``VideoError``."""
    started = time.monotonic()
    container = connect(url, timeout_s)
    try:
        if not container.streams.video:
            raise VideoError(url, "the stream carries no video")
        stream = container.streams.video[0]
        times: list[float] = []
        width = height = 0
        try:
            for frame in container.decode(stream):
                width, height = frame.width, frame.height
                if frame.time is not None:
                    times.append(float(frame.time))
                if len(times) >= frames or time.monotonic() - started > timeout_s:
                    break
        except Exception as error:
            raise VideoError(url, f"the stream could not be read ({_reason(error)})") from error
        if not width:
            raise VideoError(url, f"no frame arrived within {timeout_s:g} s")
        declared = float(stream.average_rate) if stream.average_rate else 0.0
        fps = declared or _measured_fps(times)
        return StreamInfo(url, round(fps, 3), width, height, stream.codec_context.name)
    finally:
        container.close()


def connect(url: str, timeout_s: float) -> t.Any:
    """An open FFmpeg input for ``url``, tried again with back-off (a camera or sender that is
    starting refuses for a moment) until ``timeout_s`` has passed: then a ``VideoError``."""
    started, delay = time.monotonic(), BACKOFF_S[0]
    while True:
        left = timeout_s - (time.monotonic() - started)
        try:
            return _open(url, max(left, 0.1), min(max(left, 0.1), READ_TIMEOUT_S))
        except Exception as error:  # FFmpeg's errors: refused, timed out, bad URL, unknown format
            if isinstance(error, ValueError) or time.monotonic() - started + delay > timeout_s:
                raise VideoError(url, f"could not connect to the stream within {timeout_s:g} s "
                                      f"({_reason(error)})") from error
            time.sleep(delay)
            delay = min(delay * 2, BACKOFF_S[1])


def _measured_fps(times: list[float]) -> float:
    steps = np.diff(np.asarray(sorted(times)))
    steps = steps[steps > 0]
    return float(1.0 / np.median(steps)) if len(steps) else 0.0


def _reason(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.replace("\n", " ")


@dataclass(frozen=True, slots=True)
class LiveFrame:
    """One decoded frame of a live source."""

    frame_id: int
    ts: float            # seconds from the source's first frame (see the module docstring)
    arrived: float       # when it was decoded: time.time()
    pixels: np.ndarray   # H x W x 3 RGB


@dataclass(frozen=True, slots=True)
class StreamEvent:
    """A change in a live source's connection, for ``vql_catalog.stream_events``."""

    url: str
    event: str           # connected, disconnected, reconnected, failed
    at: float            # time.time()
    frame_id: int        # the next frame's number
    gap_s: float = 0.0   # for reconnected: seconds without frames
    detail: str = ""


@dataclass
class SourceStats:
    """What a live source has done so far, for one reader of it."""

    frames_in: int = 0       # frames decoded
    frames_dropped: int = 0  # ... dropped because the reader's queue was full
    reconnects: int = 0


class Subscription:
    """One reader's view of a live source: a queue of at most ``queue_frames`` frames (the
    oldest dropped when full), its events, and frame numbers and times counted from the first
    frame it received."""

    def __init__(self, source: LiveSource, queue_frames: int):
        self.source = source
        self.queue_frames = queue_frames
        self.stats = SourceStats()
        self._frames: deque[LiveFrame] = deque()
        self._events: list[StreamEvent] = []
        self._base: tuple[int, float] | None = None  # the first frame's number and time

    def take(self, most: int, wait_s: float) -> list[LiveFrame]:
        """Up to ``most`` frames in arrival order, waiting up to ``wait_s`` for the first;
        [] if none came. Raises the source's ``VideoError`` if it never connected."""
        ready = self.source._ready
        with ready:
            if not self._frames and self.source._failure is None:
                ready.wait(wait_s)
            if self.source._failure is not None and not self._frames:
                raise self.source._failure
            count = min(most, len(self._frames))
            return [self._frames.popleft() for _ in range(count)]

    def waiting(self) -> int:
        """Frames in the queue, not taken yet."""
        return len(self._frames)

    def events(self) -> list[StreamEvent]:
        """The connection events since the last call."""
        with self.source._ready:
            found, self._events = self._events, []
        return found

    def close(self) -> None:
        """Stop reading; the source stops when its last reader does."""
        self.source._unsubscribe(self)

    def _offer(self, frame: LiveFrame) -> None:
        """Queue ``frame`` (under the source's lock), renumbered for this reader."""
        if self._base is None:
            self._base = (frame.frame_id, frame.ts)
        mine = LiveFrame(frame.frame_id - self._base[0], round(frame.ts - self._base[1], 6),
                         frame.arrived, frame.pixels)
        if len(self._frames) >= self.queue_frames:
            self._frames.popleft()
            self.stats.frames_dropped += 1
        self._frames.append(mine)
        self.stats.frames_in += 1

    def _event(self, event: StreamEvent) -> None:
        frame_id = event.frame_id - (self._base[0] if self._base else event.frame_id)
        self._events.append(StreamEvent(event.url, event.event, event.at, frame_id,
                                        event.gap_s, event.detail))
        if event.event == "reconnected":
            self.stats.reconnects += 1


@dataclass
class LiveSource:
    """Frames of one live stream, decoded in a thread and handed to each reader's queue
    (``subscribe``; the source itself reads as one of them with ``queue_frames``, from its
    first frame: ``take``, ``events``, ``stats``)."""

    url: str
    queue_frames: int = QUEUE_FRAMES
    connect_timeout_s: float = CONNECT_TIMEOUT_S
    read_timeout_s: float = READ_TIMEOUT_S
    backoff_s: tuple[float, float] = BACKOFF_S

    def __post_init__(self) -> None:
        self._ready = threading.Condition()
        self._stop = threading.Event()
        self._failure: VideoError | None = None
        self._thread: threading.Thread | None = None
        self._frames_in = 0
        self._offset = 0.0          # ts of the current connection's first frame
        self._first_wall: float | None = None
        self._last_wall: float | None = None
        self._last_ts = 0.0
        self._own = Subscription(self, self.queue_frames)
        self._readers: list[Subscription] = [self._own]
        self._shared = False  # readers come and go (``shared``): the last one closes it

    @property
    def stats(self) -> SourceStats:
        """What the source gave its own reader."""
        return self._own.stats

    def start(self) -> LiveSource:
        """Start decoding in the background; returns itself."""
        self._thread = threading.Thread(target=self._run, name=f"vql-live {self.url}",
                                        daemon=True)
        self._thread.start()
        return self

    def subscribe(self, queue_frames: int) -> Subscription:
        """A new reader, from the next frame on."""
        reader = Subscription(self, queue_frames)
        with self._ready:
            self._readers.append(reader)
        return reader

    def take(self, most: int, wait_s: float) -> list[LiveFrame]:
        """The source's own reader's next frames (``Subscription.take``)."""
        return self._own.take(most, wait_s)

    def events(self) -> list[StreamEvent]:
        """The source's own reader's events since the last call."""
        return self._own.events()

    def close(self) -> None:
        """Stop decoding. The thread ends within a read timeout; it is not waited for."""
        self._stop.set()
        with self._ready:
            self._ready.notify_all()

    @property
    def failed(self) -> bool:
        """Whether it gave up (it never connected)."""
        return self._failure is not None

    def _unsubscribe(self, reader: Subscription) -> None:
        with self._ready:
            if reader in self._readers:
                self._readers.remove(reader)
            last = self._shared and self._readers == [self._own]
        if last:
            _release(self)

    # --- the decoding thread -----------------------------------------------------------------

    def _run(self) -> None:
        delay = self.backoff_s[0]
        started = time.monotonic()
        connected_once = False
        while not self._stop.is_set():
            try:
                container = _open(self.url, self.connect_timeout_s, self.read_timeout_s)
            except Exception as error:  # refused, timed out: try again after a pause
                if not connected_once and time.monotonic() - started >= self.connect_timeout_s:
                    self._fail(f"could not connect to the stream within "
                               f"{self.connect_timeout_s:g} s ({_reason(error)})")
                    return
                self._stop.wait(delay)
                delay = min(delay * 2, self.backoff_s[1])
                continue
            if not connected_once:
                self._event("connected", "")
            connected_once = True
            delay = self.backoff_s[0]
            try:
                reason = self._decode(container)
            finally:
                with contextlib.suppress(Exception):
                    container.close()
            if not self._stop.is_set():
                self._event("disconnected", reason)

    def _decode(self, container: t.Any) -> str:
        """Decode until the stream ends, fails or the source is closed; why it stopped."""
        if not container.streams.video:
            return "the stream carries no video"
        stream = container.streams.video[0]
        stream.thread_type = "SLICE"  # frame threads would hold frames back: latency
        first: float | None = None
        try:
            for frame in container.decode(stream):
                if self._stop.is_set():
                    return "closed"
                now = time.time()
                pts = float(frame.time) if frame.time is not None else None
                if first is None:
                    first = pts if pts is not None else 0.0
                    self._first_frame(now)
                ts = self._offset + ((pts - first) if pts is not None else 0.0)
                ts = max(ts, self._last_ts)  # times never run backwards within a source
                self._push(LiveFrame(self._frames_in, round(ts, 6), now,
                                     frame.to_ndarray(format="rgb24")))
        except Exception as error:  # a timeout or a broken stream: reconnect
            return _reason(error)
        return "the stream ended"

    def _first_frame(self, arrived: float) -> None:
        """At a connection's first frame: on a reconnection, the gap since the last frame
        (later frames' times start after it) and its event."""
        if self._first_wall is None:
            self._first_wall = arrived
            return
        gap = max(arrived - (self._last_wall or arrived), 0.0)
        self._offset = self._last_ts + gap
        self._event("reconnected", f"after {gap:.1f} s without frames", gap)

    def _push(self, frame: LiveFrame) -> None:
        with self._ready:
            for reader in self._readers:
                reader._offer(frame)
            self._frames_in += 1
            self._last_wall, self._last_ts = frame.arrived, frame.ts
            self._ready.notify_all()

    def _event(self, kind: str, detail: str, gap_s: float = 0.0) -> None:
        event = StreamEvent(self.url, kind, time.time(), self._frames_in, gap_s, detail)
        with self._ready:
            for reader in self._readers:
                reader._event(event)

    def _fail(self, reason: str) -> None:
        self._event("failed", reason)
        with self._ready:
            self._failure = VideoError(self.url, reason)
            self._ready.notify_all()


# --- one source per stream in a process ----------------------------------------------------

_SHARED: dict[str, LiveSource] = {}
_SHARED_LOCK = threading.Lock()


def shared(url: str, queue_frames: int = QUEUE_FRAMES,
           connect_timeout_s: float = CONNECT_TIMEOUT_S) -> Subscription:
    """A reader of the stream at ``url``, from one source per stream in this process: the
    queries reading one camera share its connection and decoding (a camera, and VQL's own
    sender, may serve one connection only). Close the reader when done; the last one closes
    the source."""
    with _SHARED_LOCK:
        source = _SHARED.get(url)
        if source is None or source.failed or source._stop.is_set():
            source = LiveSource(url, 1, connect_timeout_s)
            source._shared = True
            _SHARED[url] = source
            source.start()
        return source.subscribe(queue_frames)


def _release(source: LiveSource) -> None:
    with _SHARED_LOCK:
        if _SHARED.get(source.url) is source:
            del _SHARED[source.url]
    source.close()
