-- Records an accepted request's queue sequence and answers where it stands: {started, recorded}.
-- recorded is 0 while the queue's epoch is missing (Redis lost its state; the restore enqueues the
-- request again and records its new sequence) and never lowers a sequence a restore recorded.
-- KEYS[1] seqs hash, KEYS[2] started, KEYS[3] epoch; ARGV[1] request id, ARGV[2] sequence
local started = tonumber(redis.call('GET', KEYS[2]) or '0')
if redis.call('EXISTS', KEYS[3]) == 0 then return { started, 0 } end
local known = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if known >= tonumber(ARGV[2]) then return { started, 0 } end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return { started, 1 }
