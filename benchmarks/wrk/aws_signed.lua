-- One AWS KMS JSON 1.1 request, signed once with SigV4 and replayed (valid inside the 5-minute skew).
-- Usage: wrk ... -s aws_signed.lua URL -- TARGET BODY_FILE HEADERS_FILE (one "Name: value" per line)
function init(args)
   wrk.method = "POST"
   wrk.path = "/"
   local f = assert(io.open(args[2], "rb")); wrk.body = f:read("*a"); f:close()
   for line in io.lines(args[3]) do
      local name, value = line:match("^([^:]+):%s*(.*)$")
      if name then wrk.headers[name] = value end
   end
   wrk.headers["X-Amz-Target"] = "TrentService." .. args[1]
end

-- One machine-readable summary line for the runner (durations in microseconds), as kms_generate_data_key.lua.
function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      'WRKJSON {"requests": %d, "duration_us": %.0f, "status_errors": %d, "connect_errors": %d, '
         .. '"read_errors": %d, "write_errors": %d, "timeouts": %d, "p50_us": %.1f, "p99_us": %.1f}\n',
      summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
      latency:percentile(50), latency:percentile(99)))
end
