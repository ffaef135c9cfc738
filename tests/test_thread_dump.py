"""service.schemas.dump_thread gives what ThreadOut (the documented shape) dumps, key for key."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

from civility.comments import ThreadPage
from civility.statuses import Status
from civility.store.models import Comment
from service.schemas import ThreadOut, dump_thread

AT = datetime(2026, 12, 3, 7, 30, 1, 123456, tzinfo=UTC)


def comment(id_: int, status: Status = Status.PUBLISHED, parent_id: int | None = None, **extra) -> Comment:
    made = Comment(id=id_, article_id="world/a", parent_id=parent_id, author_name=f"Reader {id_}",
                   author_id=extra.pop("author_id", None), body=f"Body {id_} <b>", html=f"<p>Body {id_}</p>",
                   status=status, created_at=AT + timedelta(minutes=id_), edited_at=extra.pop("edited_at", None),
                   votes=extra.pop("votes", 0))
    made.reply_count = extra.pop("reply_count", 0)
    made.replies = extra.pop("replies", ())
    assert not extra
    return made


def test_the_plain_dump_is_the_schemas_dump_byte_for_byte():
    replies = [comment(11, parent_id=1), comment(12, Status.DELETED, parent_id=1, author_id="sub-9"),
               comment(13, parent_id=1, edited_at=AT.astimezone(timezone(timedelta(hours=2))), votes=-2)]
    page = ThreadPage(items=[
        comment(1, reply_count=7, replies=replies, votes=5, author_id="sub-1"),
        comment(2, Status.DELETED, reply_count=1, replies=[comment(21, parent_id=2)]),
        comment(3, edited_at=AT),
    ], next_cursor="abc", total=12)
    ours = json.dumps(dump_thread(page))
    assert ours == json.dumps(ThreadOut().dump(page))
    assert '"body": ""' in ours and '"name": "Reader 1"' in ours and '"edited_at": "2026-12-03T07:30:01.123Z"' in ours
    empty = ThreadPage(items=[], next_cursor=None, total=0)
    assert json.dumps(dump_thread(empty)) == json.dumps(ThreadOut().dump(empty))
