"""One anonymous person from one machine can neither silence a comment nor inflate its counts.

A reader is their signed-in ``sub``, else their network (the IPv4 address, the IPv6 /64); the
User-Agent is not part of it. Reports hide a comment only from readers of distinct origins (/24,
/48), and never once a moderator approved its text.
"""

from __future__ import annotations

import time

import jwt
import pytest

from tests.helpers import ARTICLE, as_client, assert_error, bearer

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
SSO_SECRET = "a-site-secret-that-is-long-enough-for-hs256"


def same_machine(n: int, address: str = "192.0.2.7") -> dict:
    """The same network, with the n-th made-up User-Agent."""
    return {"environ_base": {"REMOTE_ADDR": address}, "headers": {"User-Agent": f"ua-{n}"}}


def signed_in(sub: str) -> dict:
    token = jwt.encode({"sub": sub, "exp": int(time.time()) + 600}, SSO_SECRET, algorithm="HS256")
    return {"environ_base": {"REMOTE_ADDR": "192.0.2.7"}, "headers": bearer(token)}


def post_as(client, body: str, who: dict):
    return client.post(f"/api/v1/articles/{ARTICLE}/comments", json={"body": body, "author_name": "Ann"}, **who)


def published(client, drain, body="A fair point, well made.", who: dict | None = None):
    comment = post_as(client, body, who or as_client(200)).json
    drain()
    return comment


def visible(client, comment_id) -> bool:
    return client.get(f"/api/v1/comments/{comment_id}").status_code == 200


def report(client, comment_id, who: dict, reason="abuse"):
    return client.post(f"/api/v1/comments/{comment_id}/reports", json={"reason": reason}, **who)


def vote(client, comment_id, who: dict, value=1):
    return client.post(f"/api/v1/comments/{comment_id}/votes", json={"value": value}, **who)


def reported_queue(client, token) -> list[int]:
    queue = client.get("/api/v1/moderation/queue?status=reported", headers=bearer(token)).json
    return [i["id"] for i in queue["items"]]


def test_user_agents_from_one_network_are_one_reporter(client, drain, moderator_token):
    comment = published(client, drain)
    answers = [report(client, comment["id"], same_machine(n)) for n in range(3)]
    assert [a.json["duplicate"] for a in answers] == [False, True, True]
    assert visible(client, comment["id"]) and reported_queue(client, moderator_token) == []


def test_addresses_in_one_slash_24_count_once_towards_hiding(client, drain, moderator_token):
    comment = published(client, drain)
    for host in (1, 2, 3, 4):
        assert report(client, comment["id"], same_machine(0, f"192.0.2.{host}")).json["duplicate"] is False
    assert visible(client, comment["id"]) and reported_queue(client, moderator_token) == []
    for n in (1, 2):  # two more networks: three distinct origins
        report(client, comment["id"], as_client(n))
    assert not visible(client, comment["id"])
    assert reported_queue(client, moderator_token) == [comment["id"]]


def test_ipv6_readers_are_their_slash_64_and_count_once_per_slash_48(client, drain, moderator_token):
    comment = published(client, drain)
    one_home = [same_machine(0, f"2001:db8:1:2::{n}") for n in (1, 2)]
    assert [report(client, comment["id"], who).json["duplicate"] for who in one_home] == [False, True]
    one_site = [same_machine(0, f"2001:db8:1:{subnet}::1") for subnet in (3, 4)]
    assert [report(client, comment["id"], who).json["duplicate"] for who in one_site] == [False, False]
    assert visible(client, comment["id"]) and reported_queue(client, moderator_token) == []


def test_signed_in_readers_report_as_themselves(app_factory, drain):
    app = app_factory(sso_secret=SSO_SECRET)
    client = app.test_client()
    comment = published(client, drain)
    for sub in ("reader-1", "reader-2", "reader-3"):  # one household, three accounts
        assert report(client, comment["id"], signed_in(sub)).status_code == 202
    assert not visible(client, comment["id"])


def test_once_a_moderator_approved_it_reports_requeue_but_never_hide(client, drain, moderator_token):
    comment = published(client, drain)
    for n in (1, 2, 3):
        report(client, comment["id"], as_client(n))
    assert not visible(client, comment["id"])
    decide = client.post(f"/api/v1/moderation/comments/{comment['id']}/decision", json={"action": "approve"},
                         headers=bearer(moderator_token))
    assert decide.status_code == 200 and visible(client, comment["id"])
    for n in (4, 5, 6):
        report(client, comment["id"], as_client(n))
    assert visible(client, comment["id"]), "reports alone hid an approved comment"
    assert reported_queue(client, moderator_token) == [comment["id"]]


def test_a_non_admin_cannot_reverse_an_approval_after_reports(client, drain, db):
    from civility.moderators import create_moderator

    alice, bob = create_moderator(db, "alice", "moderator"), create_moderator(db, "bob", "moderator")
    comment = published(client, drain)
    url = f"/api/v1/moderation/comments/{comment['id']}/decision"
    assert client.post(url, json={"action": "approve"}, headers=bearer(alice)).status_code == 200
    for n in (1, 2, 3):
        report(client, comment["id"], as_client(n))
    assert_error(client.post(url, json={"action": "reject"}, headers=bearer(bob)), 403, "forbidden")
    assert visible(client, comment["id"])
    # Bob may confirm the approval, which resolves the reports.
    assert client.post(url, json={"action": "approve"}, headers=bearer(bob)).json["reports"] == []


def test_user_agents_from_one_network_vote_once(client, drain):
    comment = published(client, drain)
    answers = [vote(client, comment["id"], same_machine(n)) for n in range(20)]
    assert {a.status_code for a in answers} == {200}
    assert answers[-1].json["votes"] == 1


def test_an_author_cannot_upvote_their_own_comment_with_another_browser(client, drain):
    comment = published(client, drain, who=same_machine(0))
    assert_error(vote(client, comment["id"], same_machine(1)), 403, "forbidden")
    assert vote(client, comment["id"], as_client(5)).json["votes"] == 1


def test_user_agents_from_one_network_count_one_share(client):
    answers = [client.post(f"/api/v1/articles/{ARTICLE}/shares", json={"network": "x"}, **same_machine(n))
               for n in range(30)]
    assert sum(a.json["counted"] for a in answers) == 1
    trending = client.get("/api/v1/trending?window=1h").json["most_shared"]
    assert trending == [{"article_id": ARTICLE, "shares": 1}]


def test_repeated_text_is_caught_across_user_agents(client, drain, moderator_token):
    first = post_as(client, "Buy cheap watches now", same_machine(1)).json
    second = post_as(client, "Buy cheap watches now", same_machine(2)).json
    drain()
    held = {i["id"]: i for i in client.get("/api/v1/moderation/queue", headers=bearer(moderator_token)).json["items"]}
    assert first["id"] not in held
    assert held[second["id"]]["reasons"] == ["repeated text from the same client (x2 in 10 min)"]


def test_without_a_configured_salt_one_random_salt_is_kept_in_the_database(app_factory, drain, caplog):
    first, second = app_factory(), app_factory()  # two API processes on one database
    salts = {app.extensions["civility"].client_hash_salt() for app in (first, second)}
    assert len(salts) == 1 and len(salts.pop()) == 64
    # So a reader is the same reader whichever process answers.
    comment = post_as(first.test_client(), "Counted once across processes.", as_client(7)).json
    drain()
    vote(first.test_client(), comment["id"], as_client(8))
    assert vote(second.test_client(), comment["id"], as_client(8)).json["votes"] == 1
    caplog.set_level("WARNING")
    app_factory(client_hash_salt="change-me")
    assert any("placeholder" in r.getMessage() for r in caplog.records)


def test_the_sqlite_database_file_is_readable_by_its_owner_only(database_url):
    from pathlib import Path

    from sqlalchemy.engine import make_url

    path = Path(make_url(database_url).database)  # made by `civility db upgrade`'s code, as in make dev
    assert path.stat().st_mode & 0o777 == 0o600
