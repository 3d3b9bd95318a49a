"""The client address a request counts as, for rate limits.

Behind a load balancer or when a storefront's server calls on behalf of its
customers, `REMOTE_ADDR` is the proxy's address. Only when it is one of the
merchant's `trusted_proxies` do we believe `X-Forwarded-For`, and then only the
hops those proxies appended: the rightmost address that is not itself a trusted
proxy is the client (anything left of it could be forged by the client).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from django.http import HttpRequest

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _address(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    value = value.strip()
    if value.startswith("[") and "]" in value:  # "[::1]:443"
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:  # "203.0.113.7:5123"
        value = value.split(":")[0]
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def _trusted(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address, networks: Iterable[Network]
) -> bool:
    return any(
        address in network for network in networks if address.version == network.version
    )


def client_ip(
    request: HttpRequest, trusted_proxies: Iterable[Network] = ()
) -> str | None:
    """Return the address to count this request as; None when there is none."""
    networks = tuple(trusted_proxies)
    remote = _address(request.META.get("REMOTE_ADDR") or "")
    if remote is None:
        return None
    if not networks or not _trusted(remote, networks):
        return str(remote)
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR") or ""
    # Bounded: a header with thousands of hops is not worth parsing.
    hops = [hop for hop in forwarded.split(",")[-20:] if hop.strip()]
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            # A malformed hop appended by a trusted proxy: stop at the proxy itself.
            return str(remote)
        if not _trusted(address, networks):
            return str(address)
        remote = address
    return str(remote)
