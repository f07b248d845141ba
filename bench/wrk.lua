-- wrk's side of bench/load.ts: every request is one of the paths in the file named by
-- BENCH_WRK_PATHS (one per line, already shuffled), walked in turn from a different place
-- by each thread (BENCH_WRK_THREADS of them); method, headers and body from BENCH_WRK_METHOD, BENCH_WRK_HEADERS (a
-- "name: value" per line) and BENCH_WRK_BODY. The requests are formatted once, at start-up,
-- so a request costs the load generator no Lua string work. At the end it prints one line
-- of JSON that bench/load.ts reads.

local requests = {}
local count = 0
local nextIndex = 1
local threadNumber = 0
local threads = {}
local threadCount = tonumber(os.getenv('BENCH_WRK_THREADS') or '1')

local function readLines(name)
  local lines = {}
  local file = assert(io.open(name, 'r'))
  for line in file:lines() do
    if line ~= '' then lines[#lines + 1] = line end
  end
  file:close()
  return lines
end

function setup(thread)
  thread:set('threadNumber', #threads)
  threads[#threads + 1] = thread
end

function init(args)
  local method = os.getenv('BENCH_WRK_METHOD') or 'GET'
  local body = os.getenv('BENCH_WRK_BODY')
  if body == '' then body = nil end
  local headers = {}
  local headerText = os.getenv('BENCH_WRK_HEADERS') or ''
  for line in headerText:gmatch('[^\n]+') do
    local name, value = line:match('^([^:]+):%s*(.*)$')
    if name then headers[name] = value end
  end
  for _, path in ipairs(readLines(os.getenv('BENCH_WRK_PATHS'))) do
    count = count + 1
    requests[count] = wrk.format(method, path, headers, body)
  end
  -- Threads start at evenly spread places in the list.
  nextIndex = (math.floor(threadNumber * count / threadCount) % count) + 1
end

function request()
  local r = requests[nextIndex]
  nextIndex = nextIndex + 1
  if nextIndex > count then nextIndex = 1 end
  return r
end

function done(summary, latency, _)
  local ms = function(us) return us / 1000 end
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"durationUs":%d,"p50":%.3f,"p90":%.3f,"p95":%.3f,"p97_5":%.3f,"p99":%.3f,"max":%.3f,"mean":%.3f,' ..
      '"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}\n',
    summary.requests, summary.duration,
    ms(latency:percentile(50)), ms(latency:percentile(90)), ms(latency:percentile(95)), ms(latency:percentile(97.5)), ms(latency:percentile(99)),
    ms(latency.max), ms(latency.mean),
    e.connect, e.read, e.write, e.status, e.timeout))
end
