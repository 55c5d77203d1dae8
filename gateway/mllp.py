"""The MLLP listener: HL7 v2 over TCP, many messages per connection, many connections.

MLLP has no authentication of its own, so a listener serves one named
source: the network path to its port is what identifies the sender (put it
behind a VPN or a TLS tunnel). Each message is answered only after its raw
bytes are committed in the inbox: AA when it will be converted, AE with an
ERR segment naming the segment and field when it cannot be, AR when it is
not HL7 at all.
"""

from __future__ import annotations

import logging
import socketserver
from typing import Any

from adapters.hl7v2 import MLLPDecoder, MLLPError, frame
from records import ingest

__all__ = ["MLLPServer"]

log = logging.getLogger(__name__)


class _Handler(socketserver.BaseRequestHandler):
    server: MLLPServer

    def handle(self) -> None:
        decoder = MLLPDecoder()
        sock = self.request
        while True:
            try:
                chunk = sock.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            try:
                for raw in decoder.feed(chunk):
                    for result in ingest.receive_hl7v2(
                        self.server.store, self.server.source, bytes(raw)
                    ):
                        sock.sendall(frame(result.ack.encode("utf-8")))
                    self.server.after_write()
            except MLLPError as exc:
                log.warning("MLLP framing error from %s: %s", self.client_address, exc)
            except OSError:
                return


class MLLPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], ext: Any, source: str) -> None:
        self.store = ext.store
        self.source = source
        self.after_write = ext.ingesting.after_write
        super().__init__(address, _Handler)
