-- POST one fixed body with fixed headers; for the gateway's REST endpoints.
-- Usage: wrk -t2 -c16 -d5s -s post_json.lua URL -- BODY ["Header: value" ...]
-- Content-Type defaults to application/json unless a header argument sets it.

function init(args)
   wrk.method = "POST"
   wrk.body = args[1] or error("usage: -- BODY [\"Header: value\" ...]")
   wrk.headers["Content-Type"] = "application/json"
   for i = 2, #args do
      local name, value = args[i]:match("^([^:]+):%s*(.*)$")
      if not name then error("bad header argument: " .. args[i]) end
      wrk.headers[name] = value
   end
end

-- One machine-readable summary line for the runner (durations in microseconds).
function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      'WRKJSON {"requests": %d, "duration_us": %.0f, "status_errors": %d, "connect_errors": %d, '
         .. '"read_errors": %d, "write_errors": %d, "timeouts": %d, "p50_us": %.1f, "p99_us": %.1f}\n',
      summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
      latency:percentile(50), latency:percentile(99)))
end
