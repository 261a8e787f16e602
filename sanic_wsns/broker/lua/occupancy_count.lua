-- A namespace's occupancy: {connections, users} over every instance, without listing anyone.
--
-- KEYS[1] counts hash   KEYS[2] users hash
local connections = 0
local counts = redis.call("hvals", KEYS[1])
for i = 1, #counts do
    connections = connections + tonumber(counts[i])
end
return {connections, redis.call("hlen", KEYS[2])}
