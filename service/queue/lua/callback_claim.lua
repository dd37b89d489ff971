-- A dispatcher claims up to n due client callbacks (the lease pattern of take.lua).
-- ARGV: now_ms, n, lease_ms, cap (deliveries in flight per endpoint, shared by every process)
-- Also touches: P.CALLBACK.., P.CB_ENDPOINT.. (same hash slot).
-- Returns {events = {{id, type, url, message, status, phone, at, data, attempts}...}, next_at,
--   dead, leased}: next_at is when the next event is due or a lease runs out (unix ms; absent:
--   nothing waits); dead and leased feed the gauges.
--
-- First, leases that ran out (their dispatcher died or hung) give their events back, due at
-- once: an attempt that never reported counts as made. Then the due endpoints, earliest first,
-- each give at most their free slots (cap minus K.CALLBACKS_BUSY), so one slow receiver with a
-- backlog never holds back the others. An endpoint with no free slot leaves K.CALLBACKS_READY;
-- the end of one of its deliveries (callback_done.lua) puts it back.
local now, n, lease, cap = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]),
  tonumber(ARGV[4])
local out = {events = {}}

for _, id in ipairs(redis.call('ZRANGEBYSCORE', K.CALLBACKS_LEASED, '-inf', n2s(now), 'LIMIT', 0,
    100)) do
  redis.call('ZREM', K.CALLBACKS_LEASED, id)
  local endpoint = redis.call('HGET', P.CALLBACK .. id, 'endpoint')
  if endpoint then
    callback_release(endpoint)
    redis.call('ZADD', P.CB_ENDPOINT .. endpoint, n2s(now), id)
    endpoint_ready(endpoint)
  end
end

local function claim(endpoint, id)
  local key = P.CALLBACK .. id
  local f = redis.call('HMGET', key, 'type', 'url', 'message', 'status', 'phone', 'at', 'data')
  if not f[1] then return false end -- expired (CALLBACK_TTL_MS) while nobody could deliver it
  local attempts = redis.call('HINCRBY', key, 'attempts', 1)
  redis.call('ZADD', K.CALLBACKS_LEASED, n2s(now + lease), id)
  redis.call('HINCRBY', K.CALLBACKS_BUSY, endpoint, 1)
  out.events[#out.events + 1] = {
    id = id, type = f[1], url = f[2], message = f[3], status = f[4], phone = f[5],
    at = tonumber(f[6]), data = f[7], attempts = attempts,
  }
  return true
end

local endpoints = redis.call('ZRANGEBYSCORE', K.CALLBACKS_READY, '-inf', n2s(now), 'LIMIT', 0, n)
for _, endpoint in ipairs(endpoints) do
  local free = cap - (tonumber(redis.call('HGET', K.CALLBACKS_BUSY, endpoint)) or 0)
  local queue = P.CB_ENDPOINT .. endpoint
  if free > 0 and #out.events < n then
    local ids = redis.call('ZRANGEBYSCORE', queue, '-inf', n2s(now), 'LIMIT', 0,
      math.min(free, n - #out.events))
    for _, id in ipairs(ids) do
      redis.call('ZREM', queue, id)
      if claim(endpoint, id) then free = free - 1 end
    end
  end
  if free > 0 then endpoint_ready(endpoint) else redis.call('ZREM', K.CALLBACKS_READY, endpoint) end
end

-- More may be due than this dispatcher could take: pass the wake-up on.
if #out.events >= n and #endpoints > 0 then callback_wake() end
for _, zset in ipairs({K.CALLBACKS_READY, K.CALLBACKS_LEASED}) do
  local head = redis.call('ZRANGE', zset, 0, 0, 'WITHSCORES')
  if head[2] and (out.next_at == nil or tonumber(head[2]) < out.next_at) then
    out.next_at = tonumber(head[2])
  end
end
out.dead = redis.call('ZCARD', K.CALLBACKS_DEAD)
out.leased = redis.call('ZCARD', K.CALLBACKS_LEASED)
return cjson.encode(out)
