-- wrk script: the same GET with a counter in the query string, so that
-- every request misses nginx's micro-cache and reaches fleetpkid (which
-- ignores the unknown parameter).
local n = 0
request = function()
	n = n + 1
	return wrk.format("GET", wrk.path .. "?encoding=pem&n=" .. n)
end
