#!/bin/sh
# Entry point of the Steward image: the first argument names the process.
#   web      daphne, the ASGI server (HTTP and websockets) on $PORT (default 8000)
#   worker   a Celery worker
#   beat     Celery beat (run exactly one)
#   migrate  apply database migrations, then exit
#   anything else is passed to manage.py (e.g. createsuperuser, audit_verify)
set -eu

command="${1:-web}"
[ "$#" -gt 0 ] && shift

case "$command" in
    web)
        # Behind the TLS proxy (SECURE_PROXY_SSL_HEADER set), take the client address
        # from X-Forwarded-For, so sign-in throttling locks out the client, not the proxy.
        if [ -n "${SECURE_PROXY_SSL_HEADER:-}" ]; then
            set -- --proxy-headers "$@"
        fi
        exec daphne --bind 0.0.0.0 --port "${PORT:-8000}" "$@" governance.asgi:application
        ;;
    worker)
        exec celery -A governance worker --loglevel "${LOG_LEVEL:-INFO}" "$@"
        ;;
    beat)
        exec celery -A governance beat --loglevel "${LOG_LEVEL:-INFO}" "$@"
        ;;
    migrate)
        python manage.py migrate --noinput "$@"
        # Without Redis the embedded channel layer has a database of its own.
        if [ -z "${REDIS_URL:-}" ]; then
            python manage.py migrate --database channels --noinput
        fi
        ;;
    *)
        exec python manage.py "$command" "$@"
        ;;
esac
