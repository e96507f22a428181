"""`chalice local` with a listen backlog fit for many clients connecting at once.

    python -m tools.chalice_local --stage local --port 8000 --no-autoreload

chalice 1.34's local server keeps socketserver's default backlog of 5 pending connections:
a burst of mobile clients connecting together gets connection resets that API Gateway would
never give. Everything else is plain `chalice local`.
"""
import sys

import chalice.local
from chalice.cli import main

chalice.local.ThreadedHTTPServer.request_queue_size = 256

if __name__ == "__main__":
    sys.argv = ["chalice", "local", *sys.argv[1:]]
    sys.exit(main())
