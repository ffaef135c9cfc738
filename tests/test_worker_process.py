"""The whole path through real processes: API -> Redis -> `civility worker` -> database -> moderator."""

from __future__ import annotations

import pytest

from tests.helpers import ABUSE, ARTICLE, bearer, post, wait_until


def comment_status(client, token, comment_id):
    r = client.get(f"/api/v1/comments/{comment_id}", headers=bearer(token))
    return r.json["status"]


def test_post_score_hold_decide_history_through_a_real_worker(client, settings, worker_process, moderator_token):
    worker = worker_process(settings)
    benign = post(client, "Thank you for reporting on the prisoner exchange so carefully.").json
    abusive = post(client, ABUSE).json
    wait_until(lambda: comment_status(client, moderator_token, benign["id"]) == "published", 60,
               message=lambda: f"the benign comment to be published\n{worker.output()}")
    wait_until(lambda: comment_status(client, moderator_token, abusive["id"]) == "flagged", 30,
               message="the abusive comment to be flagged")
    assert [c["id"] for c in client.get(f"/api/v1/articles/{ARTICLE}/comments").json["items"]] == [benign["id"]]

    h = bearer(moderator_token)
    [item] = client.get("/api/v1/moderation/queue", headers=h).json["items"]
    assert item["id"] == abusive["id"] and item["reasons"]
    decided = client.post(f"/api/v1/moderation/comments/{item['id']}/decision",
                          json={"action": "reject", "reason": "abuse", "version": item["version"]}, headers=h)
    assert decided.status_code == 200 and decided.json["status"] == "rejected"
    history = client.get(f"/api/v1/moderation/comments/{item['id']}/history", headers=h).json["events"]
    assert [e["action"] for e in history] == ["create", "score", "reject"]

    ready = client.get("/readyz").json
    assert ready["status"] == "ready" and ready["scorer"]["name"] == "profanity"
    assert ready["scorer"]["fallback"] is True


def test_worker_sweeps_comments_whose_job_was_lost(app_factory, worker_process, redis_client):
    from civility.moderators import create_moderator

    app = app_factory(scoring_deadline_seconds=1, sweep_interval_seconds=1)
    client, settings = app.test_client(), app.extensions["civility"].settings
    moderator_token = create_moderator(app.extensions["civility"].db, "sweeper-check")
    prefix = settings.redis_prefix
    created = [post(client, f"lost job {i}").json["id"] for i in range(3)]
    for key in redis_client.scan_iter(match=f"rq:*{prefix}*"):
        redis_client.delete(key)
    worker_process(settings)
    for comment_id in created:
        wait_until(lambda cid=comment_id: comment_status(client, moderator_token, cid) == "published", 60,
                   message="the sweeper to re-enqueue a lost comment")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_detoxify_checkpoint_scores_through_a_real_worker(client, settings_factory, worker_process,
                                                          tiny_checkpoint, moderator_token):
    settings = settings_factory(scorer="detoxify")
    worker = worker_process(settings, CIVILITY_DETOXIFY_CHECKPOINT=str(tiny_checkpoint))
    comment_id = post(client, "Scored by a Detoxify-format model").json["id"]
    wait_until(lambda: comment_status(client, moderator_token, comment_id) != "pending", 90,
               message=lambda: f"a Detoxify score\n{worker.output()}")
    h = bearer(moderator_token)
    history = client.get(f"/api/v1/moderation/comments/{comment_id}/history", headers=h).json["events"]
    score = history[-1]
    assert score["actor"] == "scorer:detoxify"
    # Random weights: only the structure is meaningful, not the values.
    assert set(score["scores"]) == {"toxicity", "severe_toxicity", "obscene", "threat", "insult", "identity_attack"}
    assert all(0.0 <= v <= 1.0 for v in score["scores"].values())
    assert score["details"]["scorer_version"].startswith("checkpoint-")
