-- Move due scheduled messages and retries to the ready queue, and put back jobs whose worker's lock
-- expired (the worker died or hung). ARGV: now_ms, limit, job_extra_ms
-- Returns how many were moved. Atomic, so any number of workers may run it concurrently.
local now, limit, job_extra = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local moved = 0
local expired = redis.call('ZRANGEBYSCORE', INFLIGHT, '-inf', n2s(now), 'LIMIT', 0, limit)
for _, job in ipairs(expired) do
  redis.call('ZREM', INFLIGHT, job)
  moved = moved + back_to_queue(job)
end
for _, zset in ipairs({RETRY, SCHEDULED}) do
  local due = redis.call('ZRANGEBYSCORE', zset, '-inf', n2s(now), 'WITHSCORES', 'LIMIT', 0, limit)
  for i = 1, #due, 2 do
    local id, at = due[i], tonumber(due[i + 1])
    redis.call('ZREM', zset, id)
    local key = MSG .. id
    local f = redis.call('HMGET', key, 'status', 'priority', 'expires_at')
    if f[1] == 'scheduled' then
      history(key, 'queued', now)
      push_ready(id, f[2], at, tonumber(f[3]), now, job_extra)
      moved = moved + 1
    end
  end
end
return moved
