-- Reserve (n > 0) or give back (n < 0) messages of a key's day (service/limits/quotas.py).
-- ARGV: n, limit, ttl_ms. Returns {used = count before, reserved = bool}.
local used, reserved = quota_reserve(K.DAY, tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]))
return cjson.encode({used = used, reserved = reserved})
