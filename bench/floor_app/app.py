"""The floor of this stack: a bare Chalice app that loads boto3 and pydantic.

`import pydantic` alone is lazy and loads almost nothing, so the floor imports BaseModel,
the least that any app validating with pydantic pays.
"""

import boto3  # noqa: F401
from chalice import Chalice
from pydantic import BaseModel  # noqa: F401

app = Chalice(app_name="floor")


@app.route("/")
def index():
    return {"hello": "world"}
