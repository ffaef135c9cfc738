"""HTTP blueprints: validation and serialisation only; the rules live in ``civility``."""

from werkzeug.routing import BaseConverter

# Route segment for a comment id (the converter is registered in ``create_app``).
COMMENT_ID = "<comment_id:comment_id>"
MAX_COMMENT_ID = 2**63 - 1


class CommentIdConverter(BaseConverter):
    """Digits only; ids beyond 64 bits match no comment (a 404, never a database overflow)."""

    regex = r"[0-9]{1,30}"

    def to_python(self, value: str) -> int:
        number = int(value)
        return number if number <= MAX_COMMENT_ID else 0

    def to_url(self, value) -> str:
        return str(int(value))
