-- Move due scheduled messages and retries to the ready queue, put back jobs whose worker's lock
-- expired (the worker died or hung), and return parked jobs to the queue once their pinned sender
-- can take them again (breaker half open, a new day). Atomic, so any number of workers may run it.
-- ARGV: now_ms, limit, cfg (JSON), pool (JSON {{name, day}, ...})
-- Also touches: P.MSG.., P.ARQ_JOB.., P.SENDER.., P.PARKED.. (same hash slot).
-- Returns {moved, next_at}: how many became ready, and when the next scheduled message or retry
-- is due (unix ms; absent when none is waiting).
local now, limit = tonumber(ARGV[1]), tonumber(ARGV[2])
local cfg, pool = cjson.decode(ARGV[3]), cjson.decode(ARGV[4])
local moved = 0
local expired = redis.call('ZRANGEBYSCORE', K.INFLIGHT, '-inf', n2s(now), 'LIMIT', 0, limit)
for _, job in ipairs(expired) do
  redis.call('ZREM', K.INFLIGHT, job)
  moved = moved + back_to_queue(job)
end
for _, zset in ipairs({K.RETRY, K.SCHEDULED}) do
  local due = redis.call('ZRANGEBYSCORE', zset, '-inf', n2s(now), 'WITHSCORES', 'LIMIT', 0, limit)
  for i = 1, #due, 2 do
    local id, at = due[i], tonumber(due[i + 1])
    redis.call('ZREM', zset, id)
    local key = P.MSG .. id
    local f = redis.call('HMGET', key, 'status', 'priority', 'expires_at')
    if f[1] == S.SCHEDULED then
      history(key, S.QUEUED, now)
      push_ready(id, f[2], at, tonumber(f[3]), now)
      moved = moved + 1
    end
  end
end
local senders, names = load_pool(pool)
for _, name in ipairs(names) do
  local s = senders[name]
  local why = unavailable(s, now, cfg)
  if (why == nil or why == UNAVAILABLE.BUSY) and redis.call('EXISTS', P.PARKED .. name) == 1 then
    moved = moved + unpark(name, limit)
  end
  save_sender(s)
end
if moved > 0 then wake() end
local next_at = nil
for _, zset in ipairs({K.RETRY, K.SCHEDULED, K.INFLIGHT}) do
  local head = redis.call('ZRANGE', zset, 0, 0, 'WITHSCORES')
  if head[2] and (next_at == nil or tonumber(head[2]) < next_at) then next_at = tonumber(head[2]) end
end
return cjson.encode({moved = moved, next_at = next_at})
