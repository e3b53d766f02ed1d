"""The baseline of bench_load.py: a bare Flask page, served by the same gunicorn config."""

from __future__ import annotations

from flask import Flask

app = Flask(__name__)
# About the size of a small console page's head, so that the bytes sent are not nothing.
PAGE = "<!doctype html><title>Bare</title>" + "<p>Nothing but Flask.</p>" * 40


@app.get("/")
def page() -> str:
    """The same small page every time: routing, a response, nothing else."""
    return PAGE
