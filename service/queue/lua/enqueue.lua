-- ARGV: now_ms, retention_ms, idem_ttl_ms, then two arguments per message: its envelope (JSON
--   {id, to, priority, send_at (ms|null), expires_at (ms), idem (key|""), fp, key_id, pin (name|""),
--   callback_url (""|URL), keep (ms: how long past its expiry the record may live, retentions
--   included), lean (""|the payload without text and media, swapped in once final)})
--   and its payload (opaque: Python's, stored as given).
-- Also touches: P.MSG.., P.IDEM.., P.ARQ_JOB.., P.RECIPIENT.. (same hash slot).
-- Returns {results = {{outcome =, id =}...}} per message: outcome "new"; "duplicate" (same idempotency
-- key and request) or "conflict" (same key, different request) with the earlier id; or
-- "unknown_sender" (pinned to a sender the registry does not have); or "opted_out" (the recipient
-- is on the suppression list, K.SUPPRESSED). Everything for one message
-- happens in this one call, so a message is either fully enqueued (record, queue entry, idempotency
-- key) or not at all.
local now = tonumber(ARGV[1])
local retention = tonumber(ARGV[2])
local idem_ttl = tonumber(ARGV[3])
local out = {}
local ready = 0

local function add(m, payload)
  local key = P.MSG .. m.id
  local send_at = m.send_at ~= cjson.null and m.send_at or nil
  local scheduled = send_at ~= nil and send_at > now
  local status = scheduled and S.SCHEDULED or S.QUEUED
  redis.call('HSET', key, 'id', m.id, 'to', m.to, 'priority', m.priority, 'attempts', 0,
    'created_at', n2s(now), 'expires_at', n2s(m.expires_at), 'send_at', send_at and n2s(send_at) or '',
    'key_id', m.key_id, 'payload', payload, 'ready_at', n2s(scheduled and send_at or now))
  if m.pin ~= '' then redis.call('HSET', key, 'pin', m.pin) end
  -- Where its callbacks go (lib.lua's message_callback reads it on each status it reports).
  if m.callback_url and m.callback_url ~= '' then
    redis.call('HSET', key, 'callback_url', m.callback_url)
  end
  -- For erasure (erase.lua): the idempotency key to drop with it, and the number's index.
  if m.idem ~= '' then redis.call('HSET', key, 'idem', m.idem) end
  if m.lean ~= '' then redis.call('HSET', key, 'lean', m.lean) end
  redis.call('HSET', key, 'keep', n2s(m.keep))
  index_recipient(m.to, m.id, now, math.max(m.expires_at - now, 0) + m.keep)
  history(key, status, now)
  redis.call('PEXPIRE', key, n2s(math.max(m.expires_at - now, 0) + retention))
  if scheduled then
    redis.call('ZADD', K.SCHEDULED, n2s(send_at), m.id)
    wake_promoter()
  else
    push_ready(m.id, m.priority, now, m.expires_at, now)
    ready = ready + 1
  end
end

for i = 4, #ARGV, 2 do
  local m = cjson.decode(ARGV[i])
  local existing = m.idem ~= '' and redis.call('GET', m.idem)
  if existing then
    local sep = string.find(existing, '|', 1, true)
    local old_id, old_fp = string.sub(existing, 1, sep - 1), string.sub(existing, sep + 1)
    out[#out + 1] = {outcome = old_fp == m.fp and 'duplicate' or 'conflict', id = old_id}
  elseif m.pin ~= '' and redis.call('HEXISTS', K.SENDERS, m.pin) == 0 then
    out[#out + 1] = {outcome = 'unknown_sender', id = m.id}
  elseif redis.call('ZSCORE', K.SUPPRESSED, m.to) then
    out[#out + 1] = {outcome = 'opted_out', id = m.id}
  else
    add(m, ARGV[i + 1])
    if m.idem ~= '' then redis.call('SET', m.idem, m.id .. '|' .. m.fp, 'PX', n2s(idem_ttl)) end
    out[#out + 1] = {outcome = 'new', id = m.id}
  end
end
if ready > 0 then wake() end
return cjson.encode({results = out})
