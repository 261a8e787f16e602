-- What a dead instance held, for its sweeper; ARGV[1] "forget" drops the instance instead
-- (once its sweep is done, or at a graceful stop).
--
-- KEYS[1] instances zset   KEYS[2] its namespaces set   KEYS[3] its users set
-- KEYS[4] leases zset (instance_claim.lua)
-- ARGV[1] "read" or "forget"   ARGV[2] instance id
-- Returns {namespaces, users} ("read") or nothing.
if ARGV[1] == "forget" then
    redis.call("zrem", KEYS[1], ARGV[2])
    redis.call("zrem", KEYS[4], ARGV[2])
    redis.call("del", KEYS[2], KEYS[3])
    return {}
end
return {redis.call("smembers", KEYS[2]), redis.call("smembers", KEYS[3])}
