"""The error of a request the Open Inference Protocol rejects (shared by ``protocol`` and
``binary``, which also reads the protocol's requests)."""

from __future__ import annotations


class ProtocolError(Exception):
    """A request the protocol rejects: ``status`` and a one-line ``message``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def bad(message: str) -> ProtocolError:
    return ProtocolError(400, message)
