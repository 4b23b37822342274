-- The rules of the line, shared by every waiting-room script (prepended to each; the key table `k`
-- and `channel`, `perf` (ARGV[1], ARGV[2]) and the constants LAG_MS, EXACT_WINDOW and HEADS_KEPT
-- of pace.ts are declared before this by waiting-room.ts).

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- The operator's gate (sale controls): nobody is admitted before opensAt or while paused, and a
-- capacity set there overrides the one callers pass.
local function gate_capacity(now, capacity)
  local g = redis.call('HMGET', k.gate, 'opensAt', 'paused', 'capacity')
  if g[2] == '1' or tonumber(g[1] or '0') > now then return 0 end
  return tonumber(g[3] or '') or capacity
end

-- Admits the first members of the line (lowest tickets) while capacity is free and seats remain.
-- Members whose admission ran out (no request for `idle` ms) lose it first.
local function admit(now, capacity, idle)
  local expired = redis.call('ZRANGEBYSCORE', k.admitted, '-inf', now)
  for i = 1, #expired do redis.call('HDEL', k.tickets, expired[i]) end
  if #expired > 0 then redis.call('ZREMRANGEBYSCORE', k.admitted, '-inf', now) end
  local free = gate_capacity(now, capacity) - redis.call('ZCARD', k.admitted)
  local n = 0
  -- Admission follows the seats: nobody new while none is available, nor once all are sold.
  -- Unknown (no tick for 3 s) admits: the count is refreshed by every tick, and a join counts it.
  local stock = redis.call('GET', k.stock)
  if free > 0 and (not stock or stock == 'open') then
    local popped = redis.call('ZPOPMIN', k.line, free)
    local last = 0
    for i = 1, #popped, 2 do
      redis.call('ZADD', k.admitted, now + idle, popped[i])
      redis.call('HSET', k.tickets, popped[i], popped[i + 1])
      last = tonumber(popped[i + 1])
      n = n + 1
    end
    if n > 0 then
      if last > tonumber(redis.call('GET', k.through) or '0') then
        redis.call('SET', k.through, last)
        redis.call('ZADD', k.heads, now, last)
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
  local g = redis.call('HMGET', k.gate, 'opensAt', 'paused', 'capacity')
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
  return redis.call('ZRANK', k.line, member) + 1
end

-- A member's place: admitted (with its deadline, pushed forward when `touch`), waiting (exact
-- position), sold-out, or nil when neither in line nor admitted. Carries the head it was read at.
local function status(member, now, idle, touch)
  local h = head(now)
  local deadline = redis.call('ZSCORE', k.admitted, member)
  if deadline and tonumber(deadline) > now then
    if touch then
      redis.call('ZADD', k.admitted, now + idle, member)
      deadline = now + idle
    end
    return {status = 'admitted', ticket = tonumber(redis.call('HGET', k.tickets, member) or '0'),
            position = 0, admittedUntil = tonumber(deadline), head = h}
  end
  local ticket = tonumber(redis.call('ZSCORE', k.line, member))
  if not ticket then return nil end
  if h.stock == 'sold-out' then return {status = 'sold-out', ticket = ticket, position = 0, head = h} end
  return {status = 'waiting', ticket = ticket, position = position_of(member, ticket, now), head = h}
end
