-- wrk script: POST one CSR to the identity API with a bearer token.
-- The body and token come from the environment bench/run prepares.
local f = assert(io.open(os.getenv("BENCH_BODY_FILE"), "r"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")

local created, other = 0, 0
function response(status, headers, body)
	if status == 201 then created = created + 1 else other = other + 1 end
end
