-- onewindow: a rating of a finished case (好差评, issue 11), one case per request, never
-- the same case twice (a second rating of a case is 409).
--
--   BENCH_MODE=online (default): POST /api/v1/ratings/online, the resident's path — no
--     authentication, the case number and its query code (looked up as the tracking page
--     does), level very_satisfied.
--   BENCH_MODE=staff: POST /api/v1/ratings, staff entry of a phone-callback rating
--     (level satisfied) with an API key (BENCH_TOKEN) of an account with EnterRatings at
--     the hall (bench/ratings.sh uses the demo `guide`).
--
-- BENCH_CASES: a file of `case_no<TAB>query_code` lines (bench/finish_cases.py); this run
-- uses lines BENCH_FIRST .. BENCH_FIRST + BENCH_COUNT - 1, cut into BENCH_THREADS equal
-- slices, one per wrk thread. wrk's Lua has no per-connection hook: request() runs in the
-- thread's Lua state for whichever of its connections is ready, so each thread hands out
-- its slice in order and every request rates a case of its own.
--
-- Counted per thread and printed by done() as one line
--   rating: answered N  201 N  non-201 N  exhausted N  statuses {409=…}
-- "exhausted" are requests sent after the thread's slice ran out (to case number
-- EXHAUSTED, which answers 404): bench/ratings.sh refuses a round that has any.

local first = tonumber(os.getenv("BENCH_FIRST") or "1")
local count = tonumber(os.getenv("BENCH_COUNT") or error("BENCH_COUNT unset"))
local nthreads = tonumber(os.getenv("BENCH_THREADS") or error("BENCH_THREADS unset"))
local mode = os.getenv("BENCH_MODE") or "online"
local slice = math.floor(count / nthreads)

local threads = {}
local next_thread = 0

function setup(thread)
  thread:set("tid", next_thread)
  next_thread = next_thread + 1
  table.insert(threads, thread)
end

local cases = {}
local cursor = 0
created, non201, exhausted = 0, 0, 0
statuses = {}

function init(args)
  local lo = first + tid * slice
  local hi = lo + slice - 1
  local path = os.getenv("BENCH_CASES") or error("BENCH_CASES unset")
  local n = 0
  for line in io.lines(path) do
    n = n + 1
    if n >= lo and n <= hi then
      local no, code = line:match("^(%S+)\t(%S+)$")
      assert(no, "bad line " .. n .. " in " .. path)
      cases[#cases + 1] = { no, code }
    end
  end
  assert(#cases == slice, "thread " .. tid .. ": lines " .. lo .. ".." .. hi .. " not all in " .. path)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  if mode == "staff" then
    wrk.path = "/api/v1/ratings"
    wrk.headers["Authorization"] = "Bearer " .. (os.getenv("BENCH_TOKEN") or error("BENCH_TOKEN unset"))
  else
    wrk.path = "/api/v1/ratings/online"
  end
end

function request()
  -- wrk calls request() once before the run to check it (thread 0): that case is skipped.
  cursor = cursor + 1
  local c = cases[cursor]
  if not c then
    exhausted = exhausted + 1
    c = { "EXHAUSTED", "0" }
  end
  local body
  if mode == "staff" then
    body = '{"case_no":"' .. c[1] .. '","channel":"phone_callback","level":"satisfied","comment":""}'
  else
    body = '{"case_no":"' .. c[1] .. '","code":"' .. c[2] ..
      '","level":"very_satisfied","scores":{},"tags":[],"comment":""}'
  end
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  if status == 201 then
    created = created + 1
  else
    non201 = non201 + 1
    statuses[status] = (statuses[status] or 0) + 1
  end
end

function done(summary, latency, requests)
  local s, c, n, e = 0, 0, 0, 0
  local by = {}
  for _, t in ipairs(threads) do
    c = c + t:get("created")
    n = n + t:get("non201")
    s = s + t:get("created") + t:get("non201")
    e = e + t:get("exhausted")
    for k, v in pairs(t:get("statuses")) do
      by[k] = (by[k] or 0) + v
    end
  end
  local parts = {}
  for k, v in pairs(by) do
    parts[#parts + 1] = k .. "=" .. v
  end
  table.sort(parts)
  io.write(string.format("rating: answered %d  201 %d  non-201 %d  exhausted %d  statuses {%s}\n",
    s, c, n, e, table.concat(parts, ",")))
end
