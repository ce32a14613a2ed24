"""The access token: constant-time comparison, a session cookie that is not the token, and a
login redirect that never leaves the site."""

from __future__ import annotations

import pytest

from services.dashboard.auth import safe_next, session_value, token_matches


def test_a_token_matches_only_itself() -> None:
    assert token_matches("s3cret", "s3cret")
    assert not token_matches("s3cre", "s3cret")
    assert not token_matches("", "s3cret")
    assert not token_matches(None, "s3cret")


def test_the_session_cookie_is_derived_from_the_token_but_is_not_the_token() -> None:
    value = session_value("s3cret")
    assert value != "s3cret" and "s3cret" not in value
    assert value == session_value("s3cret")
    assert value != session_value("other")


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/administrations/acme", "/administrations/acme"),
        ("/?x=1", "/?x=1"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("", "/"),
        (None, "/"),
    ],
)
def test_after_logging_in_only_paths_on_this_site_are_followed(
    target: str | None, expected: str
) -> None:
    assert safe_next(target) == expected
