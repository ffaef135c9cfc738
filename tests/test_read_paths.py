"""No request holds a database connection (an open transaction) across a Redis call.

Observation only: the pool's checkout and checkin events count the connections each thread holds,
and a wrapper around the Redis client's command methods records any call made while one is held.
A Redis stall must never pin a database connection, nor a slow query pin a Redis socket.
"""

from __future__ import annotations

import threading
import traceback
from collections import defaultdict

import pytest
from redis import Redis
from redis.client import Pipeline
from sqlalchemy import event

from tests.helpers import ARTICLE, as_client, bearer, post


@pytest.fixture
def redis_inside_sessions(db, monkeypatch):
    """The Redis calls made while the calling thread held a database connection (with where)."""
    held: dict[int, int] = defaultdict(int)
    offences: list[str] = []

    def checkout(_dbapi, _record, _proxy):
        held[threading.get_ident()] += 1

    def checkin(_dbapi, _record):
        held[threading.get_ident()] -= 1

    def observed(method):
        def wrapper(self, *args, **kwargs):
            if held[threading.get_ident()] > 0:
                name = args[0] if args and isinstance(args[0], str) else method.__name__
                offences.append(f"{name}\n" + "".join(traceback.format_stack(limit=12)))
            return method(self, *args, **kwargs)
        return wrapper

    pool = db.engine.pool
    event.listen(pool, "checkout", checkout)
    event.listen(pool, "checkin", checkin)
    monkeypatch.setattr(Redis, "execute_command", observed(Redis.execute_command))
    monkeypatch.setattr(Pipeline, "execute", observed(Pipeline.execute))
    yield offences
    event.remove(pool, "checkout", checkout)
    event.remove(pool, "checkin", checkin)


def test_observer_sees_a_redis_call_inside_a_session(app, db, redis_inside_sessions):
    redis = app.extensions["civility"].redis
    with db.read() as session:
        session.connection()
        redis.ping()
    assert len(redis_inside_sessions) == 1


def test_no_route_calls_redis_inside_a_database_session(client, db, drain, moderator_token,
                                                        redis_inside_sessions):
    h = bearer(moderator_token)
    first = post(client, "A fair point, well made.").json
    post(client, "A reply that agrees.", parent_id=first["id"], **as_client(1))
    post(client, "This is shit.", **as_client(2))
    drain()
    redis_inside_sessions.clear()  # the in-process worker is not under test here
    answers = [
        client.get(f"/api/v1/articles/{ARTICLE}/comments"),
        client.get(f"/api/v1/articles/{ARTICLE}/comments?sort=top"),
        client.get(f"/api/v1/comments/{first['id']}"),
        client.get(f"/api/v1/comments/{first['id']}/replies"),
        client.post(f"/api/v1/articles/{ARTICLE}/shares", json={"network": "x"}, **as_client(3)),
        client.get(f"/api/v1/articles/{ARTICLE}/shares"),
        client.get(f"/api/v1/counts?article_id={ARTICLE}&article_id=other-article"),
        client.get("/api/v1/trending"),
        client.get("/api/v1/trending?window=1h"),
        client.post(f"/api/v1/comments/{first['id']}/votes", json={"value": 1}, **as_client(4)),
        client.post(f"/api/v1/comments/{first['id']}/reports", json={"reason": "spam"}, **as_client(5)),
        client.get("/api/v1/moderation/queue", headers=h),
        client.get("/api/v1/moderation/queue?status=published&sort=score", headers=h),
        client.get("/api/v1/moderation/stats", headers=h),
        client.get(f"/api/v1/moderation/comments/{first['id']}/history", headers=h),
        client.post(f"/api/v1/moderation/comments/{first['id']}/decision", json={"action": "approve"}, headers=h),
    ]
    assert [r.status_code for r in answers if r.status_code >= 400] == []
    assert redis_inside_sessions == [], "\n\n".join(redis_inside_sessions)
