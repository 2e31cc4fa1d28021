"""The suite-wide guard in tests/conftest.py: loopback is reachable, anything else is refused at once."""

from __future__ import annotations

import socket
import threading

import pytest


def test_non_loopback_connect_is_refused_by_the_guard() -> None:
    with (
        socket.socket() as sock,
        pytest.raises(ConnectionRefusedError, match="tests may not reach the network"),
    ):
        sock.connect(("192.0.2.1", 443))  # TEST-NET-1: never routable


def test_loopback_connect_is_allowed() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        accepted: list[bool] = []
        thread = threading.Thread(target=lambda: accepted.append(bool(server.accept())))
        thread.start()
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
        thread.join(timeout=5)
    assert accepted == [True]
