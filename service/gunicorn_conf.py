"""gunicorn settings shared by ``make dev``, the Docker image and the benchmarks (and meant for
production): ``gunicorn -c python:service.gunicorn_conf [--bind ... --workers ...] 'service:create_app()'``.

Flags on the command line take precedence over these. Settings an older gunicorn does not know are
ignored by it.
"""

import sys

SWITCH_INTERVAL_SECONDS = 0.001

# Escaped lines, no client address at WARNING and above, the app's records in the same log.
logger_class = "service.logs.PrivateLogger"
accesslog = "-"
errorlog = "-"
# Method, path, status, bytes, milliseconds: no client address and no query string, so the access
# log holds no personal data.
access_log_format = "%(m)s %(U)s %(s)s %(b)s %(M)sms"
# gunicorn 25.1+ opens a management socket (gunicornc) at one path per user, which every server on
# the machine (dev, tests, benchmarks) would fight over; civility does not use it.
control_socket_disable = True



def post_fork(server, worker):
    # A worker's threads take turns on the GIL every 5 ms by default. A thread holding SQLite's
    # write lock, or holding a reader waiting on a thread page it rebuilds, then waits that long per
    # turn while the others run, and every writer in every worker waits behind it. Shorter turns
    # raised comment posts on SQLite by about a third and cut the mixed load's p99 (docs/benchmarks.md).
    sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
