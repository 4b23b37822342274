-- 1 if a job with a sequence in [from, to] is still waiting or running (its hash has no finishedOn).
-- ARGV[1] job hash prefix, ARGV[2] from, ARGV[3] to (at most 10,000 apart)
local from = tonumber(ARGV[2])
local to = math.min(tonumber(ARGV[3]), from + 10000)
for id = from, to do
  local key = ARGV[1] .. id
  if redis.call('EXISTS', key) == 1 and not redis.call('HGET', key, 'finishedOn') then return 1 end
end
return 0
