"""Serve a video file as a live stream, in real time: to try live queries without a camera, and
what VQL's tests and ``bench/live.py`` stream the shared videos with on the loopback interface.

    python -m vql.video.serve VIDEO URL [--loop] [--start SECONDS]

``URL`` is ``tcp://HOST:PORT`` (served: the receiver connects; MPEG-TS), ``udp://HOST:PORT``
(sent to a receiver listening there; MPEG-TS) or any URL FFmpeg can write to. Packets are
copied, not re-encoded, at the pace of their presentation times (as ``ffmpeg -re -c copy``).
A TCP sender waits for its receiver, and for the next one when a receiver leaves.
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import time
import typing as t
from urllib.parse import urlsplit


def free_port() -> int:
    """A TCP/UDP port of the loopback interface that nothing listens on now (for a sender
    started next: tests, bench/live.py)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(path: str, url: str, loop: bool = False, start_s: float = 0.0) -> None:
    """Send ``path`` to ``url`` in real time until it ends (or forever with ``loop``)."""
    served = url + ("?listen=1" if urlsplit(url).scheme == "tcp" and "listen" not in url else "")
    while True:
        try:
            _send(path, served, loop, start_s)
        except (BrokenPipeError, ConnectionResetError, OSError) as error:  # the receiver left
            if urlsplit(url).scheme != "tcp":
                raise
            print(f"receiver left ({error}); waiting for the next", flush=True)
            continue
        return


def _send(path: str, url: str, loop: bool, start_s: float) -> None:
    import av

    with av.open(url, "w", format="mpegts") as output:
        source = av.open(path)
        out_stream = output.add_stream_from_template(source.streams.video[0])
        clock = time.monotonic()
        offset = 0.0  # seconds of the stream already sent by earlier passes (with --loop)
        while True:
            sent = _pass(source, output, out_stream, clock, offset, start_s)
            source.close()
            if not loop:
                return
            offset += sent
            source = av.open(path)
            start_s = 0.0


def _pass(source: t.Any, output: t.Any, out_stream: t.Any, clock: float, offset: float,
          start_s: float) -> float:
    """One pass over the file from ``start_s``; the seconds it covered."""
    stream = source.streams.video[0]
    base = stream.time_base
    if start_s > 0:
        source.seek(int(start_s / base), stream=stream, backward=True)
    first: float | None = None
    last = 0.0
    for packet in source.demux(stream):
        if packet.pts is None or packet.dts is None:
            continue  # the demuxer's flush packet
        at = float(packet.pts * base)
        if first is None:
            first = at
        last = max(last, at - first)
        wait = clock + offset + (at - first) - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        shift = int(round(offset / base)) - int(round(first / base))
        packet.pts += shift
        packet.dts += shift
        packet.stream = out_stream
        output.mux(packet)
    return last + 1.0 / float(stream.average_rate or 25)


def main(argv: list[str] | None = None) -> None:
    """``python -m vql.video.serve VIDEO URL [--loop] [--start SECONDS]``."""
    parser = argparse.ArgumentParser(prog="python -m vql.video.serve", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("video")
    parser.add_argument("url")
    parser.add_argument("--loop", action="store_true", help="start again at the end, forever")
    parser.add_argument("--start", type=float, default=0.0, help="start this many seconds in")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        serve(args.video, args.url, args.loop, args.start)


if __name__ == "__main__":
    main()
