"""The one error of the model files: a pull, verify, export or import that cannot go on."""

from __future__ import annotations

from civility.errors import DomainError


class ModelError(DomainError):
    """A pull, verify, export or import that cannot go on; the message is one line for an operator
    (the CLI prints it as ``Error: ...``)."""

    code, status_code = "model_files", 503


class NotFound(ModelError):
    """The source has no such file (404, or no file in a mirror directory)."""
