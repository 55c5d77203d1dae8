"""MLLP (Minimal Lower Layer Protocol, release 1/2 framing) without sockets.

A frame is ``0x0B <message> 0x1C 0x0D``. The listener owns the socket and
feeds whatever ``recv`` returned to an ``MLLPDecoder``; keeping the framing
pure makes split frames, several frames per read and garbage between frames
testable without a network.
"""

from __future__ import annotations

from collections.abc import Iterator

__all__ = [
    "END_BLOCK",
    "START_BLOCK",
    "MLLPDecoder",
    "MLLPError",
    "MLLPFrameTooLarge",
    "frame",
    "unframe",
]

START_BLOCK = b"\x0b"
END_BLOCK = b"\x1c\r"
_VT = 0x0B
_FS = 0x1C
_WHITESPACE = b" \t\r\n"


class MLLPError(ValueError):
    """The bytes are not (or cannot be made) a well-formed MLLP frame."""


class MLLPFrameTooLarge(MLLPError):
    """A frame grew past the decoder's limit; its bytes were discarded."""


def frame(message: bytes) -> bytes:
    """Wrap one message for the wire.

    Refuses a message that contains a block character: the receiver would
    cut it in two.
    """
    if START_BLOCK in message or b"\x1c" in message:
        raise MLLPError("the message contains an MLLP block character (0x0B or 0x1C)")
    return START_BLOCK + message + END_BLOCK


def unframe(data: bytes) -> bytes:
    """The message inside exactly one frame (the trailing CR may be missing)."""
    if not data.startswith(START_BLOCK):
        raise MLLPError("an MLLP frame starts with 0x0B")
    end = data.find(b"\x1c")
    if end < 0:
        raise MLLPError("the MLLP frame has no end block (0x1C)")
    if data[end + 1 :] not in (b"", b"\r"):
        raise MLLPError("bytes follow the MLLP end block")
    message = data[1:end]
    if START_BLOCK in message:
        raise MLLPError("a second start block (0x0B) inside the frame")
    return message


class MLLPDecoder:
    """Turns a stream of received chunks into whole messages.

    ``feed(chunk)`` stores the chunk at once and returns an iterator over the
    messages now complete; messages not taken from it stay buffered for the
    next call. Bytes outside frames are dropped (whitespace silently, the
    rest counted in ``discarded`` for the log). A start block inside a frame
    means the sender gave up on the previous one: its partial bytes are
    dropped too. A frame larger than ``max_frame_bytes`` raises
    ``MLLPFrameTooLarge`` from the iterator, is dropped, and decoding carries
    on after it, so a listener may answer and keep the connection.
    """

    def __init__(self, max_frame_bytes: int = 16 * 1024 * 1024) -> None:
        if max_frame_bytes < 1:
            raise ValueError("max_frame_bytes must be positive")
        self._max = max_frame_bytes
        self._buffer = bytearray()
        self._in_frame = False  # the buffer holds a frame's content (its 0x0B already removed)
        self._skipping = False  # dropping the rest of an oversized frame
        self._scan = 0  # where to resume looking for the end block
        self._discarded = 0

    @property
    def discarded(self) -> int:
        """Bytes dropped so far, not counting whitespace between frames."""
        return self._discarded

    @property
    def in_frame(self) -> bool:
        """A frame has started and not ended: closing the connection now loses it."""
        return self._in_frame or self._skipping

    def feed(self, chunk: bytes) -> Iterator[bytes]:
        self._buffer += chunk
        return self._drain()

    def _drain(self) -> Iterator[bytes]:
        buf = self._buffer
        while buf:
            if self._skipping:
                end = buf.find(_FS)
                if end < 0:
                    self._discarded += len(buf)
                    buf.clear()
                    return
                self._discarded += end + 1
                del buf[: end + 1]
                self._skipping = False
                continue
            if not self._in_frame:
                start = buf.find(_VT)
                outside = buf if start < 0 else buf[:start]
                self._discarded += len(bytes(outside).translate(None, _WHITESPACE))
                if start < 0:
                    buf.clear()
                    return
                del buf[: start + 1]
                self._in_frame = True
                self._scan = 0
            end = buf.find(_FS, self._scan)
            restart = buf.find(_VT, self._scan, len(buf) if end < 0 else end)
            if restart >= 0:
                self._discarded += restart
                del buf[: restart + 1]
                self._scan = 0
                continue
            if end < 0:
                if len(buf) > self._max:
                    size = len(buf)
                    self._discarded += size
                    buf.clear()
                    self._in_frame = False
                    self._skipping = True
                    raise MLLPFrameTooLarge(f"frame exceeds {self._max} bytes ({size} so far)")
                self._scan = len(buf)
                return
            self._in_frame = False
            self._scan = 0
            if end > self._max:
                self._discarded += end + 1
                del buf[: end + 1]
                raise MLLPFrameTooLarge(f"frame of {end} bytes exceeds {self._max} bytes")
            message = bytes(buf[:end])
            del buf[: end + 1]
            yield message
