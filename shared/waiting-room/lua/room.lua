-- The rules of the line, shared by every waiting-room script (prepended to each; the key table `k`,
-- `channel`, `perf` (ARGV[1], ARGV[2]), the log writer's `wake_channel` and the constants LAG_MS,
-- EXACT_WINDOW and HEADS_KEPT of pace.ts are declared before this by waiting-room.ts).

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- The room's generation: the Redis time of its first use. A Redis loss starts a new one, and the
-- admission log tells the two apart (tickets start again).
local function room_gen(now)
  local g = redis.call('GET', k.gen)
  if g then return g end
  redis.call('SET', k.gen, now)
  return tostring(now)
end

-- A shuffle-at-open room freezes its pre-queue at opening, in O(1): the pre-queue becomes the
-- roster, whose members get the tickets right after the last one handed out (base+1..base+size, in
-- the drawn order, once a worker applies the draw: draw.lua); whoever joins later queues behind.
local function freeze_if_due(now)
  if redis.call('EXISTS', k.frozen) == 1 then return end
  local g = redis.call('HMGET', k.gate, 'opensAt', 'mode')
  if g[2] ~= 'shuffle' or tonumber(g[1] or '0') > now then return end
  local size = redis.call('ZCARD', k.pre)
  local base = tonumber(redis.call('GET', k.seq) or '0')
  if size > 0 then redis.call('RENAME', k.pre, k.roster) end
  redis.call('SET', k.frozen, base .. ':' .. size)
  redis.call('SET', k.seq, base + size)
  if size == 0 then redis.call('SET', k.drawn, '1') end
end

-- Frozen, and the draw not yet applied: nobody is admitted (the roster's tickets are not in line yet).
local function awaiting_draw()
  return redis.call('EXISTS', k.frozen) == 1 and redis.call('EXISTS', k.drawn) == 0
end

-- Before a shuffle-at-open room's opening: members join its pre-queue instead of the line.
local function in_prequeue_time()
  return redis.call('HGET', k.gate, 'mode') == 'shuffle' and redis.call('EXISTS', k.frozen) == 0
end

-- The operator's gate (sale controls): nobody is admitted before opensAt or while paused, and a
-- capacity set there overrides the one callers pass. Answers the capacity and the outflow cap.
local function gate_capacity(now, capacity)
  local g = redis.call('HMGET', k.gate, 'opensAt', 'paused', 'capacity', 'perMinute')
  local per_minute = tonumber(g[4] or '0') or 0
  if g[2] == '1' or tonumber(g[1] or '0') > now or awaiting_draw() then return 0, per_minute end
  return tonumber(g[3] or '') or capacity, per_minute
end

-- Admits the first members of the line (lowest tickets) while capacity is free, the outflow cap
-- allows and seats remain. Members whose admission ran out (no request for `idle` ms) lose it first.
-- Every admission is appended to the room's log list, in admission order, for the log's writer
-- (fairness.service.ts) to chain into MySQL; an admission counts (status, touch) once it is there.
local function admit(now, capacity, idle, trigger)
  freeze_if_due(now)
  local expired = redis.call('ZRANGEBYSCORE', k.admitted, '-inf', now)
  for i = 1, #expired do redis.call('HDEL', k.tickets, expired[i]) end
  if #expired > 0 then redis.call('ZREMRANGEBYSCORE', k.admitted, '-inf', now) end
  local cap, per_minute = gate_capacity(now, capacity)
  local occupied = redis.call('ZCARD', k.admitted)
  local free = cap - occupied
  if per_minute > 0 and free > 0 then
    redis.call('ZREMRANGEBYSCORE', k.recent, '-inf', now - 60000)
    local left = per_minute - redis.call('ZCARD', k.recent)
    if left < free then free = left end
  end
  local n = 0
  -- Admission follows the seats: nobody new while none is available, nor once all are sold.
  -- Unknown (no tick for 3 s) admits: the count is refreshed by every tick, and a join counts it.
  local stock = redis.call('GET', k.stock)
  if free > 0 and (not stock or stock == 'open') then
    local popped = redis.call('ZPOPMIN', k.line, free)
    local last = 0
    local gen = #popped > 0 and room_gen(now) or nil
    for i = 1, #popped, 2 do
      redis.call('ZADD', k.admitted, now + idle, popped[i])
      redis.call('HSET', k.tickets, popped[i], popped[i + 1])
      last = tonumber(popped[i + 1])
      n = n + 1
      local rseq = redis.call('INCR', k.logseq)
      -- The first entry of an empty list wakes the log's writer (see logged.lua for the rest).
      if LOG and redis.call('RPUSH', k.log, cjson.encode({s = rseq, g = gen, t = last, m = tonumber(popped[i]),
        at = now, why = trigger, cap = cap, occ = occupied + n, pm = per_minute})) == 1 then
        redis.call('PUBLISH', wake_channel, perf)
      end
      if per_minute > 0 then redis.call('ZADD', k.recent, now, rseq) end
    end
    if n > 0 then
      if last > tonumber(redis.call('GET', k.through) or '0') then
        redis.call('SET', k.through, last)
        -- Zero-padded: heads of the same millisecond tie on the score and are then ordered as
        -- strings, where '99' > '100' (through_at would read the older head: a position rose by one).
        redis.call('ZADD', k.heads, now, string.format('%015d', last))
        redis.call('ZREMRANGEBYRANK', k.heads, 0, -(HEADS_KEPT + 1))
      end
      redis.call('LPUSH', k.admits, now .. ':' .. n)
      redis.call('LTRIM', k.admits, 0, 199)
    end
  end
  return n
end

-- Admissions per minute, measured over the last minute, or over the time since the oldest
-- admission in it when that is shorter (at least 10 s, so a first burst does not read as a flood):
-- a room that began admitting 5 s ago has not admitted at a twelfth of its rate.
local function admissions_per_minute(now)
  local entries = redis.call('LRANGE', k.admits, 0, 199)
  local total, oldest = 0, now
  for i = 1, #entries do
    local sep = string.find(entries[i], ':')
    local ts = tonumber(string.sub(entries[i], 1, sep - 1))
    if now - ts > 60000 then break end
    total = total + tonumber(string.sub(entries[i], sep + 1))
    oldest = ts
  end
  if total == 0 then return 0 end
  return math.floor(total * 60000 / math.max(now - oldest, 10000))
end

local function set_stock(stock)
  if stock == 'sold-out' then redis.call('SET', k.stock, stock)
  elseif stock ~= '' and redis.call('GET', k.stock) ~= 'sold-out' then redis.call('SET', k.stock, stock, 'PX', 3000) end
end

-- The room's head: what every API process needs to answer far-back members without Redis.
local function head(now)
  local g = redis.call('HMGET', k.gate, 'opensAt', 'paused', 'capacity', 'perMinute')
  return {
    performanceId = tonumber(perf),
    ts = now,
    through = tonumber(redis.call('GET', k.through) or '0'),
    seq = tonumber(redis.call('GET', k.seq) or '0'),
    stock = redis.call('GET', k.stock) or '',
    perMinute = tonumber(redis.call('GET', k.rate) or '0'),
    opensAt = tonumber(g[1] or '0'),
    paused = g[2] == '1',
    capacity = tonumber(g[3] or '') or tonumber(redis.call('GET', k.capacity) or '0'),
    perMinuteCap = tonumber(g[4] or '0') or 0,
    logged = tonumber(redis.call('GET', k.logged) or '0'),
  }
end

local function publish(h)
  redis.call('PUBLISH', channel, cjson.encode(h))
end

-- Where the head stood at time t (ms): nil when that is older than the kept history.
local function through_at(t)
  local r = redis.call('ZREVRANGEBYSCORE', k.heads, t, '-inf', 'LIMIT', 0, 1)
  if r[1] then return tonumber(r[1]) end
  if redis.call('ZCARD', k.heads) < HEADS_KEPT then return 0 end
  return nil
end

-- A waiting member's position, by the rule of pace.ts that every API process applies alike: far
-- back, its ticket less the head as it stood LAG_MS ago; near the front, its exact rank.
local function position_of(member, ticket, now)
  local lagged = through_at(now - LAG_MS)
  if lagged and ticket - lagged > EXACT_WINDOW then return ticket - lagged end
  -- A roster frozen and not yet drawn is placed ahead of everyone in line: counted already, so
  -- that a position read before the draw does not rise after it.
  local ahead = 0
  if awaiting_draw() then ahead = tonumber(string.match(redis.call('GET', k.frozen), ':(%d+)$')) end
  return redis.call('ZRANK', k.line, member) + 1 + ahead
end

-- A member's place: admitted (with its deadline, pushed forward when `touch`), waiting (exact
-- position; in a pre-queue, none: `prequeue`), sold-out, or nil when neither in line nor admitted.
-- An admission not yet in the log reads as the front of the line (`pending`). Carries the head.
local function status(member, now, idle, touch)
  local h = head(now)
  local deadline = redis.call('ZSCORE', k.admitted, member)
  if deadline and tonumber(deadline) > now then
    local ticket = tonumber(redis.call('HGET', k.tickets, member) or '0')
    if LOG and ticket > h.logged then
      return {status = 'waiting', ticket = ticket, position = 1, pending = true, head = h}
    end
    if touch then
      redis.call('ZADD', k.admitted, now + idle, member)
      deadline = now + idle
    end
    return {status = 'admitted', ticket = ticket, position = 0, admittedUntil = tonumber(deadline), head = h}
  end
  local ticket = tonumber(redis.call('ZSCORE', k.line, member))
  if not ticket then
    if redis.call('ZSCORE', k.pre, member) or (awaiting_draw() and redis.call('ZSCORE', k.roster, member)) then
      if h.stock == 'sold-out' then return {status = 'sold-out', ticket = 0, position = 0, head = h} end
      return {status = 'waiting', ticket = 0, position = 0, prequeue = true, head = h}
    end
    return nil
  end
  if h.stock == 'sold-out' then return {status = 'sold-out', ticket = ticket, position = 0, head = h} end
  return {status = 'waiting', ticket = ticket, position = position_of(member, ticket, now), head = h}
end
