-- onewindow: Open311 GeoReport v2 `GET /open311/v2/requests.json` (or .xml: the URL
-- bench/open311.sh passes to wrk), public and without a key: the spec's defaults — the
-- most recent 90 days, newest first — capped by the server at 1,000 requests
-- (onewindow_domain::grid::open311::MAX_REQUESTS). bench/open311.sh checks with curl and
-- jq before the rounds that the answer holds 1,000 requests.
--
-- No response() hook: with one, wrk hands every ~0.5 MB body to Lua, and the load
-- generator shares the server's two cores. wrk's own "Non-2xx or 3xx responses" count is
-- the error count (a redirect is ruled out by the curl check first).
wrk.method = "GET"
