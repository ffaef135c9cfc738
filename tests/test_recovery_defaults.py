"""Measures recovery from a SIGKILLed worker with the default RQ and lease settings (slow: opt-in)."""

import os
import signal
import time

import pytest
from sqlalchemy import func, select

from civility.store.models import Comment
from tests.helpers import all_final, post, wait_until

pytestmark = [pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
              pytest.mark.skipif(not os.environ.get("CIVILITY_MEASURE_RECOVERY"),
                                 reason="takes about two minutes; set CIVILITY_MEASURE_RECOVERY=1")]


def test_recovery_after_sigkill_with_default_settings(app_factory, worker_process):
    app = app_factory(scorer="tests.fault_scorers:make", batch_size=8, sweep_interval_seconds=15)
    client, db, settings = app.test_client(), app.extensions["civility"].db, app.extensions["civility"].settings
    for i in range(8):
        post(client, f"comment {i}")
    doomed = worker_process(settings, CIVILITY_TEST_SCORER_MODE="slow", CIVILITY_TEST_SCORER_DELAY="5")

    def leased():
        with db.read() as session:
            return session.scalars(select(func.count()).where(Comment.claim_token.is_not(None))).one()

    wait_until(lambda: leased() >= 1, 60)
    doomed.kill(signal.SIGKILL)
    killed_at = time.monotonic()
    worker_process(settings, CIVILITY_TEST_SCORER_MODE="slow", CIVILITY_TEST_SCORER_DELAY="0")
    wait_until(lambda: all_final(db, 8), 300, 0.5)
    print(f"\nrecovered {time.monotonic() - killed_at:.0f} s after the SIGKILL")
