"""The comment life cycle on plain objects: no Redis, no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from civility import lifecycle
from civility.errors import Conflict, Forbidden
from civility.moderators import ModeratorIdentity
from civility.policy import DEFAULT_THRESHOLDS, SCORING_FAILED_REASON, ModerationMode, decide
from civility.statuses import Action, Status, TransitionError, check_transition
from civility.store.models import Comment

T0 = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
ALICE = ModeratorIdentity(1, "alice", "moderator")
BOB = ModeratorIdentity(2, "bob", "moderator")
ROOT_ADMIN = ModeratorIdentity(3, "root", "admin")


def submitted(mode=ModerationMode.PRE, at=T0) -> tuple[Comment, lifecycle.Event]:
    comment = Comment(article_id="a", author_name="Ann", body="Hello there", html="<p>Hello there</p>")
    return comment, lifecycle.submit(comment, mode, "author:Ann", at, deadline_seconds=60)


def scored(comment: Comment, scores: dict[str, float], at=T0) -> lifecycle.Event:
    return lifecycle.apply_score(comment, scores, decide(scores, DEFAULT_THRESHOLDS), "profanity", "v1", at)


def test_a_new_comment_waits_for_its_score_in_pre_moderation():
    comment, event = submitted()
    assert comment.status == Status.PENDING and comment.version == 1 and comment.needs_score
    assert comment.score_due_at == T0 + timedelta(seconds=60)
    assert (event.action, event.from_status, event.to_status) == (Action.CREATE, None, Status.PENDING)
    assert not event.first_publication and comment.published_at is None


def test_post_moderation_publishes_at_once_and_counts_the_publication():
    comment, event = submitted(ModerationMode.POST)
    assert comment.status == Status.PUBLISHED and event.first_publication and comment.published_at == T0


def test_a_low_score_publishes_and_bumps_the_version():
    comment, _ = submitted()
    comment.claim_token, comment.claimed_until = "lease", T0
    event = scored(comment, {"profanity": 0.01})
    assert comment.status == Status.PUBLISHED and comment.version == 2
    assert not comment.needs_score and comment.score_due_at is None
    assert comment.claim_token is None and comment.claimed_until is None
    assert event.action == Action.SCORE and event.reason == "below every hold threshold"
    assert event.first_publication


def test_a_high_score_holds_with_its_reason():
    comment, _ = submitted()
    event = scored(comment, {"profanity": 0.93})
    assert comment.status == Status.FLAGGED
    assert comment.reasons == ["profanity 0.93 >= 0.70"] and event.reason == "profanity 0.93 >= 0.70"


def test_a_late_score_does_not_overrule_a_moderator():
    comment, _ = submitted()
    lifecycle.decide(comment, Action.REJECT, ALICE, T0 + timedelta(seconds=1))
    event = scored(comment, {"profanity": 0.01}, at=T0 + timedelta(seconds=2))
    assert comment.status == Status.REJECTED
    assert (event.from_status, event.to_status) == (Status.REJECTED, Status.REJECTED)


def test_an_edit_is_scored_again_before_others_see_it():
    comment, _ = submitted()
    scored(comment, {"profanity": 0.01})
    event = lifecycle.revise(comment, "New text", "<p>New text</p>", None, ModerationMode.PRE, "author:Ann",
                             T0 + timedelta(minutes=1), deadline_seconds=60)
    assert event is not None and (event.from_status, event.to_status) == (Status.PUBLISHED, Status.PENDING)
    assert comment.revision == 2 and comment.needs_score and comment.scoring_attempts == 0
    assert comment.version == 3
    same = lifecycle.revise(comment, "New text", "<p>New text</p>", None, ModerationMode.PRE, "author:Ann",
                            T0 + timedelta(minutes=2), deadline_seconds=60)
    assert same is None and comment.version == 3


def test_post_moderation_keeps_an_edited_comment_visible_but_rescores_a_held_one():
    comment, _ = submitted(ModerationMode.POST)
    lifecycle.revise(comment, "Edited", "<p>Edited</p>", None, ModerationMode.POST, "author:Ann", T0, 60)
    assert comment.status == Status.PUBLISHED
    scored(comment, {"profanity": 0.9})
    lifecycle.revise(comment, "Edited again", "<p>Edited again</p>", None, ModerationMode.POST, "author:Ann", T0, 60)
    assert comment.status == Status.PENDING


def test_a_rejected_or_deleted_comment_cannot_be_edited():
    comment, _ = submitted()
    lifecycle.decide(comment, Action.REJECT, ALICE, T0)
    with pytest.raises(Conflict, match="rejected comment cannot be edited"):
        lifecycle.revise(comment, "x", "<p>x</p>", None, ModerationMode.PRE, "author:Ann", T0, 60)


def test_delete_is_final_and_idempotent():
    comment, _ = submitted()
    event = lifecycle.delete_by_author(comment, "author:Ann", T0)
    assert event is not None and comment.status == Status.DELETED and comment.score_due_at is None
    assert lifecycle.delete_by_author(comment, "author:Ann", T0) is None
    with pytest.raises(Conflict):
        lifecycle.decide(comment, Action.APPROVE, ROOT_ADMIN, T0, expected_version=comment.version)
    assert lifecycle.fail_scoring(comment, "boom", "scorer", T0) is None


def test_the_first_decision_stands_and_overriding_it_needs_the_version():
    comment, _ = submitted()
    scored(comment, {"profanity": 0.9})
    lifecycle.decide(comment, Action.APPROVE, ALICE, T0 + timedelta(seconds=1))
    with pytest.raises(Conflict, match="already decided by alice"):
        lifecycle.decide(comment, Action.REJECT, BOB, T0 + timedelta(seconds=2))
    with pytest.raises(Conflict):
        lifecycle.decide(comment, Action.REJECT, ALICE, T0 + timedelta(seconds=2), expected_version=1)
    with pytest.raises(Forbidden, match="only an admin"):
        lifecycle.decide(comment, Action.REJECT, BOB, T0 + timedelta(seconds=2), expected_version=comment.version)
    event = lifecycle.decide(comment, Action.REJECT, ROOT_ADMIN, T0 + timedelta(seconds=3),
                             expected_version=comment.version)
    assert comment.status == Status.REJECTED and comment.decided_by == "root"
    assert event.actor == "moderator:root" and event.scores == {"profanity": 0.9}


def test_approval_counts_the_first_publication_once():
    comment, _ = submitted()
    first = lifecycle.decide(comment, Action.APPROVE, ALICE, T0)
    lifecycle.decide(comment, Action.REJECT, ALICE, T0 + timedelta(seconds=1), expected_version=comment.version)
    again = lifecycle.decide(comment, Action.APPROVE, ALICE, T0 + timedelta(seconds=2),
                             expected_version=comment.version)
    assert first.first_publication and not again.first_publication and comment.published_at == T0


def test_reports_reopen_a_decided_comment_and_a_decision_resolves_them():
    comment, _ = submitted()
    scored(comment, {"profanity": 0.01})
    lifecycle.decide(comment, Action.APPROVE, ALICE, T0 + timedelta(seconds=1))
    assert lifecycle.moderator_ruling_stands(comment)
    assert lifecycle.reports_reached_threshold(comment, ["abuse", "spam"], 2, 3, T0 + timedelta(minutes=1)) is None
    # Three reports from two origins (one person with two addresses in one network) are not enough.
    assert lifecycle.reports_reached_threshold(comment, ["abuse"] * 3, 2, 3, T0 + timedelta(minutes=1)) is None
    version = comment.version
    event = lifecycle.reports_reached_threshold(comment, ["abuse", "spam", "abuse"], 3, 3,
                                                T0 + timedelta(minutes=1))
    assert event is not None and event.action == Action.QUEUED_FOR_REPORTS
    assert event.reason == "reported x3 (abuse, spam)" and comment.version == version + 1
    assert not lifecycle.moderator_ruling_stands(comment) and lifecycle.approved_by_moderator(comment)
    assert lifecycle.reports_reached_threshold(comment, ["abuse"] * 4, 4, 3, T0 + timedelta(minutes=2)) is None
    # Reopened by reports: confirming the approval needs no version, reversing it needs an admin.
    with pytest.raises(Forbidden, match="only an admin"):
        lifecycle.decide(comment, Action.REJECT, BOB, T0 + timedelta(minutes=3))
    lifecycle.decide(comment, Action.APPROVE, BOB, T0 + timedelta(minutes=3))
    assert comment.reported_at is None and comment.decided_by == "bob"


def test_an_edit_after_approval_is_a_new_text_that_reports_may_hide_again():
    comment, _ = submitted()
    lifecycle.decide(comment, Action.APPROVE, ALICE, T0)
    assert lifecycle.approved_by_moderator(comment)
    lifecycle.revise(comment, "Changed", "<p>Changed</p>", None, ModerationMode.PRE, "author:Ann",
                     T0 + timedelta(minutes=1), 60)
    assert not lifecycle.approved_by_moderator(comment)
    assert not lifecycle.moderator_ruled_on_this_text(comment)
    scored(comment, {"profanity": 0.01}, at=T0 + timedelta(minutes=2))
    assert comment.status == Status.PUBLISHED
    # Bob may reject the new text: alice ruled only on the old one.
    lifecycle.decide(comment, Action.REJECT, BOB, T0 + timedelta(minutes=3))
    assert comment.status == Status.REJECTED and comment.approved_revision is None


def test_scoring_that_fails_sends_the_comment_to_moderators_never_out():
    comment, _ = submitted()
    event = lifecycle.fail_scoring(comment, "TimeoutError", "sweeper", T0)
    assert event is not None and comment.status == Status.FLAGGED and comment.reasons == [SCORING_FAILED_REASON]
    assert event.action == Action.SCORING_FAILED and comment.score_due_at is None
    assert lifecycle.fail_scoring(comment, "again", "sweeper", T0) is None


def test_a_lease_entitles_only_its_holder_for_its_revision():
    comment, _ = submitted()
    comment.claim_token = "mine"
    assert lifecycle.holds_lease(comment, "mine", 1)
    assert not lifecycle.holds_lease(comment, "theirs", 1)
    assert not lifecycle.holds_lease(comment, "mine", 2)
    lifecycle.release_lease(comment, "theirs")
    assert comment.claim_token == "mine"
    lifecycle.release_lease(comment, "mine")
    assert comment.claim_token is None


def test_the_sweeper_counts_an_attempt_only_for_the_revision_it_saw():
    comment, _ = submitted()
    later = T0 + timedelta(minutes=5)
    lifecycle.reschedule(comment, 1, later, new_attempt=True)
    assert (comment.scoring_attempts, comment.score_due_at) == (1, later)
    lifecycle.reschedule(comment, 2, later + timedelta(minutes=1), new_attempt=True)
    assert (comment.scoring_attempts, comment.score_due_at) == (1, later)


def test_the_same_status_is_allowed_except_for_a_deleted_comment():
    check_transition("published", "published")
    check_transition("rejected", "rejected")
    with pytest.raises(TransitionError):
        check_transition("deleted", "deleted")
    with pytest.raises(TransitionError):
        check_transition("rejected", "pending")
