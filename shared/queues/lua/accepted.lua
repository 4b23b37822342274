-- Records an accepted request's queue sequence and answers where it stands: {started, recorded}.
-- Nothing is recorded while the queue's epoch is missing (Redis lost its state; the restore
-- enqueues the request again and records its new sequence), for a job a worker applied already
-- (at or below the applied mark: it is final, and its sequence was forgotten), or over a higher
-- sequence a restore recorded.
-- KEYS[1] seqs hash, KEYS[2] started, KEYS[3] epoch, KEYS[4] applied; ARGV[1] request id, ARGV[2] sequence
local started = tonumber(redis.call('GET', KEYS[2]) or '0')
local seq = tonumber(ARGV[2])
if redis.call('EXISTS', KEYS[3]) == 0 then return { started, 0 } end
if seq <= tonumber(redis.call('GET', KEYS[4]) or '0') then return { started, 0 } end
if tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0') >= seq then return { started, 0 } end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return { started, 1 }
