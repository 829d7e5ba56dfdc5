-- wrk script of the benchmark (bench/src/load.ts runWrk): each request GETs the next of the paths given after
-- `--`, in turn, with the X-Vault-Token from BENCH_VAULT_TOKEN (the environment, so no token sits in a file or on
-- a command line); done() prints one line of JSON that bench/src/wrkReport.ts parses.

local token = os.getenv("BENCH_VAULT_TOKEN")
local prepared = {}
local nextIndex = 1

function init(args)
  assert(token and token ~= "", "BENCH_VAULT_TOKEN is not set")
  -- args[0] is the URL; the paths follow it. Requests are built once: building one per call costs wrk's thread.
  for i = 1, #args do
    prepared[i] = wrk.format("GET", args[i], { ["X-Vault-Token"] = token })
  end
  assert(#prepared > 0, "no paths after --")
end

function request()
  local r = prepared[nextIndex]
  nextIndex = nextIndex % #prepared + 1
  return r
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'wrk-report {"durationUs":%d,"requests":%d,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},'
      .. '"latencyUs":{"p50":%d,"p90":%d,"p99":%d}}\n',
    summary.duration, summary.requests, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99)))
end
