"""The worker app's static server (web/worker/), with its config.json generated, not on disk.

    python -m tools.web_server --port 8080 --api-url http://127.0.0.1:8000   # on its own

`make run` starts one in a thread of the local stack (tools/local_stack.py); the browser tests
start one per session (tests/browser/conftest.py). In AWS the same files sit in S3 behind
CloudFront, with the config.json the deployment writes.
"""
import argparse
import functools
import json
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

WORKER_APP = Path(__file__).resolve().parent.parent / "web" / "worker"


class AppHandler(SimpleHTTPRequestHandler):
    extensions_map = {**SimpleHTTPRequestHandler.extensions_map, ".js": "text/javascript",
                      ".webmanifest": "application/manifest+json", ".svg": "image/svg+xml"}
    config: bytes = b"{}"

    def do_GET(self):
        if self.path.split("?")[0] == "/config.json":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(self.config)))
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            self.wfile.write(self.config)
        else:
            super().do_GET()

    def end_headers(self):
        # The shell revalidates (the service worker holds the offline copy); nothing is framed.
        if self.path.split("?")[0] != "/config.json":
            self.send_header("Cache-Control", "no-cache")
        self.send_header("X-Content-Type-Options", "nosniff")
        super().end_headers()

    def log_message(self, *args):
        pass


def app_config(api_url: str, cognito: dict | None = None) -> dict:
    """The contract's config.json: where the API is, and the user pool's endpoint and client."""
    return {"api_url": api_url.rstrip("/"), "cognito": cognito or {}}


def serve(port: int, config: dict, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """Serve the app on host:port from a daemon thread; the caller shuts it down."""
    handler = type("ConfiguredAppHandler", (AppHandler,), {"config": json.dumps(config).encode()})
    server = ThreadingHTTPServer((host, port), functools.partial(handler, directory=str(WORKER_APP)))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True, name="worker-app").start()
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--api-url", required=True)
    parser.add_argument("--cognito", default="{}", help="the config's cognito object, as JSON")
    args = parser.parse_args()
    server = serve(args.port, app_config(args.api_url, json.loads(args.cognito)))
    print(f"worker app: http://127.0.0.1:{args.port}/", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.shutdown()


if __name__ == "__main__":
    main()
