"""One tree's list page, timed in-process; driven by bench_rebuild.py over stdin/stdout.

Run with the tree as the working directory and on PYTHONPATH, so ``console`` is that
tree's. Only URLs and the login form are used, which both trees have.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time

EMAIL = "admin@example.com"
ROW = re.compile(r"/admin/todo/(?:details|edit)/\?id=(\d+)")


def main() -> int:
    logging.disable(logging.WARNING)
    import console
    from console import create_app

    url = sys.argv[1]
    app = create_app({"WTF_CSRF_ENABLED": False,
                      "INSTANCE_PATH": os.environ["CONSOLE_INSTANCE_PATH"]})
    client = app.test_client()
    login = client.post("/login", data={"email": EMAIL,
                                        "password": os.environ["CONSOLE_ADMIN_PASSWORD"]})
    if login.status_code != 302:
        raise SystemExit(f"login failed: {login.status_code}")
    page = client.get(url)
    if page.status_code != 200:
        raise SystemExit(f"{url}: {page.status_code}")
    rows = len(set(ROW.findall(page.get_data(as_text=True))))
    for _ in range(20):  # warm-up: templates compiled, statements cached
        client.get(url)
    for line in sys.stdin:
        wanted = min(int(json.loads(line)["requests"]), 200)
        times = []
        for _ in range(wanted):
            started = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                raise SystemExit(f"{url}: {response.status_code}")
        print(json.dumps({"ms": times, "rows": rows, "code": console.__file__}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
