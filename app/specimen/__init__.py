"""The specimen: the small server a learner studies, mounted under /lab."""

from flask import Flask

from . import views
from .interface import ExpressSessionInterface, refuse_without_store


def create_specimen(studio: Flask) -> Flask:
    """Make the specimen app, sharing the studio's config and instance folder."""
    specimen = Flask(
        "specimen",
        instance_path=studio.instance_path,
        template_folder=studio.template_folder,
        root_path=studio.root_path,
    )
    specimen.config["MAX_CONTENT_LENGTH"] = studio.config["MAX_CONTENT_LENGTH"]
    # The cookie store sends cookies past the browser limit on purpose, and each
    # exchange records that itself; Werkzeug's warning would only repeat it.
    specimen.config["MAX_COOKIE_SIZE"] = 0
    specimen.session_interface = ExpressSessionInterface()
    specimen.before_request(refuse_without_store)
    views.init_app(specimen)
    return specimen
