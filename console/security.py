"""Security headers, the CSP nonce, cookie security and proxy trust, for every response.

``init_app`` is called by ``create_app``. Templates put ``nonce="{{ csp_nonce() }}"``
on each inline ``<script>`` (and ``<style>``); Flask-Admin's templates get the same
nonce through ``Admin(csp_nonce_generator=csp_nonce)``.
"""

from __future__ import annotations

import secrets

from flask import Flask, Request, abort, g, has_request_context, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Response

# Sent on every response, static files included.
ALWAYS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
# Clickjacking protection stays even while the full policy is turned off.
FRAME_ONLY_CSP = "frame-ancestors 'none'"


def csp_nonce() -> str:
    """This request's CSP nonce (one per request, made on first use)."""
    nonce = g.get("csp_nonce")
    if nonce is None:
        nonce = g.csp_nonce = secrets.token_urlsafe(16)
    return nonce


def content_security_policy(nonce: str) -> str:
    """The Content-Security-Policy of a page whose inline scripts carry ``nonce``.

    Scripts: the console's own files and nonce-carrying inline scripts; no inline event
    handlers, no ``javascript:`` URLs, no eval. Styles: the console's own files; inline
    ``<style>`` elements need the nonce, while ``style`` attributes (used by Bootstrap's
    and select2's markup) are allowed, since they cannot run code. Images: own files and
    ``data:`` URIs (select2 and Bootstrap draw icons with them). Nothing may frame a page,
    forms post only here, and nothing is fetched from another origin.
    """
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self' 'nonce-{nonce}'",
            # Browsers without the -elem/-attr directives (CSP 2) fall back to this one.
            "style-src 'self' 'unsafe-inline'",
            f"style-src-elem 'self' 'nonce-{nonce}'",
            "style-src-attr 'unsafe-inline'",
            "img-src 'self' data:",
            "font-src 'self' data:",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def is_static(req: Request) -> bool:
    """True for the app's, Flask-Admin's and blueprints' static files."""
    endpoint = req.endpoint or ""
    return endpoint == "static" or endpoint.endswith(".static")


def add_security_headers(response: Response) -> Response:
    """The after_request hook: framing, sniffing, referrer, caching and the CSP."""
    from flask import current_app

    for name, value in ALWAYS.items():
        response.headers.setdefault(name, value)
    if is_static(request):
        return response
    # Pages show data a shared or back-button cache must not keep.
    response.headers["Cache-Control"] = "no-store"
    response.headers.pop("Expires", None)
    if current_app.config.get("CONSOLE_CSP", True):
        response.headers["Content-Security-Policy"] = content_security_policy(csp_nonce())
    else:
        response.headers["Content-Security-Policy"] = FRAME_ONLY_CSP
    return response


def cookies_secure(app: Flask) -> bool:
    """Whether cookies get the Secure flag: CONSOLE_SECURE_COOKIES, or when unset, on HTTPS."""
    setting = app.config.get("CONSOLE_SECURE_COOKIES")
    if setting is None:
        return bool(has_request_context() and request.is_secure)
    return bool(setting)


class ConsoleSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with the Secure flag decided per request."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return cookies_secure(app)


def refuse_nul_in_address() -> None:
    """A NUL in the query string (search, filters, cursors, lookups) is a 400, never a 500.

    No database stores NUL in text, and PostgreSQL's driver refuses it in any literal:
    no page could answer such a request usefully. Forms are not refused here: their
    fields say "cannot be stored (NUL)" next to the field, and a form's ``next`` falls
    back to the default like any other unsafe target.
    """
    if any("\x00" in key or "\x00" in value for key, value in request.args.items(multi=True)):
        abort(400, description="The address contains a NUL character, which nothing here "
                               "accepts. Remove it and try again.")


def init_app(app: Flask) -> None:
    """Install the headers, the nonce, cookie security and (when trusted) the proxy fix."""
    proxies = int(app.config.get("CONSOLE_TRUST_PROXY") or 0)
    if proxies > 0:
        # X-Forwarded-For/-Proto/-Host/-Port from that many proxies in front; anything a
        # client sends beyond them is ignored. Without it the headers are not read at all.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies, x_port=proxies
        )
    app.session_interface = ConsoleSessionInterface()
    app.before_request(refuse_nul_in_address)
    app.after_request(add_security_headers)
    app.jinja_env.globals["csp_nonce"] = csp_nonce
