-- Remove the entries whose expiry passed (their instance died without a goodbye).
-- Atomic, so when every instance hosting the namespace sweeps, each expired entry is
-- returned to exactly one of them, which announces the leave.
--
-- KEYS[1] expiry zset   KEYS[2] entries hash   ARGV[1] at most this many entries
-- Returns the expired ids.
local now = redis.call("time")
local cutoff = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local expired = redis.call("zrangebyscore", KEYS[1], "-inf", cutoff, "LIMIT", 0, ARGV[1])
for i = 1, #expired do
    redis.call("zrem", KEYS[1], expired[i])
    redis.call("hdel", KEYS[2], expired[i])
end
return expired
