"""Visits to the other site: a short-lived token that stands in for the studio cookie.

A request another site sends to the lab may come without the studio's own
cookie (it is SameSite=Lax), and then the lab cannot tell whose it is. The
SameSite lesson sends the learner to a page on a second host with a token in
its links; a lab request that carries the token and no studio cookie is
recorded for the learner who made it, and the record says so.

The token holds the learner's studio session ID, so it is encrypted and
authenticated (Fernet, with a key derived from SECRET_KEY), and it expires.
"""

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from urllib.parse import parse_qs

from cryptography.fernet import Fernet, InvalidToken
from flask import Flask

from . import learners


PARAMETER = "visit"
LIFETIME_SECONDS = 15 * 60
ENVIRON_KEY = "lab.visit"
TOKEN_LIMIT = 2048
KINDS = ("link", "form", "frame")


class VisitError(ValueError):
    """A visit token is missing, expired, altered or not this installation's."""


@dataclass(frozen=True)
class Visit:
    """What a token says: whose visit it is, where the lab is, what to offer."""

    studio_id: str
    lab_origin: str
    back: str
    kinds: tuple
    expires_at: float


def cipher(secret_key: str) -> Fernet:
    """Answer the cipher for visit tokens, keyed apart from every other use."""
    digest = hmac.new(secret_key.encode(), b"session-lab visit", hashlib.sha256)
    return Fernet(base64.urlsafe_b64encode(digest.digest()))


def make_token(
    secret_key: str,
    studio_id: str,
    lab_origin: str,
    back: str,
    kinds,
    at: float | None = None,
) -> str:
    """Answer a token for one visit, made now unless ``at`` is given."""
    body = {"s": studio_id, "o": lab_origin, "b": back, "k": list(kinds)}
    data = json.dumps(body, separators=(",", ":")).encode()
    made = int(time.time() if at is None else at)
    return cipher(secret_key).encrypt_at_time(data, made).decode()


def read_token(secret_key: str, token: str | None) -> Visit:
    """Answer the visit a token describes.

    :raise VisitError: the token is missing, too long, altered or expired.
    """
    if not token:
        raise VisitError("this page needs the visit token the lesson puts in its link")
    if len(token) > TOKEN_LIMIT:
        raise VisitError("the visit token is too long to be one of the lab's")

    fernet = cipher(secret_key)
    try:
        data = fernet.decrypt(token.encode(), ttl=LIFETIME_SECONDS)
    except InvalidToken:
        raise VisitError(
            "the visit token is expired or not valid: open the other site again "
            "from the lesson"
        ) from None

    body = json.loads(data)
    made = fernet.extract_timestamp(token.encode())
    kinds = tuple(kind for kind in body.get("k", []) if kind in KINDS)
    return Visit(body["s"], body["o"], body["b"], kinds, made + LIFETIME_SECONDS)


def token_in(environ: dict) -> str | None:
    """Answer the visit token in a request's query string, if it has one."""
    query = parse_qs(environ.get("QUERY_STRING", ""), max_num_fields=20)
    values = query.get(PARAMETER)
    return values[0] if values else None


def visitor(studio: Flask, environ: dict):
    """Answer the learner a visit token names, for a request without their cookie.

    The studio session is opened as if the request had carried the studio
    cookie; the request the specimen sees is left as it arrived.

    :raise VisitError: the request carries a token that is not valid.
    """
    token = token_in(environ)
    if token is None:
        return None

    visit = read_token(studio.secret_key, token)
    name = studio.config["SESSION_COOKIE_NAME"]
    stand_in = {**environ, "HTTP_COOKIE": f"{name}={visit.studio_id}"}
    learner = learners.named_by(studio, stand_in)
    if learner is None:
        raise VisitError("the visit token names a learner the studio no longer knows")

    environ[ENVIRON_KEY] = True
    return learner
