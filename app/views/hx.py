"""Everything the studio knows about htmx's HX-* headers, in one place.

Views ask here whether to answer a fragment or a whole page, and name the
events a response should raise, so a change of htmx version touches this file
alone.
"""

from urllib.parse import urlsplit

from flask import render_template
from htmx_flask import make_response, request

SETTINGS_CHANGED = "settings-changed"


def wants_fragment() -> bool:
    """Answer whether the request came from htmx asking for a piece of a page.

    A history restore asks for the whole page even though htmx sends it.
    """
    return bool(request.htmx) and not request.htmx.history_restore_request


def render(fragment: str, page: str, status: int = 200, trigger=None, **context):
    """Render the fragment for htmx, else the page that includes it.

    Both answers vary on HX-Request, so a cache never serves one for the other.
    """
    template = fragment if wants_fragment() else page
    body = render_template(template, fragment=fragment, **context)
    response = make_response(body, status, trigger=trigger)
    response.vary.add("HX-Request")
    return response


def redirect_or_fragment(location: str, fragment: str, trigger=None, **context):
    """Answer htmx with the fragment, and a plain form post with a redirect."""
    if wants_fragment():
        return render(fragment, fragment, trigger=trigger, **context)

    response = make_response("", 303)
    response.headers["Location"] = location
    response.vary.add("HX-Request")
    return response


def page_path() -> str:
    """Answer the path of the page the browser shows, which htmx reports."""
    current = request.htmx.current_url if request.htmx else None
    if not current:
        return request.path
    return urlsplit(current).path or "/"
