"""Who may call what on the web API: three credentials, one role each.

Each role has its own token file in the service's runtime directory (0600,
the service's user), so a leaked kiosk page cannot list users and a leaked
operator page cannot act as an integrator:

- ``integrator`` (``http.token``): the whole API, as before roles existed.
- ``operator`` (``operator.token``): users, history, enrol, delete, unlock,
  detailed status, the operator page.
- ``kiosk`` (``kiosk.token``): the signer's page only: its buttons (OK,
  Clear, Cancel) and the WebSocket of the pad's prompts, ink and
  verdicts.

A route handler declares who may call it with ``@requires(...)``; a handler
without the declaration is refused to everyone (default deny), so a route
added without thought is closed, not open. The pages get their token in the
URL fragment (``/#k=TOKEN``, ``/operator#o=TOKEN``), which browsers never
send to a server or write to a log.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, TypeVar

KIOSK: Final = "kiosk"
OPERATOR: Final = "operator"
INTEGRATOR: Final = "integrator"
ROLES: Final = (KIOSK, OPERATOR, INTEGRATOR)
TOKEN_FILES: Final = {KIOSK: "kiosk.token", OPERATOR: "operator.token", INTEGRATOR: "http.token"}
FRAGMENT_KEYS: Final = {KIOSK: "k", OPERATOR: "o"}  # the page URL's fragment: /#k=TOKEN, /operator#o=TOKEN

_ATTRIBUTE = "__sigpad_roles__"
Handler = TypeVar("Handler", bound=Callable[..., object])


def requires(*roles: str) -> Callable[[Handler], Handler]:
    """Declare the roles that may call a route handler (default: none)."""
    unknown = set(roles) - set(ROLES)
    if unknown or not roles:
        raise ValueError(f"requires(): roles must be some of {ROLES}, got {roles}")

    def declare(handler: Handler) -> Handler:
        setattr(handler, _ATTRIBUTE, frozenset(roles))
        return handler
    return declare


def roles_of(handler: object) -> frozenset[str]:
    """The roles a handler admits; empty (nobody) where it declared none."""
    roles: object = getattr(handler, _ATTRIBUTE, None)
    return frozenset(str(r) for r in roles) if isinstance(roles, frozenset) else frozenset()


PUBLIC: Final = "public"
"""Not a role: the mark of a route anyone may call (the static page files, the bare status)."""


def public(handler: Handler) -> Handler:
    """Declare a route open to every caller: only for what holds no data (page files, "the service is up")."""
    setattr(handler, _ATTRIBUTE, frozenset({PUBLIC}))
    return handler


def is_public(handler: object) -> bool:
    return PUBLIC in roles_of(handler)
