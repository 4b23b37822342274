-- The log's writer committed the admissions up to `rseq` to MySQL: drop them from the room's list
-- and let them count (status, touch, long-polls via the published head). ARGV[3] the room's
-- generation they belong to, ARGV[4] rseq, ARGV[5] the ticket of that admission.
-- Answers how many admissions the list still holds (they arrived while the writer wrote, or belong
-- to a newer generation): the writer comes back for them; only a list found empty wakes it again.
if redis.call('GET', k.gen) ~= ARGV[3] then return redis.call('LLEN', k.log) end
local first = redis.call('LINDEX', k.log, 0)
if first then
  local drop = tonumber(ARGV[4]) - cjson.decode(first).s + 1
  if drop > 0 then redis.call('LTRIM', k.log, drop, -1) end
end
local ticket = tonumber(ARGV[5])
if ticket > tonumber(redis.call('GET', k.logged) or '0') then redis.call('SET', k.logged, ticket) end
publish(head(now_ms()))
return redis.call('LLEN', k.log)
