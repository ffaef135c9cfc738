"""The ceiling: a bare Flask app answering "hello", served under the same gunicorn settings.

``/page`` sends the bytes of the file named by ``BENCH_PAGE_FILE`` as they are (bench/api.py puts a
gzipped thread page there): what Flask alone costs to send a page of that size.
"""

import os

from flask import Flask, Response

app = Flask(__name__)
_page: list[bytes] = []


@app.get("/hello")
def hello():
    return {"hello": "world"}


@app.get("/page")
def page():
    if not _page:
        with open(os.environ["BENCH_PAGE_FILE"], "rb") as handle:
            _page.append(handle.read())
    return Response(_page[0], mimetype="application/json", headers={"Content-Encoding": "gzip"})
