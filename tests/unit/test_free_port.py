"""Free ports for embedded parts and test servers come from below the kernel's ephemeral range,
so that no outgoing connection can take one between the moment it is found and the moment it
is bound."""

from __future__ import annotations

import socket

from shared.embedded import ephemeral_ports, free_port


def test_a_free_port_lies_below_the_ephemeral_range_and_can_be_bound() -> None:
    for _ in range(50):
        port = free_port()
        assert 10000 <= port < ephemeral_ports().start
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))


def test_a_port_in_use_is_never_handed_out() -> None:
    taken = []
    try:
        for _ in range(200):
            sock = socket.socket()
            sock.bind(("127.0.0.1", free_port()))
            sock.listen()
            taken.append(sock)
        ports = [sock.getsockname()[1] for sock in taken]
        assert len(set(ports)) == len(ports)
    finally:
        for sock in taken:
            sock.close()


def test_the_ephemeral_range_is_the_kernels() -> None:
    ports = ephemeral_ports()
    assert 1024 <= ports.start < ports.stop <= 65536
