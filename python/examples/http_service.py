"""A minimal, fast recommender service in Python's standard library, speaking the botify
protocol (`POST /next/<user>`, `POST /last/<user>`), for `sim run --remote` or an
experiment arm `{kind: remote, url: ...}` (experiments/your_service.yml puts it against
the DSSM baseline).

Two lines make a standard-library service fast: `protocol_version = "HTTP/1.1"` keeps
each client connection open (no TCP handshake per request), and
`disable_nagle_algorithm = True` sends each answer at once. Without the latter, an answer
written in two pieces (headers, then body) waits for the client's delayed ACK: about
40 ms per request, some 20 requests per second.

    python python/examples/http_service.py --port 5001
    sim run --remote http://127.0.0.1:5001 --no-catalogue-check --episodes 2000
"""

import argparse
import json
import random
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Recommender:
    """The service's policy: here a random track (replace it with yours)."""

    def __init__(self, n_tracks: int, seed: int = 0) -> None:
        self.n_tracks = n_tracks
        self.rng = random.Random(seed)

    def recommend(self, user: int, track: int, time: float) -> int:
        return self.rng.randrange(self.n_tracks)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    recommender: Recommender

    def answer(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path == "/":
            self.answer(200, {"status": "alive"})
        else:
            self.answer(404, {"error": f"no {self.path}"})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        request = json.loads(self.rfile.read(length) or b"{}")
        _, endpoint, user = self.path.split("/", 2)
        if endpoint == "next":
            track = self.recommender.recommend(int(user), request["track"], request["time"])
            self.answer(200, {"user": int(user), "track": track})
        elif endpoint == "last":
            self.answer(200, {"user": int(user)})
        else:
            self.answer(404, {"error": f"no {self.path}"})

    def log_message(self, format: str, *args) -> None:
        pass  # one line per request would cost more than the answer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=5001)
    parser.add_argument("--tracks", type=int, default=50_000, help="catalogue size")
    parser.add_argument(
        "--nagle", action="store_true", help="leave Nagle's algorithm on (to see the stall)"
    )
    args = parser.parse_args()
    Handler.recommender = Recommender(args.tracks)
    Handler.disable_nagle_algorithm = not args.nagle
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print(f"serving on http://127.0.0.1:{args.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
