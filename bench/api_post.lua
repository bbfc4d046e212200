-- wrk script for bench/api_load.sh: POSTs the form body in $API_BODY to the tablet API and
-- counts replies that are not `success:1` (they would make the figures meaningless).
wrk.method = "POST"
wrk.body = os.getenv("API_BODY") or ""
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"

local threads = {}

function setup(thread)
    table.insert(threads, thread)
end

function init(args)
    failures = 0 -- global: read by done() through thread:get
end

function response(status, headers, body)
    if status ~= 200 or not string.find(body, "success:1", 1, true) then
        failures = failures + 1
    end
end

function done(summary, latency, requests)
    local total = 0
    for _, t in ipairs(threads) do
        total = total + t:get("failures")
    end
    io.write(string.format("replies without success:1: %d\n", total))
    io.write(string.format("p50 %.2f ms, p99 %.2f ms\n",
        latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
