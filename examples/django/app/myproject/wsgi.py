"""A tiny WSGI application shaped like a Django project's `wsgi.py`.

It serves `/` (a page naming the release), `/static/<file>` from STATIC_ROOT
(what `collectstatic` filled) and `/health` (what the health check asks: the
release the process runs and what its rendered settings say)."""

import json
import mimetypes
import os

from myproject import local_settings as settings

RELEASE = os.path.basename(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def application(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    host = environ.get("HTTP_HOST", "").rsplit(":", 1)[0]
    if host not in settings.ALLOWED_HOSTS:
        return respond(start_response, "400 Bad Request", "text/plain", b"host not allowed\n")
    if path == "/health":
        body = {
            "release": RELEASE,
            "debug": settings.DEBUG,
            "databases": sorted(settings.DATABASES),
            "cache": settings.CACHES["default"]["LOCATION"],
            "migrations": applied_migrations(),
        }
        return respond(start_response, "200 OK", "application/json", json.dumps(body).encode())
    if path.startswith(settings.STATIC_URL):
        name = path[len(settings.STATIC_URL):]
        file = os.path.join(settings.STATIC_ROOT, name)
        if "/" in name or name.startswith(".") or not os.path.isfile(file):
            return respond(start_response, "404 Not Found", "text/plain", b"not found\n")
        with open(file, "rb") as handle:
            kind = mimetypes.guess_type(file)[0] or "application/octet-stream"
            return respond(start_response, "200 OK", kind, handle.read())
    if path == "/":
        return respond(start_response, "200 OK", "text/html", f"<p>myproject {RELEASE}</p>\n".encode())
    return respond(start_response, "404 Not Found", "text/plain", b"not found\n")


def applied_migrations():
    import sqlite3

    if not os.path.exists(settings.DEMO_DATABASE):
        return []
    with sqlite3.connect(settings.DEMO_DATABASE) as connection:
        return [row[0] for row in connection.execute("select name from migrations order by name")]


def respond(start_response, status, kind, body):
    start_response(status, [("Content-Type", kind), ("Content-Length", str(len(body)))])
    return [body]
