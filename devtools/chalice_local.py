"""`chalice local` with a listen backlog for many clients at once.

The stock server keeps socketserver's backlog of 5 connections: with 32 concurrent
clients (our race tests, a browser opening many connections), the kernel resets the
surplus before the app sees them. Same arguments as `chalice local`.
"""

import sys

from chalice import local
from chalice.cli import main

local.ThreadedHTTPServer.request_queue_size = 128

if __name__ == "__main__":
    sys.argv[1:1] = ["local"]
    sys.exit(main())
