"""Loaded by the schemathesis CLI in tests/test_openapi_fuzz.py (SCHEMATHESIS_HOOKS)."""

import schemathesis


@schemathesis.check
def no_stack_trace(ctx, response, case):
    body = response.text or ""
    if "Traceback (most recent call last)" in body or 'File "/' in body:
        raise AssertionError("the response carries a stack trace")
