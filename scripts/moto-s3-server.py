"""moto's S3 server, with its requests handled one at a time.

moto checks a conditional PUT's precondition (If-None-Match: *) and then stores
the object without a lock, so on its threaded server two racing conditional PUTs
can both succeed. Real S3 lets exactly one win, and the artifact store's
contract test holds the adapter to that. Handling requests one at a time makes
the emulator give S3's guarantee; connections are still accepted concurrently.

Usage: python moto-s3-server.py HOST PORT
"""

import sys
import threading

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple


class OneRequestAtATime:
    """A WSGI app that lets one request into the wrapped app at a time."""

    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        with self.lock:
            # moto builds the whole answer inside the call: materialise it under the lock.
            answer = self.app(environ, start_response)
            try:
                return list(answer)
            finally:
                if hasattr(answer, "close"):
                    answer.close()


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(
        host,
        port,
        OneRequestAtATime(app),
        threaded=True,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()
