"""Reader identity: HS256 tokens signed by the news site (claims ``sub``, ``name``, ``exp``)."""

from __future__ import annotations

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
