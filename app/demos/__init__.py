"""Live demonstrations the lessons run: each module adds its routes to ``bp``.

A lesson step names a demo (``demo: restart_worker``); the step renders
``templates/demos/_restart_worker.html``, whose controls call the routes a
module here adds under ``/demos/``. Every module in this package is loaded,
so adding a demo is adding a module and a template.
"""

import importlib
import pkgutil

from flask import Blueprint

bp = Blueprint("demos", __name__, url_prefix="/demos")


def init_app(app) -> None:
    """Load every demo module, then register their routes."""
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
    app.register_blueprint(bp)
