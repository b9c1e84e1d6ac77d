import pytest

from edge.app.credentials import INTEGRATOR, KIOSK, OPERATOR, TOKEN_FILES, requires, roles_of


def test_a_handler_admits_exactly_the_roles_it_declares():
    @requires(OPERATOR, INTEGRATOR)
    async def delete_user(request):
        return None

    assert roles_of(delete_user) == {OPERATOR, INTEGRATOR}
    assert KIOSK not in roles_of(delete_user)


def test_a_handler_that_declares_nothing_admits_nobody():
    async def forgotten(request):
        return None

    assert roles_of(forgotten) == frozenset()


def test_unknown_or_missing_roles_are_refused_when_declared():
    with pytest.raises(ValueError, match="roles must be some of"):
        requires("admin")
    with pytest.raises(ValueError):
        requires()


def test_each_role_has_its_own_token_file():
    assert len(set(TOKEN_FILES.values())) == 3
    assert TOKEN_FILES[INTEGRATOR] == "http.token"  # the token file from before roles
