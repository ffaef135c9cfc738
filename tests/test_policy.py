"""The moderation policy and status rules, in plain Python."""

import pytest

from civility.config import ConfigError, Settings, parse_rate_limits
from civility.policy import DEFAULT_THRESHOLDS, LabelThreshold, decide, parse_thresholds
from civility.statuses import Status, TransitionError, check_transition


def test_scores_below_every_hold_threshold_publish():
    decision = decide({"toxicity": 0.1, "insult": 0.2}, DEFAULT_THRESHOLDS)
    assert decision.status == Status.PUBLISHED
    assert decision.reasons == []


def test_hold_threshold_flags_with_readable_reasons_highest_first():
    decision = decide({"toxicity": 0.93, "insult": 0.75, "threat": 0.01}, DEFAULT_THRESHOLDS)
    assert decision.status == Status.FLAGGED
    assert decision.reasons == ["toxicity 0.93 >= 0.70", "insult 0.75 >= 0.70"]


def test_reject_threshold_rejects_without_a_moderator():
    decision = decide({"severe_toxicity": 0.95, "toxicity": 0.99}, DEFAULT_THRESHOLDS)
    assert decision.status == Status.REJECTED
    assert decision.reasons[0] == "severe_toxicity 0.95 >= 0.90"
    assert "toxicity 0.99 >= 0.70" in decision.reasons


def test_labels_without_thresholds_never_decide():
    assert decide({"made_up_label": 1.0}, DEFAULT_THRESHOLDS).status == Status.PUBLISHED


def test_a_score_exactly_at_the_threshold_holds():
    assert decide({"toxicity": 0.70}, DEFAULT_THRESHOLDS).status == Status.FLAGGED


def test_thresholds_from_json_override_per_label():
    thresholds = parse_thresholds({"toxicity": {"hold": 0.5, "reject": 0.9}})
    assert thresholds["toxicity"] == LabelThreshold(0.5, 0.9)
    assert thresholds["insult"] == DEFAULT_THRESHOLDS["insult"]


@pytest.mark.parametrize("raw", [[], {"toxicity": 0.5}, {"toxicity": {"hold": 2}},
                                 {"toxicity": {"hold": 0.8, "reject": 0.5}}])
def test_bad_thresholds_are_refused(raw):
    with pytest.raises(ValueError):
        parse_thresholds(raw)


def test_settings_reject_bad_values_with_the_variable_name():
    with pytest.raises(ConfigError, match="CIVILITY_SCORER"):
        Settings.from_env({"CIVILITY_SCORER": "perspective"})
    with pytest.raises(ConfigError, match="CIVILITY_THRESHOLDS"):
        Settings.from_env({"CIVILITY_THRESHOLDS": "{not json"})


def test_rate_limits_parse_and_turn_off():
    assert parse_rate_limits("comment=1/minute")["comment"] == "1/minute"
    assert parse_rate_limits("comment=1/minute")["share"] == "30/minute"
    assert parse_rate_limits("off") is None


def test_deleted_is_final_and_rejected_cannot_go_back_to_pending():
    with pytest.raises(TransitionError):
        check_transition("deleted", "published")
    with pytest.raises(TransitionError):
        check_transition("rejected", "pending")
    check_transition("flagged", "published")
