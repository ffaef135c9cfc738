"""The moderation backtest: its metrics on hand-computed data, `civility backtest` (--csv and
--decisions) as an operator runs it, and `GET /api/v1/moderation/backtest`."""

from __future__ import annotations

import io
import itertools
import json
import os
import random
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from civility import backtest
from civility.backtest import Confusion, Outcome, Sample, roc_auc, threshold_for_precision
from civility.errors import Invalid
from civility.policy import DEFAULT_THRESHOLDS, LabelThreshold, decide
from civility.statuses import Status
from civility.store.migrate import upgrade
from tests.helpers import ABUSE, ROOT, assert_error, bearer, post, settings_env


def no_words(text: str) -> tuple[list[str], list[str]]:
    return [], []


def civility(*args: str, env: dict, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "service.cli", *args], env={**os.environ, **env}, cwd=ROOT,
                          capture_output=True, text=True, timeout=180, input=stdin)


# -- metrics on hand-computed data ------------------------------------------------------------------
def test_roc_auc_from_the_rank_statistic_with_ties():
    # Positives 0.9, 0.8, 0.1; negatives 0.8, 0.3. Pairs won: 0.9 beats both (2), 0.8 beats 0.3 and
    # ties 0.8 (1.5), 0.1 beats none: 3.5 of 6.
    assert roc_auc([1, 0, 1, 0, 1], [0.9, 0.8, 0.8, 0.3, 0.1]) == pytest.approx(3.5 / 6)
    assert roc_auc([1, 1, 0, 0], [0.9, 0.8, 0.2, 0.1]) == 1.0
    assert roc_auc([0, 0, 1, 1], [0.9, 0.8, 0.2, 0.1]) == 0.0
    assert roc_auc([1, 0, 1, 0], [0.5, 0.5, 0.5, 0.5]) == 0.5
    # Positives 0.7, 0.4 against negatives 0.4, 0.4, 0.2: 3 + (0.5 + 0.5 + 1) = 5 of 6.
    assert roc_auc([1, 0, 1, 0, 0], [0.7, 0.4, 0.4, 0.4, 0.2]) == pytest.approx(5 / 6)


def test_roc_auc_needs_both_classes():
    assert roc_auc([1, 1], [0.2, 0.9]) is None
    assert roc_auc([0, 0], [0.2, 0.9]) is None
    assert roc_auc([], []) is None
    with pytest.raises(ValueError):
        roc_auc([1, 0], [0.5])


def test_roc_auc_equals_counting_every_pair():
    rng = random.Random(7)
    for _ in range(50):
        n = rng.randint(2, 40)
        labels = [rng.randint(0, 1) for _ in range(n)]
        scores = [rng.choice([0.0, 0.1, 0.25, 0.5, 0.75, 1.0]) for _ in range(n)]
        pos = [s for s, y in zip(scores, labels, strict=True) if y]
        neg = [s for s, y in zip(scores, labels, strict=True) if not y]
        if not pos or not neg:
            continue
        won = sum(1.0 if p > q else 0.5 if p == q else 0.0 for p, q in itertools.product(pos, neg))
        assert roc_auc(labels, scores) == pytest.approx(won / (len(pos) * len(neg)))


def test_precision_recall_and_false_positive_rate():
    c = Confusion.of([1, 1, 1, 0, 0, 0, 0], [True, True, False, True, False, False, False])
    assert (c.true_positive, c.false_negative, c.false_positive, c.true_negative) == (2, 1, 1, 3)
    assert c.precision == pytest.approx(2 / 3)
    assert c.recall == pytest.approx(2 / 3)
    assert c.false_positive_rate == pytest.approx(1 / 4)
    nothing_held = Confusion.of([1, 0], [False, False])
    assert nothing_held.precision is None and nothing_held.recall == 0.0 and nothing_held.false_positive_rate == 0.0
    assert Confusion.of([0], [True]).recall is None
    assert Confusion.of([1], [True]).false_positive_rate is None


# Scores from high to low with their labels; 5 should be held. Holding at each score in turn:
# 0.95: 1/1 held rightly, recall 0.2; 0.9: 2/2, 0.4; 0.8: 2/3; 0.7: 3/4, 0.6; 0.6: 4/5 (0.8), 0.8;
# 0.5: 4/6; 0.4: 4/7; 0.2: 5/8, recall 1.
TARGET_SCORES = [0.95, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.2]
TARGET_LABELS = [1, 1, 0, 1, 1, 0, 0, 1]


@pytest.mark.parametrize("target,hold,precision,recall", [
    (0.9, 0.9, 1.0, 0.4),
    (1.0, 0.9, 1.0, 0.4),
    (0.8, 0.6, 0.8, 0.8),
    (0.75, 0.6, 0.8, 0.8),  # 0.7 reaches 0.75 too, but 0.6 holds more of what should be held
    (0.6, 0.2, 0.625, 1.0),
])
def test_the_hold_threshold_for_a_target_precision(target, hold, precision, recall):
    found = threshold_for_precision(TARGET_LABELS, TARGET_SCORES, target)
    assert found is not None
    assert (found.hold, found.precision, found.recall) == (hold, pytest.approx(precision), pytest.approx(recall))


def test_a_target_precision_out_of_reach():
    # Tied scores are held together: 0.9 holds one right and one wrong, 50% at best.
    assert threshold_for_precision([1, 0, 0], [0.9, 0.9, 0.1], 0.9) is None
    assert threshold_for_precision([0, 0], [0.9, 0.1], 0.5) is None  # nothing should be held
    assert threshold_for_precision([0, 1], [0.9, 0.1], 0.9) is None


# -- the report -------------------------------------------------------------------------------------
def test_the_report_on_stored_scores_with_word_lists():
    thresholds = {"toxicity": LabelThreshold(hold=0.7), "threat": LabelThreshold(hold=0.5, reject=0.9)}
    samples = [
        Sample("a", 1, {"toxicity": 0.95, "threat": 0.1, "mood": 0.3}),
        Sample("b", 1, {"toxicity": 0.2, "threat": 0.92, "mood": 0.9}),  # rejected for its threat score
        Sample("c", 1, {"toxicity": 0.1, "threat": 0.1, "mood": 0.5}),  # missed
        Sample("spam d", 1, {"toxicity": 0.1, "threat": 0.0, "mood": 0.2}),  # held by the word lists
        Sample("e", 0, {"toxicity": 0.75, "threat": 0.0, "mood": 0.1}),  # held wrongly
        Sample("f", 0, {"toxicity": 0.3, "threat": 0.2, "mood": 0.8}),
        Sample("g", 0, {"toxicity": 0.05, "threat": 0.05, "mood": 0.4}),
    ]

    def words(text):
        return (["word list (hold): spam"], []) if "spam" in text else ([], [])

    outcomes = backtest.evaluate(samples, thresholds, words)
    assert [o.held for o in outcomes] == [True, True, False, True, True, False, False]
    assert [o.by_word_lists for o in outcomes] == [False, False, False, True, False, False, False]
    result = backtest.report(outcomes, thresholds, source="decisions", scores="stored", scorers=[])
    overall = result["overall"]
    assert overall["confusion"] == {"true_positive": 3, "false_positive": 1, "true_negative": 2,
                                    "false_negative": 1}
    assert (overall["precision"], overall["recall"], overall["false_positive_rate"]) == (0.75, 0.75, 0.3333)
    assert overall["held_by_word_lists"] == 1
    # Ranked by the highest score among labels with a threshold ("mood" has none):
    # positives 0.95, 0.92, 0.1, 0.1 against negatives 0.75, 0.3, 0.05: 3 + 3 + 1 + 1 = 8 of 12 pairs.
    assert overall["roc_auc"] == round(8 / 12, 4)
    toxicity = result["labels"]["toxicity"]
    assert toxicity["hold"] == 0.7 and toxicity["reject"] is None
    assert toxicity["confusion"] == {"true_positive": 1, "false_positive": 1, "true_negative": 2,
                                     "false_negative": 3}
    assert toxicity["target"] == {"reachable": True, "hold": 0.95, "precision": 1.0, "recall": 0.25}
    threat = result["labels"]["threat"]
    assert threat["held"] == 1 and threat["precision"] == 1.0 and threat["recall"] == 0.25
    mood = result["labels"]["mood"]  # reported, but it decides nothing
    assert mood["hold"] is None and mood["precision"] is None and mood["confusion"] is None
    # positives 0.3, 0.9, 0.5, 0.2 against negatives 0.1, 0.8, 0.4: 1 + 3 + 2 + 1 = 7 of 12 pairs.
    assert mood["roc_auc"] == round(7 / 12, 4)
    assert mood["target"] == {"reachable": True, "hold": 0.9, "precision": 1.0, "recall": 0.25}


def test_scores_are_rounded_as_a_worker_stores_them_before_the_policy_decides():
    class Scorer:
        def score(self, texts):
            return [{"toxicity": 0.69996} for _ in texts]

    outcomes = backtest.evaluate([Sample("x", 1)], DEFAULT_THRESHOLDS, no_words, Scorer())
    assert outcomes == [Outcome(1, {"toxicity": 0.7}, True, False)]


def test_reading_a_labelled_csv():
    samples = backtest.read_csv(io.StringIO('id,text,label\n1,"Hello, there",0\n2,"line one\nline two", 1\n'))
    assert samples == [Sample("Hello, there", 0), Sample("line one\nline two", 1)]
    for bad, message in [("text\nhi\n", "columns text and label"), ("", "columns text and label"),
                         ("text,label\nhi,2\n", "line 2: label must be 0 or 1"),
                         ("text,label\nhi,1\n  ,0\n", "line 3: empty text"), ("text,label\n", "no rows")]:
        with pytest.raises(Invalid, match=message):
            backtest.read_csv(io.StringIO(bad))


def test_since_is_an_iso_date_or_time_in_utc():
    assert backtest.parse_since("2026-01-31") == datetime(2026, 1, 31, tzinfo=UTC)
    assert backtest.parse_since("2026-01-31T12:00:00+02:00") == datetime(2026, 1, 31, 10, tzinfo=UTC)
    assert backtest.parse_since("2026-01-31T12:00:00Z") == datetime(2026, 1, 31, 12, tzinfo=UTC)
    for bad in ["yesterday", "2026-13-01", "", "9999-12-31T23:59:59-14:00", "2026-01-31\x00"]:
        with pytest.raises(Invalid):
            backtest.parse_since(bad)


# -- `civility backtest --csv` against `civility score` ----------------------------------------------------
LABELLED = [
    ("Thank you for this report.", 0),
    ("I disagree, but it is a fair point.", 0),
    ("What a load of shit this article is", 0),  # the moderators let this one through
    ("Great reporting, as always.", 0),
    ("This government should resign, frankly.", 0),
    (ABUSE, 1),
    ("shut up you stupid fucking moron", 1),
    ("I know where you live and I will hurt you", 1),  # a threat without a swear word
    ("fuck off and die", 1),
]


@pytest.fixture
def cli_env(tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    upgrade(url)
    return {"CIVILITY_DATABASE_URL": url, "CIVILITY_SCORER": "profanity"}


def test_backtest_csv_agrees_with_civility_score_text_by_text(tmp_path, cli_env):
    path = tmp_path / "labelled.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        handle.write("text,label\n")
        for text, label in LABELLED:
            handle.write('"' + text.replace('"', '""') + f'",{label}\n')
    ran = civility("backtest", "--csv", str(path), "--json", env=cli_env)
    assert ran.returncode == 0, ran.stderr
    result = json.loads(ran.stdout)

    held = []
    for text, _ in LABELLED:
        scored = civility("score", "--json", text, env=cli_env)
        assert scored.returncode == 0, scored.stderr
        row = json.loads(scored.stdout)["results"][0]
        decision = decide(row["scores"], DEFAULT_THRESHOLDS)
        assert decision.status.value == row["decision"]
        held.append(decision.status in (Status.FLAGGED, Status.REJECTED))
    expected = Confusion.of([label for _, label in LABELLED], held)
    assert result["overall"]["recall"] == round(expected.recall, 4)
    assert result["overall"]["false_positive_rate"] == round(expected.false_positive_rate, 4)
    assert result["overall"]["confusion"]["true_positive"] == expected.true_positive
    assert result["overall"]["confusion"]["false_positive"] == expected.false_positive
    # The weak fallback misses the polite threat and holds the swearing the moderators allowed.
    assert 0 < expected.recall < 1 and expected.false_positive_rate > 0
    assert result["source"] == "csv" and result["scores"] == "rescored"
    assert result["scorers"][0]["name"] == "profanity" and result["scorers"][0]["fallback"] is True
    assert result["warning"]

    table = civility("backtest", "--csv", str(path), env=cli_env)
    assert table.returncode == 0, table.stderr
    assert "backtest of 9 texts from the CSV" in table.stdout
    assert "4 should be held, 5 should be published" in table.stdout
    assert "profanity" in table.stdout and "overall" in table.stdout


def test_the_word_lists_hold_what_the_scorer_misses(tmp_path, cli_env):
    added = civility("wordlist", "add", "hold", "vermin", env=cli_env)
    assert added.returncode == 0, added.stderr
    path = tmp_path / "words.csv"
    path.write_text("text,label\n\"they are vermin, every one of them\",1\nhello there,0\n")
    ran = civility("backtest", "--csv", str(path), "--json", env=cli_env)
    assert ran.returncode == 0, ran.stderr
    result = json.loads(ran.stdout)
    assert result["overall"]["held_by_word_lists"] == 1
    assert (result["overall"]["recall"], result["overall"]["false_positive_rate"]) == (1.0, 0.0)
    assert result["labels"]["profanity"]["recall"] == 0.0  # the score alone misses it


def test_backtest_usage_and_input_errors_are_one_line(tmp_path, cli_env):
    for args, message in [((), "give one of --csv FILE, --decisions or --feedback"),
                          (("--decisions", "--csv", "-"), "give one of --csv FILE, --decisions or --feedback"),
                          (("--csv", "-", "--rescore"), "--rescore with --decisions"),
                          (("--feedback",), "no suggested scores to test against"),
                          (("--decisions", "--since", "last week"), "since must be an ISO 8601 date"),
                          (("--decisions", "--target-precision", "0"), "--target-precision")]:
        ran = civility("backtest", *args, env=cli_env, stdin="")
        assert ran.returncode != 0 and message in ran.stderr, (args, ran.stderr)
        assert "Traceback" not in ran.stderr
    ran = civility("backtest", "--csv", "-", env=cli_env, stdin="text,label\nhello,yes\n")
    assert ran.returncode == 1 and "line 2: label must be 0 or 1" in ran.stderr


def test_backtest_feedback_uses_what_perspective_clients_suggested(cli_env):
    from civility.store.db import Database
    from civility.store.perspective import FeedbackRepository

    db = Database(cli_env["CIVILITY_DATABASE_URL"])
    with db.transaction() as session:
        repo = FeedbackRepository(session)
        for text, attribute, value in [("fuck off, idiot", "DELETED", 1.0), ("thanks for the report", "APPROVED", 1.0),
                                       ("what a load of shit", "TOXICITY", 0.9), ("a calm reply", "TOXICITY", 0.1),
                                       ("thanks for the report", "APPROVED", 1.0)]:  # a repeat counts once
            repo.add(key_name="coral", community_id=None, text=text, attribute=attribute, value=value,
                     client_token=None)
    db.dispose()
    ran = civility("backtest", "--feedback", "--json", env=cli_env)
    assert ran.returncode == 0, ran.stderr
    result = json.loads(ran.stdout)
    assert result["source"] == "feedback" and result["texts"] == 4
    assert (result["positives"], result["negatives"]) == (2, 2)
    assert result["overall"]["recall"] == 1.0 and result["overall"]["false_positive_rate"] == 0.0
    table = civility("backtest", "--feedback", env=cli_env)
    assert "from Perspective clients' suggested scores" in table.stdout


# -- --decisions, over decisions made through the API --------------------------------------------------
def moderate(client, token, comment_id, action):
    r = client.post(f"/api/v1/moderation/comments/{comment_id}/decision", headers=bearer(token),
                    json={"action": action})
    if r.status_code == 409:  # deciding again: a deliberate override, with the current version
        r = client.post(f"/api/v1/moderation/comments/{comment_id}/decision", headers=bearer(token),
                        json={"action": action, "version": r.json["error"]["details"]["current_version"]})
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.json


@pytest.fixture
def decided(client, drain, moderator_token):
    """Comments scored by the profanity scorer and decided by a moderator through the API."""
    def comment(body, n):
        r = post(client, body, name=f"Reader{n}", environ_base={"REMOTE_ADDR": f"198.51.{n}.7"})
        assert r.status_code in (201, 202), r.get_data(as_text=True)
        return r.json

    texts = [("Thank you for this careful report.", "approve"),
             ("What a load of shit this article is", "approve"),
             ("I know where you live and I will hurt you", "reject"),
             (ABUSE, "reject"),
             ("shut up you stupid fucking moron", "reject"),
             ("The minister should answer these questions.", "approve")]
    made = [comment(body, n) for n, (body, _) in enumerate(texts)]
    edited = comment("An opinion I will soon change.", 50)
    drain()
    for c, (_, action) in zip(made, texts, strict=True):
        moderate(client, moderator_token, c["id"], action)
    # Decided twice: only the latest decision counts (reject).
    moderate(client, moderator_token, made[0]["id"], "reject")
    moderate(client, moderator_token, made[0]["id"], "approve")
    # Approved, then edited: the text it was decided on is gone.
    moderate(client, moderator_token, edited["id"], "approve")
    r = client.patch(f"/api/v1/comments/{edited['id']}", json={"body": "A different opinion now."},
                     headers={"X-Edit-Token": edited["edit_token"]})
    assert r.status_code == 200, r.get_data(as_text=True)
    # Rejected before any worker scored it: no stored score for the decided text.
    unscored = comment("you utter fucking moron", 51)
    moderate(client, moderator_token, unscored["id"], "reject")
    return texts


def test_backtest_decisions_uses_the_stored_scores_and_agrees_with_rescoring(client, settings, decided,
                                                                              moderator_token):
    env = settings_env(settings)
    stored = civility("backtest", "--decisions", "--json", env=env)
    assert stored.returncode == 0, stored.stderr
    result = json.loads(stored.stdout)
    assert result["source"] == "decisions" and result["scores"] == "stored"
    assert (result["texts"], result["positives"], result["negatives"]) == (6, 3, 3)
    assert result["skipped"] == {"edited_since_decision": 1, "unscored": 1}
    assert result["scorers"] == [{"name": "profanity", "version": result["scorers"][0]["version"],
                                  "fallback": True, "texts": 6}]
    assert "(fallback)" in result["scorers"][0]["version"] and result["warning"]
    # What the moderators decided against what the profanity fallback held: it missed the threat
    # and held the swearing they let through.
    overall = result["overall"]
    assert overall["confusion"] == {"true_positive": 2, "false_positive": 1, "true_negative": 2,
                                    "false_negative": 1}
    assert (overall["precision"], overall["recall"], overall["false_positive_rate"]) == (0.6667, 0.6667, 0.3333)

    # The endpoint serves the same report, from the same stored scores.
    api = client.get("/api/v1/moderation/backtest", headers=bearer(moderator_token))
    assert api.status_code == 200, api.get_data(as_text=True)
    assert api.json == result

    # Scoring the decided texts again with the same scorer gives the same answers, plus the text
    # that had no score.
    again = civility("backtest", "--decisions", "--rescore", "--json", env=env)
    assert again.returncode == 0, again.stderr
    rescored = json.loads(again.stdout)
    assert rescored["scores"] == "rescored" and rescored["texts"] == 7
    assert rescored["skipped"] == {"edited_since_decision": 1, "unscored": 0}
    assert rescored["overall"]["confusion"] == {**overall["confusion"], "true_positive": 3}

    future = civility("backtest", "--decisions", "--since", "2999-01-01", "--json", env=env)
    assert json.loads(future.stdout)["texts"] == 0
    past = civility("backtest", "--decisions", "--since", "2000-01-01T00:00:00+01:00", "--json", env=env)
    assert json.loads(past.stdout)["overall"] == overall
    table = civility("backtest", "--decisions", env=env)
    assert "skipped: 1 edited since the decision, 1 without a score for the decided text" in table.stdout


# -- the JSON schema (docs/api.md, "Backtest report") ---------------------------------------------------
CONFUSION = {"true_positive", "false_positive", "true_negative", "false_negative"}
OVERALL = {"texts", "positives", "roc_auc", "held", "precision", "recall", "false_positive_rate", "confusion",
           "held_by_word_lists"}
LABEL = {"texts", "positives", "hold", "reject", "roc_auc", "held", "precision", "recall", "false_positive_rate",
         "confusion", "target"}
TOP = {"schema", "source", "scores", "since", "target_precision", "thresholds", "scorers", "warning", "texts",
       "positives", "negatives", "skipped", "truncated", "overall", "labels"}


def assert_schema(result: dict) -> None:
    assert set(result) == TOP
    assert result["schema"] == "civility.backtest/1"
    assert result["source"] in ("csv", "decisions") and result["scores"] in ("stored", "rescored")
    assert set(result["skipped"]) == {"edited_since_decision", "unscored"}
    assert isinstance(result["truncated"], bool)
    assert all(set(t) == {"hold", "reject"} for t in result["thresholds"].values())
    assert all(set(s) == {"name", "version", "fallback", "texts"} for s in result["scorers"])
    assert set(result["overall"]) == OVERALL and set(result["overall"]["confusion"]) == CONFUSION
    for entry in result["labels"].values():
        assert set(entry) == LABEL
        assert entry["confusion"] is None or set(entry["confusion"]) == CONFUSION
        assert set(entry["target"]) == {"reachable", "hold", "precision", "recall"}
        for key in ("roc_auc", "precision", "recall", "false_positive_rate"):
            assert entry[key] is None or 0 <= entry[key] <= 1


def test_the_json_report_keeps_its_documented_shape(tmp_path, cli_env, client, moderator_token):
    path = tmp_path / "one.csv"
    path.write_text("text,label\nhello there,0\nfuck you,1\n")
    ran = civility("backtest", "--csv", str(path), "--json", "--target-precision", "0.5", env=cli_env)
    assert ran.returncode == 0, ran.stderr
    result = json.loads(ran.stdout)
    assert_schema(result)
    assert result["target_precision"] == 0.5 and result["since"] is None
    assert result["labels"]["profanity"]["target"]["reachable"] is True
    empty = client.get("/api/v1/moderation/backtest?since=2026-01-31&target_precision=0.8",
                       headers=bearer(moderator_token))
    assert empty.status_code == 200
    assert_schema(empty.json)
    assert empty.json["texts"] == 0 and empty.json["labels"] == {} and empty.json["overall"]["roc_auc"] is None
    assert empty.json["since"] == "2026-01-31T00:00:00.000Z" and empty.json["target_precision"] == 0.8
    docs = (ROOT / "docs" / "api.md").read_text()
    for key in TOP | OVERALL | LABEL:
        assert f"`{key}`" in docs, key


# -- the endpoint ----------------------------------------------------------------------------------
def test_the_endpoint_needs_a_moderator(client):
    assert_error(client.get("/api/v1/moderation/backtest"), 401)
    assert_error(client.get("/api/v1/moderation/backtest", headers=bearer("civ_1_nope")), 401)


@pytest.mark.parametrize("query", [
    "since=yesterday", "since=2026-13-01", "since=9999-12-31T23:59:59-14:00", "since=0001-01-01T00:00:00%2B14:00",
    "since=2026-01-01%00", "since=" + "2" * 5000, "since=", "since=%ED%A0%80",
    "target_precision=0", "target_precision=1.5", "target_precision=-1", "target_precision=nan",
    "target_precision=inf", "target_precision=1e999", "target_precision=" + "9" * 5000, "target_precision=x",
])
def test_hostile_queries_are_422_never_5xx(client, moderator_token, query):
    r = client.get(f"/api/v1/moderation/backtest?{query}", headers=bearer(moderator_token))
    assert_error(r, 422, "invalid")


def test_odd_but_valid_queries_are_answered(client, moderator_token):
    for query in ["since=0001-01-01", "since=2026-01-31T12:00:00.123456%2B05:30", "target_precision=1",
                  "target_precision=0.0001", "unknown=1", "since=2026-01-01&since=2027-01-01"]:
        r = client.get(f"/api/v1/moderation/backtest?{query}", headers=bearer(moderator_token))
        assert r.status_code == 200, (query, r.get_data(as_text=True))
