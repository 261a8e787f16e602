-- One instance leaves a namespace (its last client left, it stopped, or it died and another
-- instance sweeps it): its count and its users go.
--
-- KEYS[1] counts hash   KEYS[2] users hash   KEYS[3] the instance's users set there
-- ARGV[1] instance id
-- Returns 1 when that was the last instance: the namespace became vacant. An instance
-- already gone (a second sweeper, a late goodbye) changes nothing and returns 0, so each
-- vacancy is reported once.
if redis.call("hdel", KEYS[1], ARGV[1]) == 0 then
    return 0
end
local users = redis.call("smembers", KEYS[3])
for i = 1, #users do
    if redis.call("hincrby", KEYS[2], users[i], -1) <= 0 then
        redis.call("hdel", KEYS[2], users[i])
    end
end
redis.call("del", KEYS[3])
if redis.call("hlen", KEYS[1]) == 0 then
    redis.call("del", KEYS[2])
    return 1
end
return 0
