-- wrk script: POST a webhook delivery's body and headers (as
-- fleetpki-worker sends them) to the bench's receiver.  BENCH_CLOSE=1
-- adds "Connection: close": a new TCP and TLS connection per request.
local f = assert(io.open(os.getenv("BENCH_BODY_FILE"), "r"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer bench-token"
wrk.headers["webhook-id"] = "evt_1234567"
wrk.headers["webhook-timestamp"] = "1796000000"
wrk.headers["webhook-signature"] = "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4="
if os.getenv("BENCH_CLOSE") == "1" then
	wrk.headers["Connection"] = "close"
end
