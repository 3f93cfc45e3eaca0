"""Container health check of the web process: GET /healthz must answer 200.

Sends a Host header the portal accepts (the first of ALLOWED_HOSTS) and says the
request came over HTTPS, as the TLS proxy in front would, so neither the host check
nor the HTTPS redirect turns a healthy server into a failed check.
"""

import os
import sys
import urllib.request


def main() -> int:
    host = os.environ.get("ALLOWED_HOSTS", "localhost").split(",")[0].strip()
    if host.startswith("."):  # a domain wildcard: any name inside it is accepted
        host = "health" + host
    if host in ("", "*"):
        host = "localhost"
    request = urllib.request.Request(
        f"http://127.0.0.1:{os.environ.get('PORT', '8000')}/healthz",
        headers={"Host": host, "X-Forwarded-Proto": "https"},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310  (loopback)
            return 0 if response.status == 200 else 1
    except OSError as exc:
        sys.stderr.write(f"healthz: {exc}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())
