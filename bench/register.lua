-- wrk script: POST /api/register for devices whose certificate is
-- already issued (a fleet rebooting), each request the next device of
-- the file bench/run writes ("deviceId secret" per line).
local devices = {}
for line in io.lines(os.getenv("BENCH_DEVICES")) do
	local id, secret = line:match("^(%S+) (%S+)$")
	if id then devices[#devices + 1] = { id, secret } end
end
assert(#devices > 0, "no devices")
local n = 0

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

function request()
	n = n % #devices + 1
	local d = devices[n]
	wrk.headers["X-Device-Secret"] = d[2]
	return wrk.format(nil, nil, nil,
		'{"deviceId":"' .. d[1] .. '","timestamp":"2026-12-02T00:00:00Z"}')
end
