"""Reader identity: HS256 tokens signed by the news site (claims ``sub``, ``name``, ``exp``), and the
one rule that tells readers apart for votes, reports, shares and the spam checks."""

from __future__ import annotations

import hashlib
import ipaddress
import re
from dataclasses import dataclass

import jwt

from civility.errors import Unauthorized


@dataclass(frozen=True)
class Reader:
    sub: str
    name: str | None


def verify_identity_token(token: str, secret: str | None) -> Reader:
    if not secret:
        raise Unauthorized("identity tokens are not enabled on this server")
    try:
        # Pinning the algorithm rejects alg=none and any asymmetric-algorithm confusion.
        claims = jwt.decode(token, secret, algorithms=["HS256"], options={"require": ["exp", "sub"]})
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("identity token has expired") from exc
    except jwt.InvalidTokenError as exc:
        raise Unauthorized("invalid identity token") from exc
    sub, name = claims.get("sub"), claims.get("name")
    if not isinstance(sub, str) or not sub or len(sub) > 255:
        raise Unauthorized("invalid identity token: bad sub")
    if name is not None and not isinstance(name, str):
        raise Unauthorized("invalid identity token: bad name")
    return Reader(sub=sub, name=name)


@dataclass(frozen=True)
class Client:
    """One reader, as far as dedup, limits and reports are concerned.

    Signed in, a reader is their ``sub``. Anonymous, a reader is their network: the IPv4 address,
    or the IPv6 /64 (one household or one phone's prefix), never the browser, whose User-Agent
    anyone can change. So a household behind one NAT votes once. ``origin`` is coarser (the IPv4
    /24, the IPv6 /48): reports from one origin count once towards hiding a comment, so that one
    person with a few addresses cannot silence anybody. Both are salted hashes; no address is kept.
    """

    key: str
    origin: str
    reader: Reader | None = None

    @classmethod
    def of(cls, reader: Reader | None, address: str | None, salt: str) -> Client:
        if reader is not None:
            key = _digest(salt, "sub", reader.sub)
            return cls(key, key, reader)
        network, wider = reader_networks(address)
        return cls(_digest(salt, "net", network), _digest(salt, "origin", wider))


_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
# An IPv4 address as ``ipaddress`` writes it (no leading zeros): nearly every reader's address.
_PLAIN_IPV4 = re.compile(rf"({_OCTET}\.{_OCTET}\.{_OCTET})\.{_OCTET}")


def reader_networks(address: str | None) -> tuple[str, str]:
    """(the reader's network, the wider origin network) of a client address."""
    # Read without ipaddress, which costs more than the rest of a share's own work: the same answer.
    plain = _PLAIN_IPV4.fullmatch(address) if address else None
    if plain:
        return plain.group(0), f"{plain.group(1)}.0/24"
    return networks_by_ipaddress(address)


def networks_by_ipaddress(address: str | None) -> tuple[str, str]:
    """``reader_networks`` as ``ipaddress`` reads any address."""
    try:
        ip = ipaddress.ip_address((address or "").split("%")[0])
    except ValueError:
        return f"unknown:{address}", f"unknown:{address}"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if isinstance(ip, ipaddress.IPv4Address):
        return str(ip), str(ipaddress.ip_network(f"{ip}/24", strict=False))
    return (str(ipaddress.ip_network(f"{ip}/64", strict=False)),
            str(ipaddress.ip_network(f"{ip}/48", strict=False)))


def _digest(salt: str, kind: str, value: str) -> str:
    return hashlib.sha256(f"{salt}|{kind}|{value}".encode()).hexdigest()[:32]
