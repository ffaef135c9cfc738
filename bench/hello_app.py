"""The ceiling: a bare Flask app answering "hello", served under the same gunicorn settings."""

from flask import Flask

app = Flask(__name__)


@app.get("/hello")
def hello():
    return {"hello": "world"}
