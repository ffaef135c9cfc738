"""The nudge before posting: POST .../comments/check, the counts of nudged, revised and posted-anyway
comments, and their place in the moderation stats."""

from __future__ import annotations

import pytest

from civility import wordlists
from civility.analysis import Analysis, AnalysisUnavailable
from civility.config import DEFAULT_RATE_LIMITS
from civility.nudge import KINDS, STATS_DAYS
from civility.store.models import utcnow
from tests.helpers import ABUSE, ARTICLE, assert_error, bearer, post

CHECK = f"/api/v1/articles/{ARTICLE}/comments/check"


class FakeAnalyzer:
    """Scores like a model that finds insults in ABUSE and nothing elsewhere; or no worker at all."""

    def __init__(self, available: bool = True):
        self.available = available
        self.calls: list[tuple[list[str], float]] = []

    def analyze(self, texts: list[str], timeout: float) -> Analysis:
        self.calls.append((texts, timeout))
        if not self.available:
            raise AnalysisUnavailable("no worker answered")
        scores = [{"toxicity": 0.95, "insult": 0.9} if "idiot" in t else {"toxicity": 0.02, "insult": 0.01}
                  for t in texts]
        return Analysis(scores=scores, scorer="fake", version="1", fallback=False)


@pytest.fixture
def analyzer(app) -> FakeAnalyzer:
    fake = FakeAnalyzer()
    app.extensions["civility"].analyzer = fake
    return fake


def check(client, body: str, **extra):
    return client.post(CHECK, json={"body": body, **extra})


def nudges(client, token) -> dict:
    return client.get("/api/v1/moderation/stats", headers=bearer(token)).json["nudges"]


def test_a_fine_comment_would_not_be_held(client, analyzer, moderator_token):
    r = check(client, "A measured, thoughtful comment.", author_name="x" * 500, parent_id="ignored")
    assert r.status_code == 200, r.json
    assert r.json == {"would_hold": False, "reasons": [], "check_id": None}
    assert analyzer.calls == [(["A measured, thoughtful comment."], client.application.extensions[
        "civility"].settings.analyze_timeout)]
    assert nudges(client, moderator_token)["today"] == dict.fromkeys(KINDS, 0)


def test_an_abusive_comment_would_be_held_with_reasons_in_words(client, analyzer, moderator_token):
    r = check(client, ABUSE)
    assert r.status_code == 200
    assert r.json["would_hold"] is True
    assert r.json["reasons"] == ["toxic language", "insults"]  # highest score first; no scores shown
    assert r.json["check_id"]
    assert nudges(client, moderator_token)["today"]["nudged"] == 1


def test_word_lists_and_links_hold_without_revealing_the_entries(client, analyzer, db):
    wordlists.add_entries(db, "hold", ["vermin"], "test")
    r = check(client, "These people are vermin.")
    assert r.json["would_hold"] is True and r.json["reasons"] == ["words this site does not allow"]
    assert "vermin" not in r.get_data(as_text=True)
    wordlists.add_entries(db, "reject", ["scum"], "test")
    assert check(client, "scum").json["reasons"] == ["words this site does not allow"]
    links = "See https://a.example/1 https://b.example/2 and https://c.example/3"
    assert check(client, links).json["reasons"] == ["too many links"]
    # The repeat rule needs the reader's history, so a check never applies it.
    assert check(client, "A measured, thoughtful comment.").json["would_hold"] is False


def test_no_worker_in_time_is_503_in_the_error_shape(client, analyzer):
    analyzer.available = False
    error = assert_error(check(client, ABUSE), 503, "analysis_unavailable")
    assert error["message"]


def test_the_check_validates_like_a_comment(client, analyzer):
    assert_error(check(client, "   "), 422)
    assert_error(client.post(CHECK, json={}), 422)
    assert_error(client.post("/api/v1/articles/bad%20id/comments/check", json={"body": "hi"}), 422)
    assert_error(client.post(CHECK, data="body", content_type="text/plain"), 415)
    assert analyzer.calls == []


def test_posting_after_a_nudge_counts_once_as_revised_or_posted_anyway(client, analyzer, moderator_token):
    anyway = check(client, ABUSE).json["check_id"]
    revised = check(client, ABUSE).json["check_id"]
    assert post(client, ABUSE, check_id=anyway).status_code == 202
    assert post(client, "You are wrong, and here is why.", check_id=revised).status_code == 202
    # A ticket counts once; an unknown or forged one posts the comment and counts nothing.
    assert post(client, "Once more.", check_id=anyway).status_code == 202
    assert post(client, "Forged.", check_id="x" * 24).status_code == 202
    assert post(client, "Without.", check_id=None).status_code == 202
    assert_error(post(client, "Too long an id.", check_id="x" * 65), 422)
    stats = nudges(client, moderator_token)
    assert stats["today"] == {"nudged": 2, "revised": 1, "posted_anyway": 1}
    days = stats["last_7_days"]
    assert len(days) == STATS_DAYS and days[-1] == {"day": utcnow().date().isoformat(), **stats["today"]}
    assert all(d == {"day": d["day"], **dict.fromkeys(KINDS, 0)} for d in days[:-1])
    assert [d["day"] for d in days] == sorted(d["day"] for d in days)


def test_checks_have_their_own_rate_limit(app_factory):
    assert DEFAULT_RATE_LIMITS["check"]
    app = app_factory(rate_limits={"check": "2/minute"})
    app.extensions["civility"].analyzer = FakeAnalyzer()
    client = app.test_client()
    assert [check(client, ABUSE).status_code for _ in range(3)] == [200, 200, 429]
    assert_error(check(client, ABUSE), 429, "rate_limited")
    # Posting is limited on its own.
    assert post(client, "Still allowed.").status_code == 202


def test_the_endpoint_is_public_and_in_the_openapi_document(client, analyzer):
    spec = client.get("/openapi.json").json
    operation = spec["paths"]["/api/v1/articles/{article_id}/comments/check"]["post"]
    assert "503" in operation["responses"] and "429" in operation["responses"]
    r = client.options(CHECK, headers={"Origin": "https://news.example", "Access-Control-Request-Method": "POST"})
    assert r.status_code == 200
