-- After Redis lost a queue: job ids continue above everything MySQL has applied, and every job id
-- handed out so far becomes void (its request is enqueued again). Returns that floor.
-- KEYS[1] BullMQ id counter, KEYS[2] started, KEYS[3] applied; ARGV[1] the MySQL fence
local floor = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), tonumber(ARGV[1]))
redis.call('SET', KEYS[1], floor)
redis.call('SET', KEYS[2], floor)
redis.call('SET', KEYS[3], floor)
return floor
