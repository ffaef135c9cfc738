"""Share and comment POSTs answered before Flask, for service/fast_lane.py.

Recording a share costs less than Flask's POST machinery around it (routing, the request context,
APIFlask's input and output passes, the before- and after-request hooks), and a comment about twice
as much (docs/benchmarks.md). ``PostLane`` answers a plainly valid share or comment itself: the
same schema loads the body, the same service call stores it, the same rate limits count it on the
same counters (``service.limits.ActionLimit``), and the answer has the same status, body and
headers. tests/test_post_lane.py sends the same requests both ways and compares the answers.

Anything else goes to Flask, which then answers as it always does: a body that is not a JSON object
its schema accepts, another content type, an identity or edit token, an article id Flask would
refuse, a body larger than the limit or without a length, the rate limiter's storage failing. Once
the write is being recorded it is not handed over (a second attempt would find the first one's
traces in Redis): an error (the database down) is answered by Flask's error handlers, called here.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from marshmallow import Schema, ValidationError
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Response

from civility.comments import ARTICLE_ID_PATTERN, CommentService
from civility.engagement import EngagementService
from civility.identity import Client
from civility.nudge import NudgeService
from civility.statuses import Status
from service.errors import error_body
from service.limits import ActionLimit
from service.schemas import CommentIn, CreatedCommentOut, ShareIn
from service.thread_pages import encode, json_response

SHARE_ENDPOINT, COMMENT_ENDPOINT = "engagement.share", "comments.create_comment"
_REFUSED = "Too Many Requests"  # what Flask-Limiter's 429 says, through service/errors.py

JsonAnswer = Callable[..., Response]  # Flask's own JSON response (app.json.response)


def client_address(trusted_proxies: int) -> Callable[[dict], str | None]:
    """The reader's address as Flask sees it: behind ``trusted_proxies`` proxies, ProxyFix's reading
    of X-Forwarded-For (on a copy of the environ, which then goes to Flask untouched)."""
    if not trusted_proxies:
        return lambda environ: environ.get("REMOTE_ADDR")
    n = trusted_proxies
    fix = ProxyFix(lambda environ, _start: environ.get("REMOTE_ADDR"), x_for=n, x_proto=n, x_host=n)  # type: ignore[arg-type, return-value]
    return lambda environ: fix(dict(environ), lambda *_: None)  # type: ignore[arg-type, return-value]


def _is_json(content_type: str | None) -> bool:
    return (content_type or "").partition(";")[0].strip().lower() == "application/json"


@dataclass(frozen=True)
class Write:
    endpoint: str
    path: re.Pattern[str]
    schema: Schema
    limit: ActionLimit | None
    # (article id, loaded body, client) -> the answer: the view's work, minus Flask's.
    store: Callable[[str, dict, Client], Response]


class PostLane:
    def __init__(self, engagement: EngagementService, comments: CommentService, nudges: NudgeService,
                 salt: Callable[[], str], max_body: int | None, trusted_proxies: int,
                 limits: dict[str, ActionLimit], json_answer: JsonAnswer,
                 render_error: Callable[[dict, Exception], Response]):
        self.engagement, self.comments, self.nudges = engagement, comments, nudges
        self.salt = salt
        self.max_body = max_body
        self.address_of = client_address(trusted_proxies)
        self.json_answer = json_answer
        self.render_error = render_error
        self.created = CreatedCommentOut()
        self.writes = {
            "/shares": Write(SHARE_ENDPOINT, re.compile(rf"/api/v1/articles/({ARTICLE_ID_PATTERN})/shares"),
                             ShareIn(), limits.get("share"), self._share),
            "/comments": Write(COMMENT_ENDPOINT, re.compile(rf"/api/v1/articles/({ARTICLE_ID_PATTERN})/comments"),
                               CommentIn(), limits.get("comment"), self._comment),
        }

    def answer(self, environ: dict) -> tuple[str, Response] | None:
        """(endpoint, answer) for a plainly valid share or comment POST; None: Flask answers (with
        the body still readable)."""
        path = environ.get("PATH_INFO", "")
        write = self.writes.get(path[path.rfind("/"):])
        if (write is None or "HTTP_AUTHORIZATION" in environ or "HTTP_X_EDIT_TOKEN" in environ
                or not _is_json(environ.get("CONTENT_TYPE"))):
            return None
        match = write.path.fullmatch(path)
        data = match and self._body(environ)
        if not match or data is None:
            return None
        try:
            loaded = write.schema.load(data)
        except ValidationError:
            return None
        address = self.address_of(environ)
        limit_headers: dict[str, str] = {}
        if write.limit is not None:
            allowed, limit_headers = write.limit.hit(address)
            if not allowed:
                refused = self.json_answer(error_body(429, _REFUSED))
                refused.status_code = 429
                return write.endpoint, self._finish(refused, write.limit, limit_headers)
        try:
            response = write.store(match.group(1), loaded, Client.of(None, address, self.salt()))
        except Exception as error:  # noqa: BLE001 - answered as Flask answers it
            response = self.render_error(environ, error)
        return write.endpoint, self._finish(response, write.limit, limit_headers)

    @staticmethod
    def _finish(response: Response, limit: ActionLimit | None, limit_headers: dict[str, str]) -> Response:
        response.headers.setdefault("Cache-Control", "no-store")
        if limit is not None:
            limit.add_headers(response, limit_headers)
        return response

    def _share(self, article_id: str, data: dict, client: Client) -> Response:
        # Built as plain JSON already (ShareAckOut documents it), as the Flask view does.
        response = json_response(encode(self.engagement.share(article_id, data["network"], client)), "no-store")
        response.status_code = 202
        return response

    def _comment(self, article_id: str, data: dict, client: Client) -> Response:
        # As service/api/comments.py create_comment, whose decorators dump and jsonify the answer.
        comment = self.comments.create(article_id, data["body"], data.get("author_name"), data.get("parent_id"),
                                       client)
        self.nudges.settle(data.get("check_id"), comment.body)
        response = self.json_answer(self.created.dump(comment))
        response.status_code = 202 if comment.status == Status.PENDING else 201
        return response

    def _body(self, environ: dict) -> Any:
        """The JSON object of the body; None for anything else. The body is read here and put back
        for Flask."""
        length = environ.get("CONTENT_LENGTH", "")
        if not length.isdigit() or (self.max_body is not None and int(length) > self.max_body):
            return None
        body = environ["wsgi.input"].read(int(length))
        environ["wsgi.input"] = io.BytesIO(body)
        if len(body) != int(length):
            return None
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            return None
        return data if type(data) is dict else None
