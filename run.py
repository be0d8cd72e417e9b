"""Serve Session Lab: gunicorn by default, Flask's debug server with --debug."""

import argparse
import logging

log = logging.getLogger("session_lab")


def parse_arguments(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Serve Session Lab.")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=5000, help="port to listen on")
    parser.add_argument(
        "--debug", action="store_true", help="Flask's debug server with reloading"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes; the memory store is per process",
    )
    parser.add_argument("--threads", type=int, default=8, help="threads per worker")
    parser.add_argument(
        "--https",
        action="store_true",
        help="serve HTTPS with a self-signed certificate made for this host",
    )
    return parser.parse_args(argv)


def serve(arguments: argparse.Namespace) -> None:
    from app import create_app
    from app.tls import certificate_for

    logging.basicConfig(
        level=logging.INFO, format="%(levelname)s %(name)s: %(message)s"
    )
    config = {"SESSION_COOKIE_SECURE": True} if arguments.https else {}
    app = create_app(config)
    tls = None
    if arguments.https:
        tls = certificate_for(app.instance_path, arguments.host)

    if arguments.debug:
        context = tls if tls else None
        app.run(arguments.host, arguments.port, debug=True, ssl_context=context)
        return

    from gunicorn.app.base import BaseApplication

    class Server(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", f"{arguments.host}:{arguments.port}")
            self.cfg.set("workers", arguments.workers)
            self.cfg.set("threads", arguments.threads)
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("accesslog", None)
            self.cfg.set("post_fork", forget_inherited_connections)
            # gunicorn believes X-Forwarded-Proto from loopback peers and sets
            # the scheme itself; the specimen must see the connection as it
            # was and weigh the header by trust_proxy, as express-session does.
            self.cfg.set("secure_scheme_headers", {})
            if tls:
                self.cfg.set("certfile", tls[0])
                self.cfg.set("keyfile", tls[1])

        def load(self):
            return app

    def forget_inherited_connections(server, worker):
        # Database connections opened while the app was made must not be shared
        # across the fork; each worker opens its own.
        with app.app_context():
            if "sqlalchemy" in app.extensions:
                app.extensions["sqlalchemy"].engine.dispose(close=False)

    scheme = "https" if tls else "http"
    log.info("serving on %s://%s:%s/", scheme, arguments.host, arguments.port)
    Server().run()


if __name__ == "__main__":
    serve(parse_arguments())
