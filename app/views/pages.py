"""The studio's pages."""

from flask import Blueprint, render_template

from .. import learners

bp = Blueprint("pages", __name__)


@bp.get("/")
def home():
    learner = learners.current()
    return render_template("home.html", learner=learner)
