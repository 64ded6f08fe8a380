-- AWS KMS GenerateDataKey over the AWS JSON 1.1 protocol, as moto_server (or real KMS) expects.
-- Usage: wrk -t2 -c16 -d5s -s kms_generate_data_key.lua http://127.0.0.1:PORT/ -- KEY_ID [AUTHORIZATION]
-- moto does not verify signatures, but it picks the service from the Authorization header's
-- credential scope: an unsigned POST is routed to S3 and answered 200 with ListBuckets XML.
-- So the runner passes a static, SigV4-shaped header whose scope says "kms".

function init(args)
   local key_id = args[1] or error("usage: -- KEY_ID [AUTHORIZATION]")
   wrk.method = "POST"
   wrk.path = "/"
   wrk.headers["Content-Type"] = "application/x-amz-json-1.1"
   wrk.headers["X-Amz-Target"] = "TrentService.GenerateDataKey"
   if args[2] and args[2] ~= "" then
      wrk.headers["Authorization"] = args[2]
   end
   wrk.body = string.format('{"KeyId": "%s", "KeySpec": "AES_256"}', key_id)
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
