-- A user's instances: {id, score, ...}, score "inf" for an instance holding the user, else
-- when it was last seen there (ms).
--
-- KEYS[1] the user's zset
return redis.call("zrange", KEYS[1], 0, -1, "WITHSCORES")
