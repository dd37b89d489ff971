-- The per-sender rate limit every worker process and pod shares: GCRA (the generic cell rate
-- algorithm) over one number per sender, its theoretical arrival time `tat` (unix ms, fractional).
-- Python's side and the guarantee: service/limits/shared.py.
--
-- A reservation may lie in the future: the caller sends at the returned time. With interval
-- I = 1000 / rate and tolerance (burst - 1) * I, `burst` sends may go at once after an idle spell
-- and then one every I ms, so any 1-second window holds at most burst + ceil(rate) - 1 sends (below
-- rate + burst).

-- When the next send may go (unix ms, >= now).
local function gcra_next(tat, rate, burst, now)
  return math.max(now, tat - (burst - 1) * 1000 / rate)
end

-- Reserve one send: returns (send time, the new tat).
local function gcra_reserve(tat, rate, burst, now)
  return gcra_next(tat, rate, burst, now), math.max(tat, now) + 1000 / rate
end
