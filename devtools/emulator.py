"""The emulated AWS for local runs and black-box tests: moto's server, one request at a time.

The stock moto server handles requests on many threads and loses writes under
concurrency (oversold conditional decrements, lost ADD updates, HTTP 500 on concurrent
TransactWriteItems). DynamoDB serialises conflicting writes; one lock around each
request gives the emulator the same guarantee.

    python -m devtools.emulator --port 5000
"""

import argparse
import logging
import threading
from collections.abc import Callable
from typing import Any

from moto.server import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server

from devtools import moto_backups


def locked_app() -> Callable[[dict[str, Any], Callable[..., Any]], list[bytes]]:
    app = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()

    def serve_one_at_a_time(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        with lock:
            # The body is produced lazily: read it all while holding the lock.
            return list(app(environ, start_response))

    return serve_one_at_a_time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    moto_backups.lighten()
    server = make_server(args.host, args.port, locked_app(), threaded=True)
    print(f"emulated AWS on http://{args.host}:{server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
