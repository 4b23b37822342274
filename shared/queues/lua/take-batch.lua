-- The jobs queued right behind the running one, next first, with their payloads and enqueue times;
-- records the highest sequence taken so positions count from it. Returns {0} without taking
-- anything while the queue's epoch is missing: Redis lost its state and a restore must run first.
-- Jobs at or below ARGV[3] (the running one and, when a worker reads ahead, the jobs it applied
-- already: at most ARGV[4] of them, at the head of the list) are passed over.
-- While the queue is paused (BullMQ's meta `paused`), nothing beyond the running job is taken.
-- Nothing added after ARGV[3] (BullMQ's id counter, KEYS[5], says so): no list is read, so that a
-- worker reading ahead at the end of a backlog pays O(1) per look, not a read of the list's tail.
-- KEYS[1] wait list, KEYS[2] started, KEYS[3] epoch, KEYS[4] BullMQ meta, KEYS[5] BullMQ id counter
-- ARGV[1] job hash prefix, ARGV[2] how many, ARGV[3] last sequence applied or running, ARGV[4] how
-- many applied jobs may still wait at the head, ARGV[5] '1': each job's options too (tracing on:
-- they carry its trace context)
if redis.call('EXISTS', KEYS[3]) == 0 then return { 0 } end
local n = tonumber(ARGV[2])
local after = tonumber(ARGV[3])
local ids = {}
local newest = tonumber(redis.call('GET', KEYS[5]) or '0')
if n > 0 and newest > after and redis.call('HEXISTS', KEYS[4], 'paused') == 0 then
  ids = redis.call('LRANGE', KEYS[1], -(n + tonumber(ARGV[4])), -1)
end
local out = { 1 }
local top = after
local taken = 0
for i = #ids, 1, -1 do
  if taken >= n then break end
  local id = ids[i]
  local s = tonumber(id)
  if s and s > after then
    taken = taken + 1
    local job
    if ARGV[5] == '1' then
      job = redis.call('HMGET', ARGV[1] .. id, 'data', 'timestamp', 'opts')
    else
      job = redis.call('HMGET', ARGV[1] .. id, 'data', 'timestamp')
    end
    out[#out + 1] = id
    out[#out + 1] = job[1] or ''
    out[#out + 1] = job[2] or '0'
    if ARGV[5] == '1' then out[#out + 1] = job[3] or '' end
    if s > top then top = s end
  end
end
local started = tonumber(redis.call('GET', KEYS[2]) or '0')
if top > started then redis.call('SET', KEYS[2], top) end
return out
