"""What the blueprints reach through ``current_app``: settings, stores and services for this app."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from redis import Redis

from civility.analysis import Analyzer
from civility.comments import CommentService
from civility.config import Settings
from civility.engagement import EngagementService
from civility.instance import ClientHashSalt
from civility.moderation import ModerationService
from civility.nudge import NudgeService
from civility.store.db import Database
from service.thread_pages import ThreadPages


@dataclass
class Services:
    settings: Settings
    db: Database
    redis: Redis
    comments: CommentService
    moderation: ModerationService
    engagement: EngagementService
    client_hash_salt: ClientHashSalt
    nudges: NudgeService
    thread_pages: ThreadPages
    analyzer: Analyzer  # on-demand scores from the workers (civility.infra.analysis.RedisAnalyzer)


def services() -> Services:
    return current_app.extensions["civility"]
