-- onewindow: POST /api/v1/cases (intake: accepted, routed, audited) as the demo clerk with
-- an API key. BENCH_TOKEN: the key's secret; BENCH_BODY: a file with the JSON body
-- (bench/peer.sh builds it from the catalog item, every required material ticked).
local path = os.getenv("BENCH_BODY")
assert(path, "BENCH_BODY unset")
local f = assert(io.open(path, "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("BENCH_TOKEN") or error("BENCH_TOKEN unset"))
