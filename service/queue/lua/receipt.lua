-- Evolution's receipts for sent messages (messages.update), one webhook's worth.
-- ARGV: now_ms, then per receipt: provider id (Evolution's key.id), status (acknowledged |
--   delivered | read | failed: Python maps Evolution's SERVER_ACK, DELIVERY_ACK, READ/PLAYED,
--   ERROR), error text ('' unless failed).
-- Also touches: P.PROVIDER.., P.MSG.., P.CALLBACK.., P.CB_ENDPOINT.. (same hash slot).
-- Returns {results = {{outcome, id, status, sent_at}...}}, outcome:
--   applied    the status moved (a callback is queued when the status has one)
--   duplicate  the message is in that status already
--   stale      the receipt is behind the status (a late DELIVERY_ACK after READ) or the message
--              ended otherwise: nothing changes
--   unknown    no message has that provider id (not zapq's, or past its retention)
-- A status only moves forward (RANK); failed is allowed from any receipt status below read.
local now = tonumber(ARGV[1])
local results = {}

local function moves(current, status)
  if status == S.FAILED then return RANK[current] ~= nil and RANK[current] < RANK[S.READ] end
  return RANK[current] ~= nil and RANK[status] > RANK[current]
end

local function receipt(provider, status, err)
  local id = redis.call('GET', P.PROVIDER .. provider)
  if not id then return {outcome = 'unknown'} end
  local key = P.MSG .. id
  local f = redis.call('HMGET', key, 'status', 'sent_at', 'delivered_at')
  if not f[1] then return {outcome = 'unknown'} end
  local out = {id = id, status = f[1], sent_at = tonumber(f[2])}
  if f[1] == status then
    out.outcome = 'duplicate'
  elseif not moves(f[1], status) then
    out.outcome = 'stale'
  else
    local extra = nil
    if status == S.FAILED then
      extra = {error_class = 'delivery_failed'}
      redis.call('HSET', key, 'error_class', 'delivery_failed', 'last_error', err)
    end
    history(key, status, now, extra)
    -- READ before any DELIVERY_ACK: it was delivered by then.
    if status == S.READ and not f[3] then redis.call('HSET', key, 'delivered_at', n2s(now)) end
    message_callback(key, status, now)
    out.outcome, out.status = 'applied', status
  end
  return out
end

for i = 2, #ARGV, 3 do
  results[#results + 1] = receipt(ARGV[i], ARGV[i + 1], ARGV[i + 2])
end
return cjson.encode({results = results})
