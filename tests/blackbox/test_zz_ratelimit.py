"""nginx's rate limit on /api/v2/certificates (nginx/ratelimit.conf: 5 r/s,
burst 20, per client address).  Runs late: it empties the bucket of
127.0.0.1, which every test shares."""

import time
from concurrent.futures import ThreadPoolExecutor

from helpers import assert_json_error

PATH = "/api/v2/certificates/api/primary/hash"


def test_rate_limit_answers_429_json(client, token):
    time.sleep(4.5)  # a full bucket: 20 at 5 r/s
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: client.get(PATH), range(60)))
    statuses = [r.status for r in results]
    assert set(statuses) <= {200, 429}, statuses
    assert statuses.count(200) >= 20, statuses
    assert statuses.count(429) >= 20, statuses
    limited = next(r for r in results if r.status == 429)
    assert_json_error(limited, 429, message="Too many requests.")

    # Other routes are not limited.
    for _ in range(5):
        assert client.get("/x509/v1/ca", token=token).status == 200
        assert client.get("/api/health").status == 200

    # The bucket refills.
    time.sleep(4.5)
    assert client.get(PATH).status == 200
