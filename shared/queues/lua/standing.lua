-- A request's queue sequence (or -1 if unknown) and the highest sequence taken, in one round trip.
-- KEYS[1] seqs hash, KEYS[2] started; ARGV[1] request id
local seq = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '-1')
return { seq, tonumber(redis.call('GET', KEYS[2]) or '0') }
