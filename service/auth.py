"""Who is calling: moderators (Bearer token), readers (site identity token), edit tokens, client hash."""

from __future__ import annotations

import hashlib

from apiflask import HTTPTokenAuth
from flask import request

from civility.comments import Credentials
from civility.identity import Reader, verify_identity_token
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


def client_hash() -> str:
    """A salted hash of IP and user agent: tells clients apart without storing either."""
    salt = services().settings.client_hash_salt
    raw = f"{salt}|{request.remote_addr or ''}|{request.user_agent.string or ''}"
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def moderator_is_calling() -> bool:
    token = _bearer()
    return token is not None and authenticate(services().db, token) is not None
