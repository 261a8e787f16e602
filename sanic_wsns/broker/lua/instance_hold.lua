-- An instance says it is alive, and which namespaces and users it holds (so that, if it
-- dies, whoever sweeps it knows what to take back). One call per flush and per refresh.
--
-- KEYS[1] instances zset (member: instance id, score: expiry in ms, Redis's clock)
-- KEYS[2] the instance's namespaces set   KEYS[3] the instance's users set
-- ARGV[1] instance id   ARGV[2] lifetime, ms   ARGV[3] a, namespaces added   ARGV[4] r, removed
-- ARGV[5] u, users added   then a + r + u names, then the users removed
-- Returns 1 when the instance was not in the zset (first call, swept as dead, Redis lost
-- its data): the caller writes everything it holds again.
local now = redis.call("time")
local expires = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) + tonumber(ARGV[2])
local absent = redis.call("zadd", KEYS[1], expires, ARGV[1])
local added, removed, users = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local i = 6
for _ = 1, added do redis.call("sadd", KEYS[2], ARGV[i]); i = i + 1 end
for _ = 1, removed do redis.call("srem", KEYS[2], ARGV[i]); i = i + 1 end
for _ = 1, users do redis.call("sadd", KEYS[3], ARGV[i]); i = i + 1 end
for j = i, #ARGV do redis.call("srem", KEYS[3], ARGV[j]) end
return absent
