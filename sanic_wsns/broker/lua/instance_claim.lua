-- Instances whose expiry passed (they died without a goodbye): each is leased to the
-- caller for ARGV[1] ms, so one live instance sweeps it; if that one dies mid-sweep,
-- another takes it when the lease ends. The lease lives in its own sorted set: the
-- instance's expiry stays, so it still reads as dead (instances_alive.lua) while swept.
--
-- KEYS[1] instances zset   KEYS[2] leases zset (member: instance id, score: lease end, ms)
-- ARGV[1] lease, ms   ARGV[2] at most this many
-- Returns {id, expiry ms, id, expiry ms, ...}: the expiry each had (its last refresh plus
-- its lifetime, liveness.py).
local now = redis.call("time")
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call("zremrangebyscore", KEYS[2], "-inf", ms)
-- Every expired instance is read: those leased are being swept, a handful at most.
local expired = redis.call("zrangebyscore", KEYS[1], "-inf", ms, "WITHSCORES")
local dead = {}
for i = 1, #expired, 2 do
    if #dead >= 2 * tonumber(ARGV[2]) then break end
    if not redis.call("zscore", KEYS[2], expired[i]) then
        redis.call("zadd", KEYS[2], ms + tonumber(ARGV[1]), expired[i])
        dead[#dead + 1] = expired[i]
        dead[#dead + 1] = expired[i + 1]
    end
end
return dead
