"""Which hosts are this machine: the one loopback rule every part of ivsecrets applies.

A token may go over plain http to this machine (a test server, a node-local agent) but nowhere
else; the Intercom API URL, the AWS Secrets Manager Agent's endpoint and the Vault store's
plain-http warning all ask :func:`is_loopback`.
"""

from __future__ import annotations

import ipaddress

__all__ = ["is_loopback"]


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a URL's host name, brackets allowed) names this machine.

    ``localhost`` (any case), or an IP address literal in a loopback range (127.0.0.0/8, ::1).
    Other names are not resolved: a name that resolves to 127.0.0.1 today may not tomorrow.

    >>> [is_loopback(h) for h in ("localhost", "127.0.0.2", "[::1]", "::1", "10.0.0.1")]
    [True, True, True, True, False]
    >>> is_loopback("localhost.example.com")
    False
    """
    host = host.removeprefix("[").removesuffix("]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
