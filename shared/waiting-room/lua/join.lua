-- Join the line, idempotently: a member already waiting or admitted keeps its ticket.
-- ARGV[3] member, ARGV[4] capacity, ARGV[5] idle (ms), ARGV[6] stock as just counted ('' = none).
-- Without a known stock (none stored and none passed) it answers {unknown = true}: the caller
-- counts the seats and calls again with the count's verdict.
local member, capacity, idle = ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local stock = redis.call('GET', k.stock)
if not stock then
  if ARGV[6] == '' then return cjson.encode({unknown = true}) end
  set_stock(ARGV[6])
  stock = ARGV[6]
end
if redis.call('GET', k.capacity) ~= ARGV[4] then redis.call('SET', k.capacity, capacity) end
local now = now_ms()
local n = admit(now, capacity, idle, 'join')
local deadline = redis.call('ZSCORE', k.admitted, member)
local st
if stock == 'sold-out' and not (deadline and tonumber(deadline) > now) then
  st = {status = 'sold-out', ticket = tonumber(redis.call('ZSCORE', k.line, member) or '0'), position = 0, head = head(now)}
else
  if not deadline and not redis.call('ZSCORE', k.line, member) then
    if in_prequeue_time() then
      -- Before a shuffle-at-open room opens: a place in the pre-queue (a refresh keeps it).
      if not redis.call('ZSCORE', k.pre, member) then redis.call('ZADD', k.pre, redis.call('INCR', k.preseq), member) end
    elseif not (awaiting_draw() and redis.call('ZSCORE', k.roster, member)) then
      redis.call('ZADD', k.line, redis.call('INCR', k.seq), member)
      n = n + admit(now, capacity, idle, 'join')
    end
  end
  st = status(member, now, idle, true)
end
st.admittedNow = n
if n > 0 then publish(st.head) end
return cjson.encode(st)
