-- wrk script: pageviews spread over the provisioned sites, 200 pages and 5,000 sessions per
-- site. By default one event per request, as the tag sends it (text/plain, from the site's
-- Origin). SITES_FILE names a file with one "key_id project_id property_id domain secret" line
-- per site.
--
-- EVENTS_PER_REQUEST (optional, 1 to 50) puts that many pageviews in each request; each event
-- advances the page and session counters, so the events reach the tables as single-event
-- requests would. AUTH=bearer sends them server to server (application/json with
-- Authorization: Bearer <key secret>, as a forwarding server does) instead of from the Origin.
local sites = {}
for line in io.lines(os.getenv("SITES_FILE")) do
  local key, project, property, domain, secret = line:match("(%S+) (%S+) (%S+) (%S+) ?(%S*)")
  table.insert(sites, {key = key, project = project, property = property, domain = domain,
                       secret = secret})
end

-- DELAY_MS (optional) paces each connection: it waits that long after each answer, so a few
-- connections make a steady, moderate load whose latency is measured request by request.
local delay_ms = tonumber(os.getenv("DELAY_MS") or "")
if delay_ms then
  delay = function() return delay_ms end
end

local per_request = tonumber(os.getenv("EVENTS_PER_REQUEST") or "1")
local bearer = os.getenv("AUTH") == "bearer"
if bearer then
  for _, site in ipairs(sites) do
    assert(site.secret ~= "", "AUTH=bearer needs the key secrets in SITES_FILE")
  end
end

local requests_made = 0
local events_made = 0
local ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"

local function pageview(domain)
  events_made = events_made + 1
  local n = events_made
  return string.format(
    '{"type":"pageview","url":"https://%s/page/%d","referrer":"https://chatgpt.com/",' ..
    '"title":"Page %d","session_id":"s%d"}',
    domain, n % 200, n % 200, n % 5000)
end

request = function()
  requests_made = requests_made + 1
  local site = sites[(requests_made % #sites) + 1]
  local events = {}
  for i = 1, per_request do
    events[i] = pageview(site.domain)
  end
  local body = string.format(
    '{"key_id":"%s","project_id":"%s","property_id":%s,"events":[%s]}',
    site.key, site.project, site.property, table.concat(events, ","))
  local headers = {["User-Agent"] = ua}
  if bearer then
    headers["Content-Type"] = "application/json"
    headers["Authorization"] = "Bearer " .. site.secret
  else
    headers["Content-Type"] = "text/plain;charset=UTF-8"
    headers["Origin"] = "https://" .. site.domain
  end
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
