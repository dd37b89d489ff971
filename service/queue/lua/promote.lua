-- The promoter: move due scheduled messages and retries to the ready queue, put back jobs whose
-- worker's lock expired (the worker died or hung), and return parked jobs to the queue once their
-- pinned sender can take them again (breaker half open, a new day).
-- One worker of the installation promotes: whoever holds K.PROMOTER (a lease renewed by every
-- run); the others' calls only check the lease. (The work itself is atomic and safe from any
-- number of workers: the lease only saves Redis the idle polling of all but one.)
-- ARGV: now_ms, limit, cfg (JSON), pool (JSON {{name, day}, ...}), worker_id, lease_ms
-- Also touches: P.MSG.., P.ARQ_JOB.., P.SENDER.., P.PARKED.. (same hash slot).
-- Returns {leader, moved, next_at}: how many became ready, and when the promoter has work next
-- (unix ms: the next scheduled message, retry, lock deadline or breaker reopening of a sender with
-- parked jobs; absent when nothing waits).
local now, limit = tonumber(ARGV[1]), tonumber(ARGV[2])
local cfg, pool = cjson.decode(ARGV[3]), cjson.decode(ARGV[4])
local me, lease = ARGV[5], tonumber(ARGV[6])
local holder = redis.call('GET', K.PROMOTER)
if holder and holder ~= me then return cjson.encode({leader = false, moved = 0}) end
redis.call('SET', K.PROMOTER, me, 'PX', n2s(lease))

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

local next_at = nil
local function sooner(at)
  if at and (next_at == nil or at < next_at) then next_at = at end
end
local senders, names = load_pool(pool)
for _, name in ipairs(names) do
  local s = senders[name]
  if redis.call('EXISTS', P.PARKED .. name) == 1 then
    local why = unavailable(s, now, cfg)
    if why == nil or why == UNAVAILABLE.BUSY then
      moved = moved + unpark(name, limit)
    elseif why == UNAVAILABLE.BREAKER_OPEN then
      sooner(s.opened_at + cfg.open_ms)
    end
  end
  save_sender(s)
end
if moved > 0 then wake() end
for _, zset in ipairs({K.RETRY, K.SCHEDULED, K.INFLIGHT}) do
  local head = redis.call('ZRANGE', zset, 0, 0, 'WITHSCORES')
  if head[2] then sooner(tonumber(head[2])) end
end
return cjson.encode({leader = true, moved = moved, next_at = next_at})
