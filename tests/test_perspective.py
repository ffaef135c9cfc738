"""The Perspective-compatible API: the exact requests of Perspective's documentation and of Coral's
client (src/core/server/services/comments/pipeline/phases/toxic.ts, services/perspective), keys,
quotas, Google's error shape, storage, and one run end to end with a real worker."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from civility.analysis import Analysis, AnalysisUnavailable
from civility.apikeys import create_key, list_keys, revoke_key
from civility.infra.quota import Quota
from civility.perspective import ATTRIBUTES, sentences
from civility.store.models import PerspectiveFeedback
from tests.helpers import bearer, wait_until

DETOXIFY_LABELS = ("toxicity", "severe_toxicity", "obscene", "threat", "insult", "identity_attack",
                   "sexual_explicit")


class FakeAnalyzer:
    """Stands in for the workers: a score per label from the text (``idiot`` is toxic), or unavailable."""

    def __init__(self, labels=DETOXIFY_LABELS, fallback=False, unavailable=False):
        self.labels = labels
        self.fallback = fallback
        self.unavailable = unavailable
        self.calls: list[tuple[list[str], float]] = []

    def analyze(self, texts, timeout):
        self.calls.append((list(texts), timeout))
        if self.unavailable:
            raise AnalysisUnavailable("no worker answered within 2 s")
        scores = [{label: (0.92 if "idiot" in text else 0.03) for label in self.labels} for text in texts]
        name = "profanity" if self.fallback else "detoxify"
        return Analysis(scores, name, "test (fallback)" if self.fallback else "original/test", self.fallback)


@pytest.fixture
def analyzer(app):
    fake = FakeAnalyzer()
    app.extensions["civility"].analyzer = fake
    return fake


@pytest.fixture
def key(db):
    return create_key(db, "coral", qps=50)


def analyze(client, key, body, via="query"):
    if via == "query":
        return client.post(f"/v1alpha1/comments:analyze?key={key}", json=body)
    return client.post("/v1alpha1/comments:analyze", json=body, headers={"X-Goog-Api-Key": key})


def google_error(response, status, code):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.json == {"error": {"code": status, "message": response.json["error"]["message"],
                                       "status": code}}
    assert "Traceback" not in response.get_data(as_text=True)
    return response.json["error"]["message"]


# -- the requests Coral sends ------------------------------------------------------------------------
def test_coral_analyze_request_reads_back_its_score(client, key, analyzer):
    # Coral's getScore(): exactly this body, the key in ?key=, the score read from
    # data.attributeScores[model].summaryScore.value.
    body = {"comment": {"text": "what an idiot"}, "languages": ["en"], "doNotStore": True,
            "requestedAttributes": {"TOXICITY": {}}}
    response = analyze(client, key, body)
    assert response.status_code == 200, response.json
    assert response.json["attributeScores"]["TOXICITY"]["summaryScore"] == {"value": 0.92, "type": "PROBABILITY"}
    assert response.json["languages"] == ["en"]
    assert list(response.json["attributeScores"]) == ["TOXICITY"]
    assert response.headers["Content-Type"] == "application/json"
    assert analyzer.calls == [(["what an idiot"], 2.0)]


def test_coral_suggestscore_request_is_stored_and_counted(client, key, db, analyzer, moderator_token):
    # Coral's formatBody("comments:suggestscore"): its moderators' decision as the attribute.
    body = {"comment": {"text": "what an idiot"},
            "context": {"entries": [{"text": json.dumps({"url": "https://news.example/a?commentID=c1",
                                                         "reply_to_id_Coral_comment_id": None,
                                                         "Coral_comment_id": "c1"})}]},
            "attributeScores": {"APPROVED": {"summaryScore": {"value": 1}}},
            "languages": ["en"], "communityId": "Coral:https://news.example", "clientToken": "comment:c1"}
    response = client.post(f"/v1alpha1/comments:suggestscore?key={key}", json=body)
    assert response.status_code == 200, response.json
    assert response.json["clientToken"] == "comment:c1"
    with db.read() as session:
        row = session.scalars(select(PerspectiveFeedback)).one()
        assert (row.key_name, row.community_id, row.text, row.attribute, row.value, row.client_token) == (
            "coral", "Coral:https://news.example", "what an idiot", "APPROVED", 1.0, "comment:c1")
    stats = client.get("/api/v1/moderation/stats", headers=bearer(moderator_token)).json
    assert stats["perspective"] == {"feedback_24h": 1, "feedback_24h_by_attribute": {"APPROVED": 1}}
    assert analyzer.calls == []  # a suggestion scores nothing


# -- Perspective's documented examples -----------------------------------------------------------
def test_documented_analyze_example_every_attribute_with_spans(client, key, analyzer):
    text = "What kind of idiot name is foo? Thanks for the article."
    body = {"comment": {"text": text, "type": "PLAIN_TEXT"}, "languages": ["en"],
            "requestedAttributes": {name: {"scoreType": "PROBABILITY"} for name in ATTRIBUTES},
            "spanAnnotations": True, "clientToken": "t-1", "doNotStore": True,
            "context": {"entries": [{"text": "earlier"}]}, "sessionId": "s", "communityId": "c"}
    response = analyze(client, key, body, via="header")
    assert response.status_code == 200, response.json
    answer = response.json
    assert set(answer) == {"attributeScores", "languages", "detectedLanguages", "clientToken"}
    assert answer["clientToken"] == "t-1"
    assert set(answer["attributeScores"]) == set(ATTRIBUTES)
    spans = answer["attributeScores"]["INSULT"]["spanScores"]
    assert [(s["begin"], s["end"]) for s in spans] == [(0, 31), (32, 55)]
    assert [text[s["begin"]:s["end"]] for s in spans] == ["What kind of idiot name is foo?", "Thanks for the article."]
    assert [s["score"]["value"] for s in spans] == [0.92, 0.03]
    assert len(analyzer.calls) == 1 and analyzer.calls[0][0] == [text, text[:31], text[32:]]


def test_without_span_annotations_one_span_covers_the_text(client, key, analyzer):
    body = {"comment": {"text": "fine words"}, "requestedAttributes": {"TOXICITY": {}}}
    attribute = analyze(client, key, body).json["attributeScores"]["TOXICITY"]
    assert attribute["spanScores"] == [{"begin": 0, "end": 10, "score": {"value": 0.03, "type": "PROBABILITY"}}]


def test_scores_under_the_threshold_are_left_out(client, key, analyzer):
    body = {"comment": {"text": "fine words"},
            "requestedAttributes": {"TOXICITY": {"scoreThreshold": 0.5}, "INSULT": {"scoreThreshold": 0}}}
    answer = analyze(client, key, body).json
    assert set(answer["attributeScores"]) == {"INSULT"}


def test_html_is_stripped_to_text(client, key, analyzer):
    body = {"comment": {"text": "<p>you <b>idiot</b> &amp; co</p><script>x</script>", "type": "HTML"},
            "requestedAttributes": {"TOXICITY": {}}}
    assert analyze(client, key, body).status_code == 200
    assert analyzer.calls[0][0] == ["you idiot & co"]


def test_documented_suggestscore_example(client, key, analyzer):
    body = {"comment": {"text": "You are a fine person"},
            "attributeScores": {"TOXICITY": {"summaryScore": {"value": 0.0}}, "INSULT": {"summaryScore": {"value": 0}}}}
    response = client.post("/v1alpha1/comments:suggestscore", json=body, headers={"X-Goog-Api-Key": key})
    assert response.status_code == 200 and response.json == {}


# -- what the scorer cannot give, and when no worker answers ------------------------------------------
def test_fallback_scorer_refuses_toxicity_and_scores_profanity(app, client, key):
    app.extensions["civility"].analyzer = FakeAnalyzer(labels=("profanity",), fallback=True)
    refused = analyze(client, key, {"comment": {"text": "x"}, "requestedAttributes": {"TOXICITY": {}}})
    message = google_error(refused, 400, "INVALID_ARGUMENT")
    assert "TOXICITY" in message and "profanity fallback" in message
    scored = analyze(client, key, {"comment": {"text": "idiot"}, "requestedAttributes": {"PROFANITY": {}}})
    assert scored.json["attributeScores"]["PROFANITY"]["summaryScore"]["value"] == 0.92


def test_detoxify_obscene_answers_profanity(client, key, analyzer):
    answer = analyze(client, key, {"comment": {"text": "idiot"}, "requestedAttributes": {"PROFANITY": {}}}).json
    assert answer["attributeScores"]["PROFANITY"]["summaryScore"]["value"] == 0.92


def test_no_worker_is_503_unavailable(app, client, key):
    app.extensions["civility"].analyzer = FakeAnalyzer(unavailable=True)
    response = analyze(client, key, {"comment": {"text": "x"}, "requestedAttributes": {"TOXICITY": {}}})
    google_error(response, 503, "UNAVAILABLE")
    assert response.headers["Retry-After"]


# -- keys and quotas -----------------------------------------------------------------------------
def test_missing_wrong_and_revoked_keys_are_403(client, db, key, analyzer):
    body = {"comment": {"text": "x"}, "requestedAttributes": {"TOXICITY": {}}}
    google_error(client.post("/v1alpha1/comments:analyze", json=body), 403, "PERMISSION_DENIED")
    google_error(analyze(client, "civk_" + "A" * 43, body), 403, "PERMISSION_DENIED")
    google_error(analyze(client, "AIzaSy" + "x" * 33, body), 403, "PERMISSION_DENIED")
    assert analyze(client, key, body).status_code == 200
    assert revoke_key(db, "coral")
    google_error(analyze(client, key, body), 403, "PERMISSION_DENIED")
    google_error(client.post(f"/v1alpha1/comments:suggestscore?key={key}", json={}), 403, "PERMISSION_DENIED")
    assert analyzer.calls and len(analyzer.calls) == 1


def test_keys_store_only_a_hash(db, key):
    (stored,) = list_keys(db)
    assert stored.name == "coral" and stored.qps == 50 and key not in stored.key_hash and len(stored.key_hash) == 64


def test_quota_is_429_with_retry_after(client, db, analyzer):
    slow = create_key(db, "slow", qps=2)
    body = {"comment": {"text": "x"}, "requestedAttributes": {"TOXICITY": {}}}
    answers = []
    for _ in range(12):  # a slow machine may cross a second's boundary; a third request in one second is refused
        answers.append(analyze(client, slow, body))
        if answers[-1].status_code == 429:
            break
    refused = answers[-1]
    google_error(refused, 429, "RESOURCE_EXHAUSTED")
    assert refused.headers["Retry-After"] == "1"
    assert len(analyzer.calls) == len(answers) - 1  # a refused request reaches no worker
    wait_until(lambda: analyze(client, slow, body).status_code == 200, timeout=3)


def test_quota_counts_per_key_per_second(redis_client, redis_prefix):
    now = [100.25]
    quota = Quota(redis_client, redis_prefix, clock=lambda: now[0])
    assert [quota.take("a", 2) for _ in range(3)] == [None, None, 0.75]
    assert quota.take("b", 2) is None  # another key has its own count
    now[0] = 101.0
    assert quota.take("a", 2) is None


# -- hostile input: always a 4xx in Google's shape ---------------------------------------------------
HOSTILE = [
    b"", b"null", b"[]", b'"text"', b"{", b"\xff\xfe", b"[" * 60_000, b'{"comment": null}',
    json.dumps({"comment": {"text": 5}, "requestedAttributes": {"TOXICITY": {}}}).encode(),
    json.dumps({"comment": {"text": "  "}, "requestedAttributes": {"TOXICITY": {}}}).encode(),
    json.dumps({"comment": {"text": "x" * 20_481}, "requestedAttributes": {"TOXICITY": {}}}).encode(),
    json.dumps({"comment": {"text": "a\x00b"}, "requestedAttributes": {"TOXICITY": {}}}).encode(),
    json.dumps({"comment": {"text": "x", "type": "PDF"}, "requestedAttributes": {"TOXICITY": {}}}).encode(),
    json.dumps({"comment": {"text": "x"}}).encode(),
    json.dumps({"comment": {"text": "x"}, "requestedAttributes": []}).encode(),
    json.dumps({"comment": {"text": "x"}, "requestedAttributes": {"FLIRTATION": {}}}).encode(),
    json.dumps({"comment": {"text": "x"}, "requestedAttributes": {"TOXICITY": None, "INSULT": 3}}).encode(),
    json.dumps({"comment": {"text": "x"},
                "requestedAttributes": {"TOXICITY": {"scoreType": "STD_DEV_SCORE"}}}).encode(),
    json.dumps({"comment": {"text": "x"}, "requestedAttributes": {"TOXICITY": {"scoreThreshold": 2}}}).encode(),
    json.dumps({"comment": {"text": "x"}, "requestedAttributes": {"TOXICITY": {"scoreThreshold": True}}}).encode(),
    b'{"comment": {"text": "x"}, "requestedAttributes": {"TOXICITY": {"scoreThreshold": NaN}}}',
    b'{"comment": {"text": "x"}, "requestedAttributes": {"TOXICITY": {"scoreThreshold": 1e999}}}',
    json.dumps({"comment": {"text": "x"}, "requestedAttributes": {"TOXICITY": {}}, "languages": "en"}).encode(),
    json.dumps({"comment": {"text": "x"}, "requestedAttributes": {"TOXICITY": {}}, "languages": ["e\n"]}).encode(),
    json.dumps({"comment": {"text": "x"}, "requestedAttributes": {"TOXICITY": {}}, "doNotStore": "yes"}).encode(),
    json.dumps({"comment": {"text": "x"}, "requestedAttributes": {"TOXICITY": {}}, "clientToken": "t" * 300}).encode(),
    json.dumps({"comment": {"text": "x"}, "requestedAttributes": {"TOXICITY": {}}, "context": "c"}).encode(),
]


@pytest.mark.parametrize("raw", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_analyze_bodies_are_400(client, key, analyzer, raw):
    response = client.post(f"/v1alpha1/comments:analyze?key={key}", data=raw,
                           headers={"Content-Type": "application/json"})
    google_error(response, 400, "INVALID_ARGUMENT")


HOSTILE_SUGGESTIONS = [
    {"comment": {"text": "x"}},
    {"comment": {"text": "x"}, "attributeScores": {"toxicity": {"summaryScore": {"value": 1}}}},
    {"comment": {"text": "x"}, "attributeScores": {"TOXICITY": {"summaryScore": {"value": 1.5}}}},
    {"comment": {"text": "x"}, "attributeScores": {"TOXICITY": {"summaryScore": None}}},
    {"comment": {"text": "x"}, "attributeScores": {"TOXICITY": {}}},
    {"comment": {"text": "x"}, "attributeScores": {f"A{i}": {"summaryScore": {"value": 1}} for i in range(21)}},
    {"comment": {"text": "x"}, "attributeScores": {"TOXICITY": {"summaryScore": {"value": 1}}}, "communityId": 5},
]


@pytest.mark.parametrize("body", HOSTILE_SUGGESTIONS, ids=range(len(HOSTILE_SUGGESTIONS)))
def test_hostile_suggestions_are_400_and_store_nothing(client, key, db, body):
    google_error(client.post(f"/v1alpha1/comments:suggestscore?key={key}", json=body), 400, "INVALID_ARGUMENT")
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(PerspectiveFeedback)) == 0


def test_other_methods_and_paths_answer_in_googles_shape(client, key):
    google_error(client.get(f"/v1alpha1/comments:analyze?key={key}"), 405, "INVALID_ARGUMENT")
    google_error(client.post(f"/v1alpha1/comments:classify?key={key}", json={}), 404, "NOT_FOUND")
    google_error(client.post(f"/v1alpha1/comments:analyze?key={key}", data=b"x" * 70_000,
                             headers={"Content-Type": "application/json"}), 413, "INVALID_ARGUMENT")
    # The rest of the API keeps its own error shape.
    assert set(client.get("/api/v1/nowhere").json["error"]) == {"code", "message", "details"}


def test_analyze_stores_nothing(client, key, db, analyzer):
    body = {"comment": {"text": "what an idiot"}, "requestedAttributes": {"TOXICITY": {}}, "doNotStore": False}
    assert analyze(client, key, body).status_code == 200
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(PerspectiveFeedback)) == 0


def test_the_routes_stay_out_of_openapi(client):
    paths = client.get("/openapi.json").json["paths"]
    assert paths and not [p for p in paths if p.startswith("/v1alpha1")]


def test_the_prefix_is_configurable(app_factory):
    app = app_factory(perspective_prefix="/perspective/v1alpha1")
    app.extensions["civility"].analyzer = FakeAnalyzer()
    key = create_key(app.extensions["civility"].db, "other")
    client = app.test_client()
    body = {"comment": {"text": "x"}, "requestedAttributes": {"TOXICITY": {}}}
    assert client.post(f"/perspective/v1alpha1/comments:analyze?key={key}", json=body).status_code == 200
    assert client.post(f"/v1alpha1/comments:analyze?key={key}", json=body).status_code == 404


def test_sentences():
    assert sentences("One. Two!  Three?\n\nFour") == [(0, 4), (5, 9), (11, 17), (19, 23)]
    assert sentences("   ") == []
    assert sentences("no end") == [(0, 6)]
    assert len(sentences("a. " * 500)) == 200


# -- the keys command --------------------------------------------------------------------------------
def test_keys_cli(settings):
    from click.testing import CliRunner

    from service.cli import main
    from tests.helpers import settings_env

    env = settings_env(settings)
    runner = CliRunner()
    created = runner.invoke(main, ["keys", "create", "forum", "--qps", "5"], env=env)
    assert created.exit_code == 0, created.output
    assert created.output.strip().startswith("civk_")
    assert runner.invoke(main, ["keys", "create", "forum"], env=env).exit_code == 1
    listed = runner.invoke(main, ["keys", "list"], env=env)
    assert listed.output == "forum\t5 qps\tactive\n" and "civk_" not in listed.output
    assert runner.invoke(main, ["keys", "revoke", "forum"], env=env).exit_code == 0
    assert "revoked" in runner.invoke(main, ["keys", "list"], env=env).output
    assert runner.invoke(main, ["keys", "revoke", "forum"], env=env).exit_code == 1


# -- end to end: the real analyzer, a real worker ------------------------------------------------------
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_end_to_end_with_a_real_worker(app, client, settings, worker_process, key):
    worker = worker_process(settings)  # CIVILITY_SCORER=profanity: the fallback
    body = {"comment": {"text": "you are a fucking idiot. Have a nice day."}, "languages": ["en"],
            "doNotStore": True, "requestedAttributes": {"PROFANITY": {}}, "spanAnnotations": True}

    def answered():
        response = analyze(client, key, body)
        return response if response.status_code == 200 else None

    response = wait_until(answered, timeout=60, interval=0.5, message=lambda: worker.output()[-2000:])
    scores = response.json["attributeScores"]["PROFANITY"]
    assert scores["summaryScore"]["value"] > 0.5
    assert [s["begin"] for s in scores["spanScores"]] == [0, 25]
    assert scores["spanScores"][0]["score"]["value"] > scores["spanScores"][1]["score"]["value"]
    refused = analyze(client, key, {**body, "requestedAttributes": {"TOXICITY": {}}})
    assert "TOXICITY" in google_error(refused, 400, "INVALID_ARGUMENT")
