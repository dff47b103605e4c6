-- django-helpdesk 2.6.1: GET /api/tickets/ (the first page: its API's page size, 25) with a
-- DRF token. BENCH_TOKEN: the token.
wrk.method = "GET"
wrk.headers["Authorization"] = "Token " .. (os.getenv("BENCH_TOKEN") or error("BENCH_TOKEN unset"))
