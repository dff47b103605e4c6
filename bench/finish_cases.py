"""The fixture of bench/ratings.sh: N finished cases, made through the system's own API.

    python3 finish_cases.py URL CLERK_KEY APPROVER_KEY INTAKE_BODY_FILE N OUT [PROCESSES] [THREADS]

Each case takes the five requests of crates/cli/tests/ratings.rs `finished_case`: intake
(`POST /api/v1/cases` as the clerk), take, approve (opinion 同意) and result_ready
(`POST /api/v1/cases/{id}/actions` as the approver, each with the version the previous
answer returned), issue at the window (as the clerk) — so every case is in state `issued`
with its events, audit entries and rating invitation, exactly as a real one. Writes one
line per case to OUT: `case_no<TAB>query_code` (the query code is in the intake answer,
as on the applicant's receipt). PROCESSES x THREADS workers [4 x 8], each with one
keep-alive HTTP/1.1 connection; exits non-zero on the first answer that is not 2xx.
Standard library only; talks to the URL given, which bench/ratings.sh always points at
127.0.0.1.
"""

import http.client
import json
import multiprocessing as mp
import sys
import threading
import time
import urllib.parse


def run_worker(args, counter, failed, out_q):
    url, clerk, approver, body, n, threads = args
    u = urllib.parse.urlsplit(url)
    done = []
    lock = threading.Lock()

    def post(conn, path, key, payload):
        data = json.dumps(payload).encode() if not isinstance(payload, bytes) else payload
        headers = {"Content-Type": "application/json", "Authorization": "Bearer " + key}
        for attempt in range(2):
            if conn[0] is None:
                conn[0] = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
            try:
                conn[0].request("POST", path, body=data, headers=headers)
                res = conn[0].getresponse()
                text = res.read()
                break
            except (http.client.HTTPException, ConnectionError):
                conn[0].close()
                conn[0] = None
                if attempt == 1:
                    raise
        if res.will_close:
            conn[0].close()
            conn[0] = None
        if not 200 <= res.status < 300:
            raise RuntimeError(f"{path}: {res.status} {text[:300]!r}")
        return json.loads(text)

    def worker():
        conn = [None]
        while True:
            with counter.get_lock():
                if failed.value or counter.value >= n:
                    return
                counter.value += 1
            try:
                case = post(conn, "/api/v1/cases", clerk, body)
                path = f"/api/v1/cases/{case['id']}/actions"
                for key, action in (
                    (approver, {"action": "take"}),
                    (approver, {"action": "approve", "opinion": "同意"}),
                    (approver, {"action": "result_ready"}),
                    (clerk, {"action": "issue", "method": "window"}),
                ):
                    action["version"] = case["version"]
                    after = post(conn, path, key, action)
                    # The answer carries the case's new version.
                    case = {**case, "version": after["version"], "state": after["state"]}
                if case["state"] != "issued":
                    raise RuntimeError(f"case {case['case_no']} ended in {case['state']}")
                with lock:
                    done.append(f"{case['case_no']}\t{case['query_code']}\n")
            except Exception as e:  # noqa: BLE001 - reported and stops every worker
                with failed.get_lock():
                    failed.value = 1
                print(f"finish_cases: {e}", file=sys.stderr)
                return

    ts = [threading.Thread(target=worker) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    out_q.put("".join(done))


def main() -> int:
    url, clerk, approver, body_file, n, out = sys.argv[1:7]
    n = int(n)
    procs = int(sys.argv[7]) if len(sys.argv) > 7 else 4
    threads = int(sys.argv[8]) if len(sys.argv) > 8 else 8
    body = open(body_file, "rb").read()
    counter = mp.Value("q", 0)
    failed = mp.Value("i", 0)
    out_q = mp.Queue()
    start = time.monotonic()
    ps = [
        mp.Process(target=run_worker, args=((url, clerk, approver, body, n, threads), counter, failed, out_q))
        for _ in range(procs)
    ]
    for p in ps:
        p.start()
    chunks = [out_q.get() for _ in ps]
    for p in ps:
        p.join()
    if failed.value:
        return 1
    lines = "".join(chunks)
    with open(out, "w") as f:
        f.write(lines)
    got = lines.count("\n")
    secs = time.monotonic() - start
    print(f"finish_cases: {got} cases finished in {secs:.1f} s ({got / secs:.0f} cases/s, {5 * got / secs:.0f} requests/s)", file=sys.stderr)
    return 0 if got == n else 1


if __name__ == "__main__":
    sys.exit(main())
