-- wrk script for the unknown-key flood: each request carries the next key of a file, round robin,
-- so a server cannot answer the flood from one remembered key.
-- Env: BENCH_KEYS_FILE (one key a line), BENCH_HEADER (e.g. X-API-Key), BENCH_VALUE_PREFIX
-- (e.g. "Bearer "). The requests are formatted once, in init, so each one costs wrk a table read.
local requests = {}
local n = 0
local i = 0

function init(args)
   local header = os.getenv("BENCH_HEADER")
   local value_prefix = os.getenv("BENCH_VALUE_PREFIX") or ""
   for key in io.lines(os.getenv("BENCH_KEYS_FILE")) do
      if key ~= "" then
         n = n + 1
         requests[n] = wrk.format(nil, nil, { [header] = value_prefix .. key })
      end
   end
   if n == 0 then
      error("no keys in " .. os.getenv("BENCH_KEYS_FILE"))
   end
end

function request()
   i = i % n + 1
   return requests[i]
end
