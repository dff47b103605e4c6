-- onewindow: GET /api/v1/cases?limit=25 (the clerk's intake list, first page of 25) with
-- an API key. BENCH_TOKEN: the key's secret. The query string is in the URL bench/peer.sh
-- passes to wrk.
wrk.method = "GET"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("BENCH_TOKEN") or error("BENCH_TOKEN unset"))
