-- django-helpdesk 2.6.1: POST /api/tickets/ (file a ticket) with a DRF token.
-- BENCH_TOKEN: the token; BENCH_BODY: a file with the JSON body (bench/peer.sh writes it).
local path = os.getenv("BENCH_BODY")
assert(path, "BENCH_BODY unset")
local f = assert(io.open(path, "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Token " .. (os.getenv("BENCH_TOKEN") or error("BENCH_TOKEN unset"))
