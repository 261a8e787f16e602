-- One instance's share of a namespace (occupancy, on_occupied): its connection count, and
-- the users it gained and lost there since its last write.
--
-- KEYS[1] counts hash (field: instance id, value: its connections in the namespace)
-- KEYS[2] users hash (field: user, value: how many instances hold it there)
-- KEYS[3] this instance's users set in the namespace
-- ARGV[1] instance id   ARGV[2] connections (> 0)   ARGV[3] n, the number of users gained
-- ARGV[4 .. 3+n] users gained   ARGV[4+n ..] users lost; or ARGV[3] = -1 and ARGV[4 ..]
-- every user the instance holds there (rewriting its share after Redis lost writes)
-- Returns 1 when the namespace had no instance before: it became occupied (atomic, so
-- exactly one instance of the deployment is told, whoever writes first).
local was = redis.call("hlen", KEYS[1])
redis.call("hset", KEYS[1], ARGV[1], ARGV[2])
local gained = tonumber(ARGV[3])
if gained == -1 then
    local wanted = {}
    for i = 4, #ARGV do
        wanted[ARGV[i]] = true
    end
    local held = redis.call("smembers", KEYS[3])
    for i = 1, #held do
        if not wanted[held[i]] then
            redis.call("srem", KEYS[3], held[i])
            if redis.call("hincrby", KEYS[2], held[i], -1) <= 0 then
                redis.call("hdel", KEYS[2], held[i])
            end
        end
    end
    gained = #ARGV - 3
end
for i = 4, 3 + gained do
    if redis.call("sadd", KEYS[3], ARGV[i]) == 1 then
        redis.call("hincrby", KEYS[2], ARGV[i], 1)
    end
end
for i = 4 + gained, #ARGV do
    if redis.call("srem", KEYS[3], ARGV[i]) == 1 then
        if redis.call("hincrby", KEYS[2], ARGV[i], -1) <= 0 then
            redis.call("hdel", KEYS[2], ARGV[i])
        end
    end
end
if was == 0 then
    return 1
end
return 0
