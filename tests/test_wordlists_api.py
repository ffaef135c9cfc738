"""Word lists end to end: the store and its versions, the admin-only API, comments held or rejected
when scored (new and edited), a change seen by another process's app within seconds, and the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from civility import wordlists
from civility.errors import Conflict
from civility.wordlists import current_matcher
from tests.helpers import ROOT, assert_error, bearer, post, wait_until

URL = "/api/v1/moderation/wordlists"


def put(client, kind, entries, token, version=None):
    body = {"entries": entries} if version is None else {"entries": entries, "version": version}
    return client.put(f"{URL}/{kind}", json=body, headers=bearer(token))


# -- the store -------------------------------------------------------------------------------------
def test_changes_bump_the_version_and_keep_who_and_when(db):
    assert wordlists.list_entries(db, "hold").version == 0
    listed, added = wordlists.add_entries(db, "hold", ["vermin", "Vermin", "kill*"], "cli")
    assert added == ["vermin", "kill*"] and listed.entries == ["vermin", "kill*"] and listed.version == 1
    assert wordlists.add_entries(db, "hold", ["VERMIN"], "cli")[0].version == 1  # nothing new: no change
    listed, removed = wordlists.remove_entries(db, "hold", ["KILL*", "nope"], "cli")
    assert removed == ["kill*"] and listed.entries == ["vermin"] and listed.version == 2
    replaced = wordlists.replace_entries(db, "hold", ["vermin", "go back to *"], "moderator:root", version=2)
    assert replaced.entries == ["vermin", "go back to *"] and replaced.version == 3
    assert replaced.updated_by == "moderator:root" and replaced.updated_at is not None
    assert wordlists.replace_entries(db, "hold", ["vermin", "go back to *"], "x").version == 3  # the same list
    with pytest.raises(Conflict, match="changed since version 2"):
        wordlists.replace_entries(db, "hold", [], "moderator:root", version=2)
    assert wordlists.list_entries(db, "reject").entries == []


def test_a_change_in_this_process_is_seen_at_once(db):
    assert current_matcher(db).check("vermin").hold == []
    wordlists.add_entries(db, "hold", ["vermin"], "cli")
    assert current_matcher(db).check("v3rmin").hold == ['word list (hold): "vermin"']


# -- the API ---------------------------------------------------------------------------------------
def test_moderators_read_the_lists_and_only_admins_replace_them(client, moderator_token, admin_token):
    r = client.get(f"{URL}/hold", headers=bearer(moderator_token))
    assert r.status_code == 200
    assert r.json == {"kind": "hold", "entries": [], "version": 0, "updated_at": None, "updated_by": None,
                      "editable": False}
    error = assert_error(put(client, "hold", ["vermin"], moderator_token), 403, "forbidden")
    assert error["message"] == "changing the word lists needs the admin role"

    r = put(client, "hold", ["vermin", "go back to *"], admin_token)
    assert r.status_code == 200, r.json
    assert r.json["entries"] == ["vermin", "go back to *"] and r.json["version"] == 1 and r.json["editable"] is True
    assert r.json["updated_by"] == "moderator:root" and r.json["updated_at"].endswith("Z")
    assert client.get(f"{URL}/hold", headers=bearer(moderator_token)).json["entries"] == ["vermin", "go back to *"]
    assert client.get(f"{URL}/reject", headers=bearer(admin_token)).json["editable"] is True

    assert_error(client.get(f"{URL}/hold"), 401, "unauthorized")
    assert_error(client.put(f"{URL}/hold", json={"entries": []}), 401, "unauthorized")
    assert_error(client.get(f"{URL}/banned", headers=bearer(admin_token)), 404)
    assert_error(put(client, "banned", ["x"], admin_token), 404)


def test_a_stale_version_is_a_conflict(client, admin_token):
    assert put(client, "reject", ["kill yourself"], admin_token, version=0).status_code == 200
    error = assert_error(put(client, "reject", [], admin_token, version=0), 409, "conflict")
    assert "changed since version 0 (now 1, by moderator:root)" in error["message"]
    assert error["details"]["version"] == 1
    assert put(client, "reject", [], admin_token, version=1).json["entries"] == []


@pytest.mark.parametrize("body,field_message", [
    ({"entries": ["ok", "*"]}, 'entry 2 ("*"): needs at least 2 letters or digits'),
    ({"entries": ["x" * 101]}, "must be at most 100 characters"),
    ({"entries": ["", "vermin"]}, "entry 1: must not be empty"),
    ({"entries": ["a\x00b"]}, "entry 1: must not contain NUL characters"),
    ({"entries": "vermin"}, None),
    ({"entries": [1, 2]}, None),
    ({"entries": ["vermin"], "version": -1}, None),
    ({"entries": ["vermin"], "version": 2**63}, None),
    ({}, None),
])
def test_invalid_lists_are_422_naming_the_entry(client, admin_token, body, field_message):
    r = client.put(f"{URL}/hold", json=body, headers=bearer(admin_token))
    error = assert_error(r, 422, "invalid")
    if field_message:
        assert any(field_message in m for m in error["details"]["entries"]), error
    assert client.get(f"{URL}/hold", headers=bearer(admin_token)).json["version"] == 0


def test_a_whole_list_of_ten_thousand_entries_fits_and_one_more_is_refused(client, admin_token):
    entries = [f"word{n:05d}" for n in range(wordlists.MAX_ENTRIES)]
    r = put(client, "hold", entries, admin_token)
    assert r.status_code == 200 and len(r.json["entries"]) == wordlists.MAX_ENTRIES
    assert_error(put(client, "hold", entries + ["one more"], admin_token), 422, "invalid")


def test_only_admins_may_send_a_large_body(client, moderator_token, admin_token):
    entries = [f"word{n:05d}" for n in range(8000)]  # about 100 KB, over the 64 KiB of other requests
    assert_error(put(client, "hold", entries, moderator_token), 413)
    assert_error(client.put(f"{URL}/hold", json={"entries": entries}), 413)
    assert put(client, "hold", entries, admin_token).status_code == 200


@pytest.mark.parametrize("raw", ['{"entries": ["\\ud800"]}', '{"entries": [' + "9" * 5000 + "]}", '{"entries": [',
                                 '{"entries": ["\\u202e\\u2066"]}', '{"entries": [[["x"]]]}', "[]", "null"])
def test_hostile_bodies_are_4xx(client, admin_token, raw):
    headers = {**bearer(admin_token), "Content-Type": "application/json"}
    r = client.put(f"{URL}/hold", data=raw.encode(), headers=headers)
    assert 400 <= r.status_code < 500, r.get_data(as_text=True)
    assert set(r.json["error"]) == {"code", "message", "details"}


# -- scoring -----------------------------------------------------------------------------------------
def test_new_and_edited_comments_are_held_or_rejected_with_the_entry_as_reason(client, drain, admin_token):
    assert put(client, "hold", ["vermin", "go back to *"], admin_token).status_code == 200
    assert put(client, "reject", ["kill yourself"], admin_token).status_code == 200
    held = post(client, "People like that are v 3 r m 1 n, frankly.").json
    rejected = post(client, "Just k1ll y0urs3lf.").json
    fine = post(client, "A first-class report on the vermin-free harbour? No: on the harbour.", name="Bea").json
    edited = post(client, "A calm, reasonable comment.", name="Cal").json
    drain()
    h = bearer(admin_token)
    item = client.get(f"/api/v1/comments/{held['id']}", headers=h).json
    assert item["status"] == "flagged"
    queue = {i["id"]: i for i in client.get("/api/v1/moderation/queue", headers=h).json["items"]}
    assert queue[held["id"]]["reasons"] == ['word list (hold): "vermin"']
    assert client.get(f"/api/v1/comments/{rejected['id']}", headers=h).json["status"] == "rejected"
    events = client.get(f"/api/v1/moderation/comments/{rejected['id']}/history", headers=h).json["events"]
    assert events[-1]["to_status"] == "rejected" and events[-1]["reason"] == 'word list (reject): "kill yourself"'
    # "vermin-free" has the word "vermin": held too; the calm comment is published.
    assert client.get(f"/api/v1/comments/{fine['id']}", headers=h).json["status"] == "flagged"
    assert client.get(f"/api/v1/comments/{edited['id']}", headers=h).json["status"] == "published"

    r = client.patch(f"/api/v1/comments/{edited['id']}", json={"body": "Go back to where you came from."},
                     headers={"X-Edit-Token": edited["edit_token"]})
    assert r.status_code in (200, 202), r.json
    drain()
    queue = {i["id"]: i for i in client.get("/api/v1/moderation/queue", headers=h).json["items"]}
    assert queue[edited["id"]]["status"] == "flagged"
    assert queue[edited["id"]]["reasons"] == ['word list (hold): "go back to *"']


def test_a_change_through_one_app_is_seen_by_another_within_seconds(app_factory, admin_token):
    first, second = app_factory(), app_factory()  # two API processes on one database
    other_db = second.extensions["civility"].db
    assert current_matcher(other_db).check("you v3rmin").hold == []  # compiled, and cached
    r = put(first.test_client(), "hold", ["vermin"], admin_token)
    assert r.status_code == 200
    wait_until(lambda: current_matcher(other_db).check("you v3rmin").hold == ['word list (hold): "vermin"'],
               timeout=wordlists.CHECK_INTERVAL_SECONDS + 5, message="the other app to see the new list")
    assert second.test_client().get(f"{URL}/hold", headers=bearer(admin_token)).json["entries"] == ["vermin"]


# -- the CLI -----------------------------------------------------------------------------------------
def civility(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "service.cli", *args], env={**os.environ, **env}, cwd=ROOT,
                          capture_output=True, text=True, timeout=180)


def test_wordlist_commands_and_score_apply_the_lists(tmp_path):
    env = {"CIVILITY_DATABASE_URL": f"sqlite:///{tmp_path / 'ops.db'}", "CIVILITY_SCORER": "profanity"}
    assert civility("db", "upgrade", env=env).returncode == 0
    added = civility("wordlist", "add", "hold", "vermin", "go back to *", "Vermin", env=env)
    assert added.returncode == 0, added.stderr
    assert "added 2 to hold; it has 2 entries (version 1)" in added.stdout
    bad = civility("wordlist", "add", "reject", "*", env=env)
    assert bad.returncode != 0 and 'entry 1 ("*"): needs at least 2 letters or digits' in bad.stderr
    assert civility("wordlist", "list", "hold", env=env).stdout.splitlines() == ["vermin", "go back to *"]
    removed = civility("wordlist", "remove", "hold", "VERMIN", "unknown", env=env)
    assert "removed 1 from hold (1 not in it); it has 1 entries (version 2)" in removed.stdout
    scored = civility("score", "--json", "Go b4ck to where you came from", "Thank you.", env=env)
    assert scored.returncode == 0, scored.stderr
    results = json.loads(scored.stdout)["results"]
    assert results[0]["decision"] == "flagged" and results[0]["reasons"] == ['word list (hold): "go back to *"']
    assert results[1]["decision"] == "published"
    wrong = civility("wordlist", "add", "banned", "x", env=env)
    assert wrong.returncode == 2 and "'banned' is not one of 'reject', 'hold'" in wrong.stderr
