-- wrk script: single-event pageviews, as the tag sends them (text/plain, from the site's
-- Origin), spread over the provisioned sites, 200 pages and 5,000 sessions per site.
-- SITES_FILE names a file with one "key_id project_id property_id domain" line per site.
local sites = {}
for line in io.lines(os.getenv("SITES_FILE")) do
  local key, project, property, domain = line:match("(%S+) (%S+) (%S+) (%S+)")
  table.insert(sites, {key = key, project = project, property = property, domain = domain})
end

-- DELAY_MS (optional) paces each connection: it waits that long after each answer, so a few
-- connections make a steady, moderate load whose latency is measured request by request.
local delay_ms = tonumber(os.getenv("DELAY_MS") or "")
if delay_ms then
  delay = function() return delay_ms end
end

local counter = 0
local ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"

request = function()
  counter = counter + 1
  local site = sites[(counter % #sites) + 1]
  local body = string.format(
    '{"key_id":"%s","project_id":"%s","property_id":%s,"events":[{"type":"pageview",' ..
    '"url":"https://%s/page/%d","referrer":"https://chatgpt.com/","title":"Page %d",' ..
    '"session_id":"s%d"}]}',
    site.key, site.project, site.property, site.domain, counter % 200, counter % 200, counter % 5000)
  local headers = {
    ["Content-Type"] = "text/plain;charset=UTF-8",
    ["Origin"] = "https://" .. site.domain,
    ["User-Agent"] = ua,
  }
  return wrk.format("POST", "/v1/events", headers, body)
end

done = function(summary, latency, requests)
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect_errors":%d,' ..
    '"read_errors":%d,"write_errors":%d,"status_errors":%d,"timeouts":%d,' ..
    '"p50_us":%d,"p95_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, summary.errors.connect,
    summary.errors.read, summary.errors.write, summary.errors.status, summary.errors.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max,
    latency.mean))
end
