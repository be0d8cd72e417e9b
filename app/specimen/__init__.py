"""The specimens: the small servers a learner studies, under /lab and /lab-flask."""

from flask import Flask

from . import flask_interface, views
from .interface import ExpressSessionInterface, refuse_without_store


def create_specimen(studio: Flask) -> Flask:
    """Make the express-style specimen, sharing the studio's config and folders."""
    specimen = specimen_app("specimen", studio)
    specimen.session_interface = ExpressSessionInterface()
    specimen.before_request(refuse_without_store)
    views.init_app(specimen)
    return specimen


def create_flask_specimen(studio: Flask) -> Flask:
    """Make the specimen that runs Flask-Session 0.8 unchanged, with the same views."""
    specimen = specimen_app("flask_specimen", studio)
    specimen.session_interface = flask_interface.FlaskSpecimenInterface()
    specimen.before_request(flask_interface.refuse_without_session)
    views.init_app(specimen)
    return specimen


def specimen_app(name: str, studio: Flask) -> Flask:
    specimen = Flask(
        name,
        instance_path=studio.instance_path,
        template_folder=studio.template_folder,
        root_path=studio.root_path,
    )
    specimen.config["MAX_CONTENT_LENGTH"] = studio.config["MAX_CONTENT_LENGTH"]
    # The cookie store sends cookies past the browser limit on purpose, and each
    # exchange records that itself; Werkzeug's warning would only repeat it.
    specimen.config["MAX_COOKIE_SIZE"] = 0
    return specimen
