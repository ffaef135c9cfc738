"""Who is calling: moderators (Bearer token), readers (site identity token), edit tokens, client hash."""

from __future__ import annotations

import functools
import hmac
import ipaddress

from apiflask import HTTPTokenAuth
from flask import request

from civility.comments import Credentials
from civility.identity import Client, Reader, verify_identity_token
from civility.moderators import ModeratorIdentity, authenticate
from service.context import services

moderator_auth = HTTPTokenAuth(scheme="Bearer", description="A moderator token from `civility moderators create`")


@moderator_auth.verify_token
def _verify_moderator(token: str) -> ModeratorIdentity | None:
    return authenticate(services().db, token)


def current_moderator() -> ModeratorIdentity:
    return moderator_auth.current_user


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def optional_reader() -> Reader | None:
    """The reader named by a site identity token, if one was sent; a bad one is a 401, not ignored."""
    token = _bearer()
    if token is None:
        return None
    return verify_identity_token(token, services().settings.sso_secret)


def author_credentials() -> Credentials:
    return Credentials(edit_token=request.headers.get("X-Edit-Token") or None, reader=optional_reader())


def current_client() -> Client:
    """The reader behind this request (see ``civility.identity.Client``)."""
    return Client.of(optional_reader(), request.remote_addr, services().client_hash_salt())


def may_see_operations() -> bool:
    """/metrics and the detail of /readyz: the metrics token, or a client on an allowed network."""
    settings = services().settings
    token = _bearer()
    if settings.metrics_token and token and hmac.compare_digest(token.encode(), settings.metrics_token.encode()):
        return True
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    return any(address in network for network in _networks(settings.metrics_networks))


@functools.lru_cache(maxsize=8)
def _networks(networks: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(n, strict=False) for n in networks)


def moderator_is_calling() -> bool:
    token = _bearer()
    return token is not None and authenticate(services().db, token) is not None
