#!/usr/bin/env python3
"""A stand-in for Django's `manage.py` with the commands a deploy runs:
`migrate`, `collectstatic` and `runserver` (which gunicorn replaces in
production). Each reads the host's rendered `myproject/local_settings.py`."""

import os
import shutil
import sqlite3
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from myproject import local_settings as settings  # noqa: E402

MIGRATIONS = ["0001_initial"]


def migrate():
    os.makedirs(os.path.dirname(settings.DEMO_DATABASE), exist_ok=True)
    with sqlite3.connect(settings.DEMO_DATABASE) as connection:
        connection.execute("create table if not exists migrations (name text primary key, at text)")
        for name in MIGRATIONS:
            applied = connection.execute("insert or ignore into migrations values (?, datetime('now'))", (name,))
            print(f"  Applying {name}... {'OK' if applied.rowcount else 'already applied'}")


def collectstatic():
    source = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
    os.makedirs(settings.STATIC_ROOT, exist_ok=True)
    for name in os.listdir(source):
        shutil.copy2(os.path.join(source, name), os.path.join(settings.STATIC_ROOT, name))
    print(f"{len(os.listdir(source))} static files copied to '{settings.STATIC_ROOT}'.")


def runserver(address):
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    from myproject.wsgi import application

    class QuietHandler(WSGIRequestHandler):
        def log_message(self, format, *args):
            sys.stderr.write("%s %s\n" % (self.address_string(), format % args))

    host, port = address.rsplit(":", 1)
    server = make_server(host, int(port), application, handler_class=QuietHandler)
    # The pid file is written once the port is bound: deploy/restart.sh waits for it.
    with open(os.path.join("run", "web.pid"), "w") as pid_file:
        pid_file.write(f"{os.getpid()}\n")
    server.serve_forever()


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "help"
    if command == "migrate":
        migrate()
    elif command == "collectstatic":
        collectstatic()
    elif command == "runserver":
        runserver(sys.argv[2] if len(sys.argv) > 2 else settings.BIND)
    else:
        sys.exit("usage: manage.py migrate|collectstatic|runserver [HOST:PORT]")
