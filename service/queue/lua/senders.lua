-- The sender pool's state, read and moved by take.lua, complete.lua, promote.lua and the registry
-- scripts. One hash per sender, P.SENDER .. name:
--   rate, burst, daily_limit (0: none), paused (0|1), connection (close: Evolution said the
--     session closed; routing waits for open)                       - written by the registry
--   tat                                                              - the GCRA limiter (gcra.lua)
--   day, day_count                                                   - sends today, in the
--     sender's time zone (the day is computed by Python and passed in)
--   breaker, fails, opened_at, trials, win_start, win_total, win_fail - the circuit breaker
--   last_success_at, last_error_class, last_error_at                 - for people and the poison
--     message rule (complete.lua)
--
-- The breaker, driven by send outcomes only (Evolution's connectionState can say open while every
-- send fails): `cfg.failures` consecutive sender faults, or a fault ratio of `cfg.ratio` over at
-- least `cfg.min_requests` outcomes in a `cfg.window_ms` window, open it. After `cfg.open_ms` it is
-- half open: `cfg.trials` sends may go; a success closes it, a fault opens it again. A round of
-- trials that never reports (their worker died) is replaced by a new round after `cfg.open_ms`.

local SENDER_FIELDS = {'rate', 'burst', 'daily_limit', 'paused', 'connection', 'tat', 'breaker',
  'opened_at', 'trials', 'day', 'day_count'}

-- The routing state of one sender, or nil when it does not exist. `day`: its local date today.
local function load_sender(name, day)
  local f = redis.call('HMGET', P.SENDER .. name, unpack(SENDER_FIELDS))
  if not f[1] then return nil end
  return {
    name = name, key = P.SENDER .. name, rate = tonumber(f[1]), burst = tonumber(f[2]),
    daily_limit = tonumber(f[3]) or 0, paused = f[4] == '1', connection = f[5],
    tat = tonumber(f[6]) or 0, breaker = f[7] or BREAKER.CLOSED, opened_at = tonumber(f[8]) or 0,
    trials = tonumber(f[9]) or 0, day = day,
    day_count = (f[10] == day) and tonumber(f[11]) or 0, dirty = false,
  }
end

-- The senders named in `pool` ({{name, day}, ...}: the worker's view of the registry).
local function load_pool(pool)
  local senders, names = {}, {}
  for _, entry in ipairs(pool) do
    local s = load_sender(entry[1], entry[2])
    if s then
      senders[entry[1]] = s
      names[#names + 1] = entry[1]
    end
  end
  return senders, names
end

-- Why `s` cannot take a send now (an UNAVAILABLE value), or nil. Moves an open breaker whose wait
-- is over to half open, and replaces a stale round of trials.
local function unavailable(s, now, cfg)
  if s.paused then return UNAVAILABLE.PAUSED end
  if s.connection == CONNECTION.CLOSE then return UNAVAILABLE.DISCONNECTED end
  if s.breaker == BREAKER.OPEN then
    if now < s.opened_at + cfg.open_ms then return UNAVAILABLE.BREAKER_OPEN end
    s.breaker, s.trials, s.opened_at, s.dirty = BREAKER.HALF_OPEN, 0, now, true
  end
  if s.breaker == BREAKER.HALF_OPEN and s.trials >= cfg.trials then
    if now < s.opened_at + cfg.open_ms then return UNAVAILABLE.BREAKER_OPEN end
    s.trials, s.opened_at, s.dirty = 0, now, true
  end
  if s.daily_limit > 0 and s.day_count >= s.daily_limit then return UNAVAILABLE.DAILY_LIMIT end
  if gcra_next(s.tat, s.rate, s.burst, now) > now + cfg.horizon_ms then
    return UNAVAILABLE.BUSY
  end
  return nil
end

-- When `s` could next take a send (unix ms), or nil when only a person or an event can make it
-- available again (paused, disconnected, daily limit: their change wakes the workers).
local function available_at(s, now, cfg)
  local why = unavailable(s, now, cfg)
  if why == nil then return now end
  if why == UNAVAILABLE.BUSY then return gcra_next(s.tat, s.rate, s.burst, now) - cfg.horizon_ms end
  if why == UNAVAILABLE.BREAKER_OPEN then return s.opened_at + cfg.open_ms end
  return nil
end

-- Book the next send of `s`: returns its time (unix ms, up to cfg.horizon_ms ahead). A rebooking
-- (the worker missed its slot, rebook.lua) is the same send: today's count and trials stay.
local function reserve(s, now, rebooking)
  local at
  at, s.tat = gcra_reserve(s.tat, s.rate, s.burst, now)
  if not rebooking then
    s.day_count = s.day_count + 1
    if s.breaker == BREAKER.HALF_OPEN then s.trials = s.trials + 1 end
  end
  s.dirty = true
  return math.floor(at)
end

local function save_sender(s)
  if not s.dirty then return end
  redis.call('HSET', s.key, 'tat', string.format('%.3f', s.tat), 'day', s.day,
    'day_count', s.day_count, 'breaker', s.breaker, 'opened_at', n2s(s.opened_at),
    'trials', s.trials)
end

-- Move up to `limit` jobs parked for sender `name` back to the ready queue (at their old place).
local function unpark(name, limit)
  local parked = P.PARKED .. name
  local jobs = redis.call('ZRANGE', parked, 0, limit - 1, 'WITHSCORES')
  for i = 1, #jobs, 2 do
    redis.call('ZADD', K.QUEUE, jobs[i + 1], jobs[i])
    redis.call('ZREM', parked, jobs[i])
  end
  if #jobs > 0 then wake() end
  return #jobs / 2
end

-- The breaker's window of outcomes: reset when older than cfg.window_ms. Returns total, faults.
local function count_outcome(key, now, cfg, fault)
  local w = redis.call('HMGET', key, 'win_start', 'win_total', 'win_fail')
  local total, faults = tonumber(w[2]) or 0, tonumber(w[3]) or 0
  if now - (tonumber(w[1]) or 0) > cfg.window_ms then
    total, faults = 0, 0
    redis.call('HSET', key, 'win_start', n2s(now))
  end
  total = total + 1
  if fault then faults = faults + 1 end
  redis.call('HSET', key, 'win_total', total, 'win_fail', faults)
  return total, faults
end

-- The sender answered (a send, or a refusal of the recipient: either proves it works). Closes
-- the breaker; returns true when that unparked its pinned messages.
local function sender_worked(name, now, cfg, sent)
  local key = P.SENDER .. name
  if redis.call('EXISTS', key) == 0 then return false end
  local was = redis.call('HGET', key, 'breaker')
  count_outcome(key, now, cfg, false)
  redis.call('HSET', key, 'breaker', BREAKER.CLOSED, 'fails', 0, 'trials', 0,
    'last_success_at', n2s(now))
  if sent then
    -- Sends per second over the last minute: 60 slots of {second, count}.
    local minute, second = key .. ':minute', math.floor(now / 1000)
    local slot = second % 60
    if redis.call('HGET', minute, 't' .. slot) == tostring(second) then
      redis.call('HINCRBY', minute, 'c' .. slot, 1)
    else
      redis.call('HSET', minute, 't' .. slot, second, 'c' .. slot, 1)
    end
    redis.call('PEXPIRE', minute, 120000)
  end
  if was ~= nil and was ~= BREAKER.CLOSED then
    unpark(name, 1000)
    return true
  end
  return false
end

-- A sender fault (its session, its server, its key: not the message's fault). Returns the
-- breaker's state after it.
local function sender_faulted(name, now, cfg, error_class)
  local key = P.SENDER .. name
  if redis.call('EXISTS', key) == 0 then return BREAKER.OPEN end
  redis.call('HSET', key, 'last_error_class', error_class, 'last_error_at', n2s(now))
  local f = redis.call('HMGET', key, 'breaker', 'fails')
  local state = f[1] or BREAKER.CLOSED
  if state == BREAKER.OPEN then return state end -- a send booked before it opened
  local total, faults = count_outcome(key, now, cfg, true)
  local fails = (tonumber(f[2]) or 0) + 1
  local ratio_trips = total >= cfg.min_requests and faults / total >= cfg.ratio
  if state == BREAKER.HALF_OPEN or fails >= cfg.failures or ratio_trips then
    redis.call('HSET', key, 'breaker', BREAKER.OPEN, 'opened_at', n2s(now), 'trials', 0,
      'fails', fails)
    return BREAKER.OPEN
  end
  redis.call('HSET', key, 'fails', fails)
  return state
end
