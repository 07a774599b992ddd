"""A clip's sound track, copied (not re-encoded) into a Matroska file of its own while the clip is
demuxed: what the audio plugin gets, instead of the whole clip. A 50 MB clip's speech is a few
hundred KB of AAC or Opus: a batch of posts holds that until the audio plugin's round, and the
audio plugin demuxes no video."""
from __future__ import annotations

import io
from typing import Any



class SoundTrack:
    """Packets of one audio stream muxed into Matroska (it holds AAC, MP3, Opus, Vorbis, FLAC, ALAC
    and PCM alike). Should copying fail (an odd stream), :meth:`bytes` says so with None and the
    whole clip goes to the audio plugin instead."""

    def __init__(self, stream: Any) -> None:
        import av  # PyAV at first use: a worker that never reads a clip (--lanes text) never loads it
        self.index = stream.index
        self._buf = io.BytesIO()
        self._out: Any = None
        self.packets = 0
        try:
            self._out = av.open(self._buf, "w", format="matroska")
            self._stream = self._out.add_stream_from_template(stream)
        except (av.FFmpegError, OSError, ValueError) as exc:
            self._fail(exc)

    def add(self, packet: Any) -> None:
        import av  # PyAV at first use: a worker that never reads a clip (--lanes text) never loads it
        if self._out is None or packet.dts is None:
            return
        try:
            packet.stream = self._stream
            self._out.mux(packet)
            self.packets += 1
        except (av.FFmpegError, OSError, ValueError) as exc:
            self._fail(exc)

    def bytes(self) -> bytes | None:
        """The Matroska file; None when copying failed or the stream had no packet."""
        import av  # PyAV at first use: a worker that never reads a clip (--lanes text) never loads it
        if self._out is None:
            return None
        try:
            self._out.close()
        except (av.FFmpegError, OSError, ValueError) as exc:
            self._fail(exc)
            return None
        self._out = None
        return self._buf.getvalue() if self.packets else None

    def _fail(self, exc: Exception) -> None:
        self.error = f"{type(exc).__name__}: {exc}"[:200]
        if self._out is not None:
            try:
                self._out.close()
            except Exception:  # noqa: BLE001 - already failing: the whole clip goes on instead
                pass
        self._out = None
