-- wrk script: an optional fixed request rate (BENCH_RATE req/s over BENCH_CONNECTIONS connections) and one JSON
-- summary line (latencies in microseconds) for scripts/bench/lib/load.ts to parse.
local rate = tonumber(os.getenv("BENCH_RATE") or "0")
local connections = tonumber(os.getenv("BENCH_CONNECTIONS") or "1")

function delay()
  if rate > 0 then
    -- Each connection waits its share of the interval; the achieved rate is reported, not assumed.
    return connections * 1000 / rate
  end
  return 0
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"durationUs":%d,"errors":%d,"non2xx":%d,"p50Us":%d,"p90Us":%d,"p99Us":%d,"maxUs":%d}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
