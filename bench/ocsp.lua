-- wrk script: POST one DER OCSP request (application/ocsp-request) over
-- and over.  The request file comes from the environment bench/run sets.
local f = assert(io.open(os.getenv("BENCH_BODY_FILE"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/ocsp-request"
