-- Per API key quotas, shared by every API pod (Python's side: service/limits/quotas.py). Uses
-- gcra.lua (included before this file).

-- One request against a key's rate: 0 when it may go now (and counted), else the ms to wait.
local function quota_request(key, rate, burst, now)
  local tat = tonumber(redis.call('GET', key) or now)
  local at = gcra_next(tat, rate, burst, now)
  if at > now then return math.ceil(at - now) end
  local _, next_tat = gcra_reserve(tat, rate, burst, now)
  redis.call('SET', key, string.format('%.3f', next_tat), 'PX', n2s(math.ceil(next_tat - now) + 1000))
  return 0
end

-- Reserve n messages of a key's day (n < 0 gives them back). Returns the count before, and
-- whether it was reserved: nothing is when n would pass the limit.
local function quota_reserve(key, n, limit, ttl_ms)
  local used = tonumber(redis.call('GET', key) or '0')
  if n > 0 and used + n > limit then return used, false end
  redis.call('INCRBY', key, n)
  redis.call('PEXPIRE', key, n2s(ttl_ms))
  return used, true
end
