"""
Limits per client over time, on the reactor's clock: L{RateLimit}, a token bucket per client
(the web lookups' limit), and L{client_key} / L{client_of}, what every per-address limit counts by.

Pure logic on an injected clock (anything with C{seconds()}: the reactor, or a test's
L{twisted.internet.task.Clock}); it schedules nothing, and its table has a bound.
"""

from __future__ import annotations

import ipaddress
import math
from collections import OrderedDict

# How many clients a limit remembers; past that, the one seen longest ago starts afresh.
MAX_CLIENTS = 65536


def ip_of(text: str):
    """An address as written in a header or a peer (IPv6 maybe in brackets), or None."""
    try:
        ip = ipaddress.ip_address(text.strip().removeprefix("[").removesuffix("]"))
    except ValueError:
        return None
    return getattr(ip, "ipv4_mapped", None) or ip


def client_key(host: str) -> str:
    """
    What the limits count by: an IPv4 address as it is; for IPv6 its /64 network, which one
    machine usually holds whole (C{2001:db8::1} is C{2001:db8::/64}).
    """
    ip = ip_of(host)
    if ip is None:
        return host
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def client_of(address: str) -> str:
    """
    L{client_key} of an address as L{examtwist.wire.format_address} writes it:
    C{127.0.0.1:38184} is C{127.0.0.1}, C{[2001:db8::1]:38184} is C{2001:db8::/64}.
    """
    if address.startswith("["):
        host = address[1:].partition("]")[0].partition("%")[0]
    else:
        host, colon, port = address.rpartition(":")
        if not (colon and port.isdigit()):
            host = address
    return client_key(host)


class RateLimit:
    """
    A token bucket per client: C{burst} at once, then one more every C{interval} seconds.
    Kept as the time at which each client's bucket is full again, so a full bucket is an
    absent entry. C{clock} is anything with C{seconds()}: the reactor, or a test's Clock.
    """

    def __init__(self, clock, burst: int, interval: float, size: int = MAX_CLIENTS) -> None:
        self._clock = clock
        self.burst = burst
        self.interval = interval
        self._size = size
        self._full_at: OrderedDict[str, float] = OrderedDict()

    def wait(self, client: str) -> int:
        """
        Take a token for C{client}: 0 if there was one; if not, nothing is taken and the answer
        is the whole seconds (at least 1) until there is one.
        """
        if not (self.burst and self.interval):
            return 0
        now = self._clock.seconds()
        full_at = max(self._full_at.pop(client, now), now)
        late = full_at + self.interval - now - self.burst * self.interval
        if late > 0:
            self._full_at[client] = full_at
            return max(1, math.ceil(late - 1e-9))
        self._full_at[client] = full_at + self.interval
        while self._full_at:
            oldest, at = next(iter(self._full_at.items()))
            if len(self._full_at) <= self._size and at > now:
                break
            del self._full_at[oldest]
        return 0

    def remembered(self) -> int:
        """How many clients are remembered: those whose bucket is not full."""
        return len(self._full_at)
