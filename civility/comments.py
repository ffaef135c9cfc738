"""The comment service: create, read, edit and delete, with the rules readers run into."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from civility import lifecycle, scoring, webhooks
from civility.config import Settings
from civility.errors import Forbidden, Invalid, NotFound, Unauthorized
from civility.identity import Client, Reader
from civility.pagination import ID_RANGE, VOTES_RANGE, decode_cursor, encode_cursor
from civility.spam import link_reasons
from civility.statuses import Status
from civility.store.comments import CommentRepository, PublicComment
from civility.store.db import Database
from civility.store.models import Comment, utcnow
from civility.text import MAX_BODY_CHARS, MAX_NAME_CHARS, clean, render_html

log = logging.getLogger(__name__)

# Article ids are the news site's own (a slug, a path or a number).
ARTICLE_ID_PATTERN = r"[A-Za-z0-9\-_.:/]{1,128}"
_ARTICLE_ID = re.compile(ARTICLE_ID_PATTERN)
_ARTICLE_IDS = re.compile(rf"{ARTICLE_ID_PATTERN}(?:\n{ARTICLE_ID_PATTERN})*")
SORTS = ("oldest", "newest", "top")  # the first is the default

def check_article_id(article_id: str) -> str:
    if not isinstance(article_id, str) or not _ARTICLE_ID.fullmatch(article_id):
        raise Invalid("invalid article_id",
                      {"article_id": ["1 to 128 characters of letters, digits and -_.:/"]})
    return article_id


def check_article_ids(article_ids: list[str]) -> None:
    """Each one as ``check_article_id`` does, in one regular expression over them all (/counts
    takes a hundred on every page view); only a failure looks at them one by one, for its error."""
    try:
        joined = "\n".join(article_ids)
    except TypeError:
        joined = ""
    if not _ARTICLE_IDS.fullmatch(joined):
        for article_id in article_ids:
            check_article_id(article_id)


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def clean_body(body: str) -> str:
    return clean("body", body, MAX_BODY_CHARS)


def clean_name(name: str) -> str:
    return clean("author_name", name, MAX_NAME_CHARS, single_line=True)


@dataclass
class Credentials:
    """What a reader presents to edit or delete: the edit token and/or a verified identity."""

    edit_token: str | None = None
    reader: Reader | None = None


@dataclass
class ThreadPage:
    """Top-level comments, each with its ``reply_count`` and first ``replies`` attached."""

    items: list[PublicComment]
    next_cursor: str | None
    total: int


@dataclass
class RepliesPage:
    items: list[Comment]
    next_cursor: str | None


class CommentService:
    def __init__(self, db: Database, settings: Settings):
        self.db = db
        self.settings = settings

    def _repo(self, session: Session) -> CommentRepository:
        return CommentRepository(session, hide_reported=self.settings.hides_reported)

    def create(self, article_id: str, body: str, author_name: str | None, parent_id: int | None,
               client: Client) -> Comment:
        """The stored comment, with its ``edit_token`` (shown to the author once, stored as a hash)."""
        reader = client.reader
        check_article_id(article_id)
        body = clean_body(body)
        name = author_name if author_name is not None else (reader.name if reader else None)
        if name is None:
            raise Invalid("invalid author_name", {"author_name": ["required"]})
        name = clean_name(name)
        edit_token = secrets.token_urlsafe(24)
        now = utcnow()
        # Built before the transaction, which should hold the database (SQLite's write lock, the
        # article's row of counts) no longer than its statements take.
        comment = Comment(
            article_id=article_id, parent_id=None, author_name=name, author_id=reader.sub if reader else None,
            body=body, html=render_html(body), edit_token_hash=_hash_token(edit_token), client_hash=client.key,
            heuristics=link_reasons(body) or None,  # the client's repeats are counted when it is scored
        )
        event = lifecycle.submit(comment, self.settings.moderation_mode, _reader_actor(reader, name), now,
                                 self.settings.scoring_deadline_seconds)
        with self.db.transaction(reads_first=True) as session:
            repo = self._repo(session)
            if parent_id is not None:
                parent = repo.get(parent_id)
                # A comment the reader cannot see does not exist for them, as when reading it.
                if parent is None or not repo.is_visible(parent):
                    raise NotFound("no such comment", {"parent_id": parent_id})
                if parent.article_id != article_id:
                    raise Invalid("invalid parent_id", {"parent_id": ["no such comment on this article"]})
                # Threads are one level deep: a reply to a reply joins the same top-level thread.
                comment.parent_id = parent.parent_id or parent.id
            new = repo.new_comment(comment, event)
            # PostgreSQL, when no webhook endpoint subscribes to new comments: the comment, its
            # history and its count for trending in one statement, committed by itself.
            if not repo.add_unless_subscribed(new):
                endpoints = webhooks.subscribers(session, webhooks.COMMENT_CREATED)
                # On SQLite the write lock is taken here, not before the reads above (which, as on
                # PostgreSQL, are not atomic with the writes): every other writer waits for it.
                self.db.begin_writes(session, one_statement=new.is_one_statement and not endpoints)
                repo.add(new)
                webhooks.comment_created(session, comment, event, endpoints)
            scoring.request_score(session, comment.id, comment.revision)
        comment.edit_token = edit_token
        return comment

    def _check_author(self, comment: Comment, creds: Credentials) -> str:
        if creds.reader is not None and comment.author_id and creds.reader.sub == comment.author_id:
            return _reader_actor(creds.reader, comment.author_name)
        if creds.edit_token and comment.edit_token_hash and hmac.compare_digest(
                _hash_token(creds.edit_token), comment.edit_token_hash):
            return f"author:{comment.author_name}"
        if creds.edit_token is None and creds.reader is None:
            raise Unauthorized("an X-Edit-Token or the author's identity token is required")
        raise Forbidden("these credentials do not belong to the comment's author")

    def _check_window(self, comment: Comment, now: datetime) -> None:
        if now - comment.created_at > timedelta(seconds=self.settings.edit_window_seconds):
            raise Forbidden("the edit window for this comment has closed",
                            {"edit_window_seconds": self.settings.edit_window_seconds})

    def edit(self, comment_id: int, body: str, creds: Credentials) -> Comment:
        body = clean_body(body)
        html, found = render_html(body), link_reasons(body) or None
        now = utcnow()
        with self.db.transaction() as session:
            repo = self._repo(session)
            comment = _get_or_404(repo, comment_id, for_update=True)
            actor = self._check_author(comment, creds)
            self._check_window(comment, now)
            event = lifecycle.revise(comment, body, html, found,
                                     self.settings.moderation_mode, actor, now,
                                     self.settings.scoring_deadline_seconds)
            if event is None:
                return comment
            repo.record(comment, event)
            scoring.request_score(session, comment.id, comment.revision)
        return comment

    def delete(self, comment_id: int, creds: Credentials) -> None:
        now = utcnow()
        with self.db.transaction() as session:
            repo = self._repo(session)
            comment = _get_or_404(repo, comment_id, for_update=True)
            actor = self._check_author(comment, creds)
            self._check_window(comment, now)
            event = lifecycle.delete_by_author(comment, actor, now)
            if event is not None:
                repo.record(comment, event)
                webhooks.comment_deleted(session, comment, event)

    def get(self, comment_id: int, *, moderator: bool, creds: Credentials | None = None) -> Comment:
        """Published comments for everyone; any status for a moderator or the comment's author."""
        with self.db.read() as session:
            repo = self._repo(session)
            comment = repo.get(comment_id)
            if comment is None:
                raise NotFound("no such comment")
            if not repo.is_visible(comment) and not moderator and not self._is_author(comment, creds):
                raise NotFound("no such comment")
            comment.reply_count = repo.reply_counts([comment.id])[comment.id]
            return comment

    def _is_author(self, comment: Comment, creds: Credentials | None) -> bool:
        if creds is None or (creds.edit_token is None and creds.reader is None):
            return False
        try:
            self._check_author(comment, creds)
        except (Unauthorized, Forbidden):
            return False
        return True

    def thread(self, article_id: str, sort: str, limit: int, cursor: str | None) -> ThreadPage:
        check_article_id(article_id)
        bounds = (VOTES_RANGE, ID_RANGE) if sort == "top" else (ID_RANGE,)
        after = decode_cursor(cursor, f"thread-{sort}", len(bounds), whole=bounds)
        with self.db.read() as session:
            repo = self._repo(session)
            rows = repo.top_level_page(article_id, sort, limit + 1, after)
            items, more = rows[:limit], len(rows) > limit
            ids = [c.id for c in items]
            replies = repo.reply_previews(ids)
            total = repo.published_count(article_id)
        for comment in items:
            comment.replies, comment.reply_count = replies.first[comment.id], replies.counts[comment.id]
        next_cursor = None
        if more and items:
            last = items[-1]
            key = [last.votes, last.id] if sort == "top" else [last.id]
            next_cursor = encode_cursor(f"thread-{sort}", key)
        return ThreadPage(items, next_cursor, total)

    def replies(self, comment_id: int, limit: int, cursor: str | None) -> RepliesPage:
        after = decode_cursor(cursor, "replies", 1, whole=(ID_RANGE,))
        with self.db.read() as session:
            repo = self._repo(session)
            parent = repo.get(comment_id)
            if parent is None or not (repo.is_visible(parent) or parent.status == Status.DELETED):
                raise NotFound("no such comment")
            rows = repo.replies_page(parent.id, limit + 1, after)
        items, more = rows[:limit], len(rows) > limit
        next_cursor = encode_cursor("replies", [items[-1].id]) if more and items else None
        return RepliesPage(items, next_cursor)


def _get_or_404(repo: CommentRepository, comment_id: int, *, for_update: bool = False) -> Comment:
    comment = repo.get(comment_id, for_update=for_update)
    if comment is None:
        raise NotFound("no such comment")
    return comment


def _reader_actor(reader: Reader | None, name: str) -> str:
    return f"reader:{reader.sub}" if reader else f"author:{name}"
