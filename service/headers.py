"""Headers every answer carries: added by ``create_app``'s after-request hook, and by
``service.fast_lane`` to the answers it gives before Flask."""

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}
