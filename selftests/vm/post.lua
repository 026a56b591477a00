-- wrk script: POST bodies to rotating keys; BODY (bytes) from the
-- environment, 1024 by default (a 1156-byte request: the paper's WAL
-- workload).
local size = tonumber(os.getenv("BODY") or "1024")
local body = string.rep("x", size)
local n = 0
request = function()
  n = n + 1
  return wrk.format("POST", "/k" .. (n % 1000), { ["Content-Length"] = #body }, body)
end
