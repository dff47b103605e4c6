"""Fill a list before the list rounds of bench/peer.sh: POST one JSON body N times.

    python3 seed.py URL AUTH_HEADER BODY_FILE N [CONCURRENCY]

Sends the request through the system's own API (the path the rounds measure), so every
row is what a real client leaves behind (the peer's follow-up, our case events). Each
worker keeps one HTTP/1.1 connection open and reconnects when the server closes it
(gunicorn's sync workers do after every response). Exits non-zero on the first answer
that is not 2xx. Standard library only; talks to the URL given, which bench/peer.sh
always points at 127.0.0.1.
"""

import http.client
import sys
import threading
import urllib.parse


def main() -> int:
    url, auth, body_file, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    concurrency = int(sys.argv[5]) if len(sys.argv) > 5 else 4
    u = urllib.parse.urlsplit(url)
    body = open(body_file, "rb").read()
    headers = {"Content-Type": "application/json", "Authorization": auth}
    lock = threading.Lock()
    state = {"next": 0, "failed": None}

    def worker() -> None:
        conn = None
        while True:
            with lock:
                if state["failed"] or state["next"] >= n:
                    return
                state["next"] += 1
            for attempt in range(2):
                if conn is None:
                    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
                try:
                    conn.request("POST", u.path, body=body, headers=headers)
                    res = conn.getresponse()
                    data = res.read()
                    break
                except (http.client.HTTPException, ConnectionError):
                    # The server closed a kept-alive connection: reconnect once.
                    conn.close()
                    conn = None
                    if attempt == 1:
                        raise
            if res.will_close:
                conn.close()
                conn = None
            if not 200 <= res.status < 300:
                with lock:
                    state["failed"] = f"{res.status} {data[:300]!r}"
                return

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if state["failed"]:
        print(f"seed: {url}: {state['failed']}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
