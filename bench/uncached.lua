-- wrk script: the same GET with a counter in the query string.  nginx
-- caches only the spec's query strings (nginx.conf.in), so every request
-- bypasses its micro-cache and reaches fleetpkid (which ignores the
-- unknown parameter).
local n = 0
request = function()
	n = n + 1
	return wrk.format("GET", wrk.path .. "?encoding=pem&n=" .. n)
end
