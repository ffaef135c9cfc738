"""HTTP blueprints: validation and serialisation only; the rules live in ``civility``."""

# Route segment for a comment id (the converter is registered in ``create_app``).
COMMENT_ID = "<comment_id:comment_id>"
