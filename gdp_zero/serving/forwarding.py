"""Whose word a server takes for a client's address: only the reverse proxies the operator names.

The per-address limits count the address a request comes from. Behind a reverse proxy every
request comes from the proxy, and the client's address is in the X-Forwarded-For header the
proxy adds. uvicorn believes that header from FORWARDED_ALLOW_IPS, by default 127.0.0.1 and ::1:
behind a proxy on this machine that passes the client's own header on unchanged (a bare
`proxy_pass`), a client could name any address and get around every limit. Here no one is
believed unless the operator names the proxies (`trusted_proxies`), and then only through
X-Forwarded-For, from its right end (the address the trusted proxy saw, whatever the client
put before it: nginx's `proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;`). A proxy
that sets only X-Real-IP is not read: all its clients then share its address.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Sequence

FORWARDED_ALLOW_IPS = "FORWARDED_ALLOW_IPS"  # read by uvicorn when a server starts


def checked_proxies(proxies: Sequence[str]) -> tuple[str, ...]:
    """The proxies as given, each an IP address or network; ValueError naming one that is not."""
    for proxy in proxies:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            raise ValueError(f"trusted proxy {proxy!r} is not an IP address or network (e.g. 127.0.0.1, 10.0.0.0/8)") from None
    return tuple(proxies)


def trust_forwarded_from(proxies: Sequence[str]) -> str:
    """Make the servers this process starts from now on believe X-Forwarded-For only from
    `proxies` (none: never); the value for uvicorn's `forwarded_allow_ips`."""
    value = ",".join(checked_proxies(proxies))  # "" matches no peer address
    os.environ[FORWARDED_ALLOW_IPS] = value
    return value
