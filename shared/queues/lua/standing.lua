-- A request's queue sequence (or -1 if it is unknown or final) and the highest sequence taken.
-- KEYS[1] seqs hash, KEYS[2] started, KEYS[3] applied; ARGV[1] request id
local seq = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '-1')
if seq <= tonumber(redis.call('GET', KEYS[3]) or '0') then seq = -1 end
return { seq, tonumber(redis.call('GET', KEYS[2]) or '0') }
