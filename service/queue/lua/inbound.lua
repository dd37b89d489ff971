-- A customer's message (Evolution's messages.upsert), or an opt-out recorded through the API.
-- ARGV: now_ms, phone (normalised), opt_out (1|0), how (JSON: {source, keyword?}), event id (a
--   ULID), url (where the events go; '' for none), inbound (the inbound.message event's data,
--   JSON, or '' not to forward it).
-- Also touches: P.CALLBACK.., P.CB_ENDPOINT.. (same hash slot).
-- Returns {suppressed (true: newly on the list), events (how many callbacks were queued)}.
-- The suppression and the events it reports happen in one call: neither is ever without the
-- other. A number already on the list keeps its first opt-out (and reports it no second time).
local now, phone, opt_out, how = tonumber(ARGV[1]), ARGV[2], ARGV[3] == '1', ARGV[4]
local event, url, inbound = ARGV[5], ARGV[6], ARGV[7]
local out = {suppressed = false, events = 0}

if opt_out and redis.call('ZADD', K.SUPPRESSED, 'NX', n2s(now), phone) == 1 then
  redis.call('HSET', K.SUPPRESSED_INFO, phone, how)
  out.suppressed = true
  if url ~= '' then
    new_callback(event .. '.o', EVENT.RECIPIENT_OPTED_OUT, url, now, {'phone', phone, 'data', how})
    index_recipient(phone, 'cb:' .. event .. '.o', now, C.CALLBACK_TTL_MS)
    out.events = out.events + 1
  end
end
if inbound ~= '' and url ~= '' then
  new_callback(event .. '.i', EVENT.INBOUND_MESSAGE, url, now, {'phone', phone, 'data', inbound})
  -- Erasure (erase.lua) finds the customer's words through the number's index.
  index_recipient(phone, 'cb:' .. event .. '.i', now, C.CALLBACK_TTL_MS)
  out.events = out.events + 1
end
return cjson.encode(out)
