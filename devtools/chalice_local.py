"""`chalice local` with a listen backlog for many clients at once, and the emulator the
caller names.

The stock server keeps socketserver's backlog of 5 connections: with 32 concurrent
clients (our race tests, a browser opening many connections), the kernel resets the
surplus before the app sees them. And `chalice local` sets the stage's variables over the
process's: the local stage's AWS_ENDPOINT_URL (port 5000, for `make finalise` and `make
token`) would win over the emulator `make run EMULATOR_PORT=…` started. Same arguments as
`chalice local`.
"""

import os
import sys
from collections.abc import MutableMapping
from typing import Any

from chalice import local
from chalice.cli import main
from chalice.cli.factory import CLIFactory

local.ThreadedHTTPServer.request_queue_size = 128
_load_chalice_app = CLIFactory.load_chalice_app


def _caller_endpoint_wins(
    self: CLIFactory, environment_variables: MutableMapping[str, str] | None = None, *args: Any, **kwargs: Any
) -> Any:
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    if environment_variables is not None and endpoint:
        environment_variables = {**environment_variables, "AWS_ENDPOINT_URL": endpoint}
    return _load_chalice_app(self, environment_variables, *args, **kwargs)


CLIFactory.load_chalice_app = _caller_endpoint_wins  # type: ignore[method-assign]

if __name__ == "__main__":
    sys.argv[1:1] = ["local"]
    sys.exit(main())
