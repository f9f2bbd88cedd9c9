-- wrk script: DELETE /x509/v1/certificates/{fp} with a bearer token, each
-- fingerprint of the file BENCH_FP_FILE once: with BENCH_THREADS threads
-- (wrk -t), thread k takes lines k, k + n, k + 2n, ...  Past the end a
-- thread asks for a fingerprint of no certificate (a 404, which
-- bench/revoke_cost refuses) rather than revoking one twice.
local fps = {}
for line in io.lines(os.getenv("BENCH_FP_FILE")) do fps[#fps + 1] = line end
local token = os.getenv("BENCH_TOKEN")
local step = tonumber(os.getenv("BENCH_THREADS") or "2")
local counter = 0

function setup(thread)
	counter = counter + 1
	thread:set("tid", counter)
end

function init(args)
	i = tid
end

function request()
	local fp = fps[i] or "00"
	i = i + step
	return wrk.format("DELETE", "/x509/v1/certificates/" .. fp,
		{ ["Authorization"] = "Bearer " .. token })
end
