"""Refinements of the generated /openapi.json that apply to every operation at once."""

from __future__ import annotations

from civility.comments import ARTICLE_ID_PATTERN
from service.api import MAX_COMMENT_ID

# APIFlask registers the error schema (service.schemas.ErrorOut) as a component named after it.
ERROR_REF = {"$ref": "#/components/schemas/ErrorOut"}
COMMON_ERRORS = {
    "400": "Malformed JSON", "401": "Missing or invalid credentials", "413": "Body too large",
    "415": "Body is not JSON", "422": "Invalid fields", "429": "Rate limited (see Retry-After)",
    "503": "A dependency (database or Redis) is down; retry later",
}
PATH_PARAMETERS = {
    "article_id": {"type": "string", "pattern": f"^{ARTICLE_ID_PATTERN}$"},
    "comment_id": {"type": "integer", "minimum": 1, "maximum": MAX_COMMENT_ID},
}


def refine_spec(spec: dict) -> dict:
    """Document, once for every operation, the errors any of them can answer and the path formats."""
    error = {"content": {"application/json": {"schema": ERROR_REF}}}
    for path, operations in spec.get("paths", {}).items():
        if not path.startswith("/api/"):
            continue
        for method, operation in operations.items():
            if method not in ("get", "post", "patch", "delete", "put"):
                continue
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "path" and parameter.get("name") in PATH_PARAMETERS:
                    parameter["schema"] = dict(PATH_PARAMETERS[parameter["name"]])
            responses = operation.setdefault("responses", {})
            for code, description in COMMON_ERRORS.items():
                if code in ("400", "413", "415") and method not in ("post", "patch", "put"):
                    continue
                responses.setdefault(code, {"description": description, **error})
            if "{" in path:
                responses.setdefault("404", {"description": "Not found", **error})
    return spec
