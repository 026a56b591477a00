-- wrk script: POST bodies to rotating keys. BODY (bytes, default 1024) is
-- the body; TOTAL (bytes, optional) pads the request with an X-Pad header
-- to exactly that size, for the PASTE paper's 1135- and 1156-byte POSTs.
local size = tonumber(os.getenv("BODY") or "1024")
local total = tonumber(os.getenv("TOTAL") or "0")
local body = string.rep("x", size)
local cache = {}
local n = 0

local function build(path)
  local hdrs = { ["Content-Length"] = #body }
  local req = wrk.format("POST", path, hdrs, body)
  local pad = total - #req - #"X-Pad: \r\n"
  if pad >= 0 then
    hdrs["X-Pad"] = string.rep("p", pad)
    req = wrk.format("POST", path, hdrs, body)
  end
  return req
end

request = function()
  n = n + 1
  local k = n % 1000
  if not cache[k] then
    cache[k] = build("/k" .. k)
  end
  return cache[k]
end
