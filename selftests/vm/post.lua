-- wrk script: POST 1024-byte bodies to rotating keys (the paper's WAL
-- workload: a 1156-byte request).
local body = string.rep("x", 1024)
local n = 0
request = function()
  n = n + 1
  return wrk.format("POST", "/k" .. (n % 1000), { ["Content-Length"] = #body }, body)
end
