"""Domain errors. The HTTP layer maps each to a status code and the contract's error shape."""

from __future__ import annotations


class DomainError(Exception):
    code = "error"
    status_code = 400

    def __init__(self, message: str, details: dict | None = None):
        super().__init__(message)
        self.message = message
        self.details = details or {}


class NotFound(DomainError):
    code, status_code = "not_found", 404


class Invalid(DomainError):
    """One or more fields are invalid; ``details`` maps each field to its messages."""

    code, status_code = "invalid", 422


class Unauthorized(DomainError):
    code, status_code = "unauthorized", 401


class Forbidden(DomainError):
    code, status_code = "forbidden", 403


class Conflict(DomainError):
    code, status_code = "conflict", 409
