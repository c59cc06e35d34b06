"""A bare Flask no-op, the outside ceiling: parse the JSON body, answer an empty card list.

Served by the same gunicorn settings as the product (`gunicorn -c python:cds_hooks.gunicorn_conf
bench.bare:app`); no product code, no request log, no middleware.
"""
import json

from flask import Flask, request

app = Flask(__name__)


@app.post("/noop")
def noop():
    json.loads(request.get_data())
    return {"cards": []}


@app.get("/healthz")
def healthz():
    return {"status": "ok"}
