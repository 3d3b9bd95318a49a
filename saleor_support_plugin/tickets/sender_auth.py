"""Whether an inbound email's From address is authenticated, from the receiving server's verdicts.

Anyone can write any From header. What proves it is what the mail provider
checked on receipt (SPF, DKIM, DMARC), passed to the webhook either as the
`Authentication-Results` header the provider added (RFC 8601) or as plain
verdicts. The sender counts as verified only when

- DMARC passes (for the From domain, when the result names it), or
- a DKIM signature passes whose signing domain (`d=`) is aligned with the From domain, or
- SPF passes for an envelope sender (`smtp.mailfrom`) whose domain is aligned.

Aligned means the same domain or a parent of it (`d=example.com` for
`alice@mail.example.com`): whoever controls a domain controls its subdomains.
A pass for some other domain proves nothing about the From address: anyone
can sign or send for a domain of their own.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

PASS = "pass"
MAX_HEADER_LENGTH = 8192

_PAIR = re.compile(r'([A-Za-z0-9_.\-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s;]+)')


@dataclass(frozen=True)
class SenderAuthentication:
    """Verdicts of the receiving server; empty: nothing is known."""

    dmarc: tuple[tuple[str, str], ...] = ()  # (result, header.from domain or "")
    dkim: tuple[tuple[str, str], ...] = ()  # (result, signing domain d=)
    spf: tuple[tuple[str, str], ...] = ()  # (result, envelope sender domain)

    def __or__(self, other: SenderAuthentication) -> SenderAuthentication:
        return SenderAuthentication(
            dmarc=self.dmarc + other.dmarc,
            dkim=self.dkim + other.dkim,
            spf=self.spf + other.spf,
        )


def _domain(value: str) -> str:
    value = value.strip().strip('"').strip().lower()
    return value.rsplit("@", 1)[-1].rstrip(".")


def aligned(domain: str, from_domain: str) -> bool:
    """`domain` is the From domain or a parent of it (at least two labels)."""
    domain, from_domain = _domain(domain), _domain(from_domain)
    if not domain or "." not in domain:
        return False
    return from_domain == domain or from_domain.endswith("." + domain)


def is_verified(auth: SenderAuthentication, sender: str) -> bool:
    """Apply the rule above to the From address `sender`."""
    from_domain = _domain(sender)
    if not from_domain:
        return False
    if any(
        result == PASS and (not about or _domain(about) == from_domain)
        for result, about in auth.dmarc
    ):
        return True
    return any(
        result == PASS and aligned(domain, from_domain)
        for result, domain in (*auth.dkim, *auth.spf)
    )


def _strip_comments(value: str) -> str:
    """Drop RFC 5322 comments `( … )`, nested or not, outside quoted strings; linear."""
    out: list[str] = []
    depth = 0
    quoted = False
    escaped = False
    for char in value:
        if escaped:
            escaped = False
            if depth == 0:
                out.append(char)
            continue
        if char == "\\":
            escaped = True
            if depth == 0:
                out.append(char)
            continue
        if depth == 0 and char == '"':
            quoted = not quoted
            out.append(char)
            continue
        if quoted:
            out.append(char)
            continue
        if char == "(":
            depth += 1
            continue
        if char == ")" and depth:
            depth -= 1
            if depth == 0:
                out.append(" ")
            continue
        if depth == 0:
            out.append(char)
    return "".join(out)


def _split_results(value: str) -> list[str]:
    """Split on `;` outside quoted strings."""
    parts: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for char in value:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == ";" and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return parts


def parse_authentication_results(header: str) -> SenderAuthentication:
    """Read the DMARC, DKIM and SPF results of one `Authentication-Results` header."""
    value = header[:MAX_HEADER_LENGTH]
    if value.lower().startswith("authentication-results:"):
        value = value.split(":", 1)[1]
    dmarc, dkim, spf = [], [], []
    parts = _split_results(_strip_comments(value))
    # The first part is the authserv-id (the server that checked; it has no `=`),
    # then one result per part.
    if "=" not in parts[0]:
        parts = parts[1:]
    for part in parts:
        pairs = [(key.lower(), raw.strip('"')) for key, raw in _PAIR.findall(part)]
        if not pairs or "." in pairs[0][0]:
            continue
        (method, result), properties = pairs[0], dict(pairs[1:])
        result = result.lower()
        if method == "dmarc":
            dmarc.append((result, properties.get("header.from", "")))
        elif method == "dkim":
            signer = properties.get("header.d") or properties.get("header.i", "")
            dkim.append((result, signer))
        elif method == "spf":
            spf.append((result, properties.get("smtp.mailfrom", "")))
    return SenderAuthentication(dmarc=tuple(dmarc), dkim=tuple(dkim), spf=tuple(spf))


VERDICT_FIELDS = ("dmarc", "dkim", "dkim_domain", "spf", "spf_domain")


def from_verdicts(verdicts: Mapping[str, Any]) -> SenderAuthentication:
    """Plain verdicts: `{"dmarc": "pass", "dkim": "pass", "dkim_domain": …, "spf": …, "spf_domain": …}`.

    A DKIM or SPF pass counts only with its domain: an unaligned pass proves nothing.
    """

    def text(name: str) -> str:
        value = verdicts.get(name)
        return value.strip().lower() if isinstance(value, str) else ""

    return SenderAuthentication(
        dmarc=((text("dmarc"), ""),) if text("dmarc") else (),
        dkim=((text("dkim"), text("dkim_domain")),) if text("dkim") else (),
        spf=((text("spf"), text("spf_domain")),) if text("spf") else (),
    )
