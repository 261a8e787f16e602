-- Instances whose expiry passed (they died without a goodbye): each is leased to the
-- caller for ARGV[1] ms (its score moves forward), so one live instance sweeps it; if
-- that one dies mid-sweep, another takes it when the lease ends.
--
-- KEYS[1] instances zset   ARGV[1] lease, ms   ARGV[2] at most this many
-- Returns {id, expiry ms, id, expiry ms, ...}: the expiry each had (its last refresh plus
-- its lifetime, liveness.py; a lease already taken counts from there).
local now = redis.call("time")
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local dead = redis.call("zrangebyscore", KEYS[1], "-inf", ms, "WITHSCORES", "LIMIT", 0, ARGV[2])
for i = 1, #dead, 2 do
    redis.call("zadd", KEYS[1], ms + tonumber(ARGV[1]), dead[i])
end
return dead
