"""What the specimen's views may do to a session, whatever its store."""


class SessionActions:
    """Login, logout and unset, passed to the exchange that owns the session.

    The specimen's views call these whatever the store; each exchange does
    what its own rules say (express-session's, or Flask's for the cookie).
    """

    def regenerate(self) -> None:
        """Start a new session at login, dropping the old one."""
        self.exchange.regenerate(self)

    def destroy(self) -> None:
        """End the session at logout."""
        self.exchange.destroy(self)

    def unset(self) -> None:
        """Drop the session from this request, as ``req.session = null``."""
        self.exchange.unset(self)
