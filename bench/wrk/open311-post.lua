-- onewindow: Open311 GeoReport v2 `POST /open311/v2/requests.<BENCH_FORMAT>` (json by
-- default, or xml), a form as a third-party client (FixMyStreet) sends it: service_code,
-- lat/long, description, first_name and the client's api_key (BENCH_KEY, an API key of a
-- service account of 幸福街道; bench/open311.sh uses the demo `dispatcher`).
--
-- Every request is a new report at its own point: a pseudo-random point inside the demo
-- street's six grids (crates/store/src/grid/demo.rs: lon 116.390 + 3 x 0.006, lat 39.904
-- + 2 x 0.004; 30 m kept off the edges), the service code cycling through the demo's five
-- categories (crates/store/src/grid/demo.rs CATEGORIES). Seeded per thread (BENCH_SEED +
-- thread), so a run is the same sequence every time.
--
-- Counted per thread and printed by done() as one line
--   open311: answered N  201 N  non-201 N  statuses {403=…}
-- bench/open311.sh refuses a measured round whose non-201 answers exceed MAX_ERROR_PCT.

local format = os.getenv("BENCH_FORMAT") or "json"
local key = os.getenv("BENCH_KEY") or error("BENCH_KEY unset")
local seed = tonumber(os.getenv("BENCH_SEED") or "311")

local WEST, SOUTH, WIDTH, HEIGHT, MARGIN = 116.390, 39.904, 0.018, 0.008, 0.0003

local function urlencode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

-- code, description (the demo's own wording)
local services = {
  { "lights", urlencode("路灯不亮，请拍下灯杆编号") },
  { "building", urlencode("私搭乱建，违规加层") },
  { "firelane", urlencode("车辆占用消防通道") },
  { "garbage", urlencode("垃圾满溢，建筑垃圾乱倒") },
  { "dispute", urlencode("楼上噪音引起邻里纠纷") },
}

local threads = {}
local next_thread = 0

function setup(thread)
  thread:set("tid", next_thread)
  next_thread = next_thread + 1
  table.insert(threads, thread)
end

local n = 0
local tail
created, non201 = 0, 0
statuses = {}

function init(args)
  math.randomseed(seed + 7919 * tid)
  wrk.method = "POST"
  wrk.path = "/open311/v2/requests." .. format
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  tail = "&first_name=bench&last_name=t" .. tid .. "&api_key=" .. urlencode(key)
end

function request()
  n = n + 1
  local s = services[(n + tid) % #services + 1]
  local lon = WEST + MARGIN + math.random() * (WIDTH - 2 * MARGIN)
  local lat = SOUTH + MARGIN + math.random() * (HEIGHT - 2 * MARGIN)
  local body = string.format("service_code=%s&lat=%.6f&long=%.6f&description=%s%s",
    s[1], lat, lon, s[2], tail)
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
  local c, e = 0, 0
  local by = {}
  for _, t in ipairs(threads) do
    c = c + t:get("created")
    e = e + t:get("non201")
    for k, v in pairs(t:get("statuses")) do
      by[k] = (by[k] or 0) + v
    end
  end
  local parts = {}
  for k, v in pairs(by) do
    parts[#parts + 1] = k .. "=" .. v
  end
  table.sort(parts)
  io.write(string.format("open311: answered %d  201 %d  non-201 %d  statuses {%s}\n",
    c + e, c, e, table.concat(parts, ",")))
end
