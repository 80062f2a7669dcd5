"""A busy port found before a server starts: one line naming the flag, not a web framework's traceback."""

from __future__ import annotations

import socket

from gdp_zero.validation import ConfigError


def check_port_free(host: str, port: int, flag: str = "--port") -> None:
    """ConfigError naming `flag` when another process listens on `host`:`port`.

    The test socket sets SO_REUSEADDR as uvicorn does, so a port left in TIME_WAIT by a server
    that just stopped counts as free (the server will get it), and only a listener counts as busy.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise ConfigError(
                f"port {port} on {host} is not free ({error.strerror}): another server listens there; "
                f"choose another with {flag}, e.g. {flag} {port + 1}"
            ) from None
