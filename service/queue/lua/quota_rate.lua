-- One API request against its key's rate (service/limits/quotas.py). ARGV: now_ms, rate per
-- second, burst. Returns {wait_ms = 0 (counted) | ms until it may go}.
local wait = quota_request(K.RATE, tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[1]))
return cjson.encode({wait_ms = wait})
