"""The forms of CIVILITY_REDIS_URL, checked and parsed without talking to Redis.

``redis://``, ``rediss://`` and ``unix://`` go to redis-py as written. ``redis+sentinel://`` names the
Sentinels, the name of the master they watch and the database number, so that every client asks the
Sentinels where the master is and follows it through a failover:
``redis+sentinel://[[user]:password@]host:port[,host:port...]/service[/db]``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

SENTINEL_SCHEME = "redis+sentinel"
PLAIN_SCHEMES = ("redis", "rediss", "unix")
SENTINEL_FORM = "redis+sentinel://[:password@]host:port[,host:port...]/service[/db]"
DEFAULT_SENTINEL_PORT = 26379
_HOST = re.compile(r"\[(?P<ipv6>[0-9A-Fa-f:.]+)\](?::(?P<port6>\d+))?|(?P<name>[A-Za-z0-9._-]+)(?::(?P<port>\d+))?")
_SERVICE = re.compile(r"[A-Za-z0-9._-]+")


@dataclass(frozen=True)
class SentinelURL:
    sentinels: tuple[tuple[str, int], ...]
    service: str
    db: int = 0
    username: str | None = None
    # The same password is given to the Sentinels and to the master and replicas.
    password: str | None = None


def is_sentinel_url(url: str) -> bool:
    return url.startswith(SENTINEL_SCHEME + "://")


def parse_sentinel_url(url: str) -> SentinelURL:
    """The parts of a ``redis+sentinel://`` URL; ValueError (never echoing the password) if malformed."""
    if not is_sentinel_url(url):
        raise ValueError(f"expected {SENTINEL_FORM}")
    rest = url[len(SENTINEL_SCHEME) + 3:]
    if "?" in rest or "#" in rest:
        raise ValueError(f"expected {SENTINEL_FORM}, without a query or fragment")
    location, _, path = rest.partition("/")
    userinfo, at, hosts = location.rpartition("@")
    username = password = None
    if at:
        user, colon, secret = userinfo.partition(":")
        username = unquote(user) or None
        password = unquote(secret) if colon else None
    sentinels = tuple(_sentinel(host) for host in hosts.split(","))
    parts = path.split("/")
    if not parts[0] or len(parts) > 2 or not _SERVICE.fullmatch(parts[0]):
        raise ValueError(f"expected the master's service name after the Sentinels: {SENTINEL_FORM}")
    db = 0
    if len(parts) == 2 and parts[1] != "":
        if not parts[1].isdigit():
            raise ValueError(f"the database number must be a whole number, got {parts[1]!r}")
        db = int(parts[1])
    return SentinelURL(sentinels, parts[0], db, username, password)


def _sentinel(text: str) -> tuple[str, int]:
    match = _HOST.fullmatch(text)
    if not match:
        raise ValueError(f"expected Sentinels as host:port separated by commas, got {text!r}: {SENTINEL_FORM}")
    host = match["ipv6"] or match["name"]
    port = int(match["port6"] or match["port"] or DEFAULT_SENTINEL_PORT)
    if not 0 < port < 65536:
        raise ValueError(f"port out of range in {text!r}")
    return host, port


def check_redis_url(raw: str) -> str:
    """The URL as given, once its form is one civility can connect with."""
    if is_sentinel_url(raw):
        parse_sentinel_url(raw)
        return raw
    scheme = urlsplit(raw).scheme if "://" in raw else ""
    if scheme not in PLAIN_SCHEMES:
        raise ValueError(f"expected redis://host:6379/0, rediss://..., unix:///path/redis.sock or {SENTINEL_FORM}")
    return raw
