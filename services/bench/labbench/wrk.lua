-- labbench's script for wrk (labbench.wrkrun): checks every answer as the
-- locustfile does, and writes wrk's summary as JSON when the run ends.
--
-- labbench passes what a correct answer is in the environment, from
-- labcore.scenarios (Scenario.wire_answer), so this file holds no scenario:
--   LAB_WRK_STATUS  the status of a correct answer (200)
--   LAB_WRK_MODE    "body": the whole body is LAB_WRK_EXPECT;
--                   "field": the body holds LAB_WRK_EXPECT followed by , or }
--   LAB_WRK_EXPECT  the text
--   LAB_WRK_OUT     where done() writes the JSON summary
--
-- Each wrk thread runs this script in a Lua state of its own: response()
-- counts in that thread's globals, and done() (in the main state) sums them
-- through the thread objects setup() kept.

local expect_status = tonumber(os.getenv("LAB_WRK_STATUS") or "200")
local mode = os.getenv("LAB_WRK_MODE") or "body"
local expected = os.getenv("LAB_WRK_EXPECT") or ""
local out = os.getenv("LAB_WRK_OUT")

local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

bad_status = 0
wrong_body = 0
sample = ""

local function correct(body)
   if mode == "body" then
      return body == expected
   end
   local _, last = string.find(body, expected, 1, true)
   if last == nil then
      return false
   end
   local after = string.sub(body, last + 1, last + 1)
   -- "ms":10 must not pass for "ms":100.
   return after == "," or after == "}"
end

function response(status, headers, body)
   if status ~= expect_status then
      bad_status = bad_status + 1
      if sample == "" then
         sample = "status " .. status .. ": " .. string.sub(body or "", 1, 120)
      end
   elseif not correct(body or "") then
      wrong_body = wrong_body + 1
      if sample == "" then
         sample = string.sub(body or "", 1, 120)
      end
   end
end

local function json_string(text)
   local escaped = string.gsub(text, '[%c"\\\128-\255]', function(char)
      return string.format("\\u%04x", string.byte(char))
   end)
   return '"' .. escaped .. '"'
end

function done(summary, latency, requests)
   local bad, wrong, first = 0, 0, ""
   for _, thread in ipairs(threads) do
      bad = bad + thread:get("bad_status")
      wrong = wrong + thread:get("wrong_body")
      if first == "" then
         first = thread:get("sample")
      end
   end
   local errors = summary.errors
   local file = assert(io.open(out, "w"))
   file:write(string.format(
      '{"requests": %d, "duration_us": %d, "bytes": %d, '
         .. '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, '
         .. '"bad_status": %d, "wrong_body": %d, "sample": %s, '
         .. '"latency_us": {"mean": %.3f, "p50": %d, "p95": %d, "p99": %d, "max": %d}}\n',
      summary.requests, summary.duration, summary.bytes,
      errors.connect, errors.read, errors.write, errors.status, errors.timeout,
      bad, wrong, json_string(first),
      latency.mean, latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max
   ))
   file:close()
end
