"""Staff accounts and signed sessions (digitize.ledger.accounts): users in a real ledger (SQLite, and one
run on PostgreSQL), sign-in throttled by client address and name, sessions ended at sign-out, session cookies that cannot be forged, changed, replayed
after expiry or taken from another kind of signed token, and CSRF tokens bound to the session."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import datetime, timedelta, timezone

import pytest

from conftest import ledger_session, sqlite_url
from digitize.ledger import accounts, database as ledger
from digitize.access import oai
from digitize.ledger.accounts import (HASHER, MAX_FAILURES, THROTTLE_TIME, add_user, check_csrf, csrf_token, list_users,
                               make_session, read_session, remove_user, sign_in, signed_in_user)
from digitize.core.errors import BadInput

NOW = datetime(2026, 12, 5, 9, 0, tzinfo=timezone.utc)
KEY = b"k" * 32
OTHER_KEY = b"o" * 32
PASSWORD = "mật khẩu đủ dài 12"


@pytest.fixture
def session(tmp_path):
    url = sqlite_url(tmp_path / "ledger.sqlite")
    ledger.upgrade(url)
    with ledger_session(url) as opened:
        yield opened


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def signed(payload: dict, key: bytes) -> str:
    """A cookie in the session format, its payload signed with ``key`` as given (not derived)."""
    body = b64(json.dumps(payload).encode())
    return f"{body}.{b64(hmac.new(key, body.encode(), hashlib.sha256).digest())}"


# ---- users ------------------------------------------------------------------------------------

def test_users_are_added_listed_and_removed(session):
    add_user(session, "lan.nguyen", PASSWORD, NOW)
    add_user(session, "an@hd-tv", PASSWORD + "x", NOW)
    assert [u.name for u in list_users(session)] == ["an@hd-tv", "lan.nguyen"]
    stored = list_users(session)[1]
    assert stored.password_hash.startswith("$argon2id$") and PASSWORD not in stored.password_hash
    assert stored.failed_sign_ins == 0 and stored.locked_until is None and stored.last_sign_in is None
    remove_user(session, "lan.nguyen")
    assert [u.name for u in list_users(session)] == ["an@hd-tv"]
    with pytest.raises(BadInput, match="no user"):
        remove_user(session, "lan.nguyen")


def test_a_short_password_a_taken_name_and_a_bad_name_are_refused_plainly(session):
    with pytest.raises(BadInput, match="shorter than 12 characters") as short:
        add_user(session, "lan", "ngắn-11-chữ")
    assert "ngắn" not in str(short.value)  # the password is never shown
    add_user(session, "lan", PASSWORD)
    with pytest.raises(BadInput, match="already exists"):
        add_user(session, "lan", "another long password")
    for name in ("", "x" * 65, "lan nguyen", "nguyễn", "lan;drop", "a/b"):
        with pytest.raises(BadInput, match="user name"):
            add_user(session, name, PASSWORD)
    assert [u.name for u in list_users(session)] == ["lan"]


def test_set_password_changes_the_password_and_ends_the_sessions(session):
    add_user(session, "lan", PASSWORD, NOW)
    cookie = make_session("lan", KEY, NOW + timedelta(minutes=1))
    accounts.set_password(session, "lan", "a new password, long enough", NOW + timedelta(minutes=2))
    assert sign_in(session, "lan", PASSWORD, NOW + timedelta(minutes=3)) is None
    assert sign_in(session, "lan", "a new password, long enough", NOW + timedelta(minutes=3)) is not None
    assert signed_in_user(session, cookie, KEY, NOW + timedelta(minutes=3)) is None
    with pytest.raises(BadInput, match="shorter"):
        accounts.set_password(session, "lan", "short")


# ---- signing in -------------------------------------------------------------------------------

def test_the_right_password_signs_in_and_wrong_or_unknown_ones_do_not(session):
    add_user(session, "lan", PASSWORD, NOW)
    user = sign_in(session, "lan", PASSWORD, NOW)
    assert user is not None and user.name == "lan" and user.last_sign_in == NOW
    assert sign_in(session, "lan", PASSWORD + " ", NOW) is None
    assert sign_in(session, "lan", "", NOW) is None
    assert sign_in(session, "nobody", PASSWORD, NOW) is None
    assert sign_in(session, "not a name;", PASSWORD, NOW) is None
    assert sign_in(session, "LAN", PASSWORD, NOW) is None


def test_a_password_typed_in_another_unicode_form_signs_in(session):
    add_user(session, "lan", PASSWORD, NOW)  # NFC
    import unicodedata

    assert sign_in(session, "lan", unicodedata.normalize("NFD", PASSWORD), NOW) is not None


def test_an_unknown_name_is_verified_against_a_dummy_hash_of_the_same_cost(session, monkeypatch):
    assert not HASHER.check_needs_rehash(accounts.DUMMY_HASH)  # same parameters as real hashes
    add_user(session, "lan", PASSWORD, NOW)

    def took(name: str) -> float:
        started = time.perf_counter()
        assert sign_in(session, name, "wrong password!", NOW) is None
        return time.perf_counter() - started

    # the fastest of a few, so a busy machine does not decide
    wrong, unknown = min(took("lan") for _ in range(3)), min(took("nobody") for _ in range(3))
    assert unknown > wrong / 3, (unknown, wrong)  # an argon2 verification each (about 0.1 s), not a lookup
    verified = []
    real = accounts._verify
    monkeypatch.setattr(accounts, "_verify", lambda password_hash, password: verified.append(password_hash)
                        or real(password_hash, password))
    assert sign_in(session, "nobody", PASSWORD, NOW) is None
    assert sign_in(session, "bad name!", PASSWORD, NOW) is None
    assert verified == [accounts.DUMMY_HASH, accounts.DUMMY_HASH]


def test_five_failures_hold_back_that_address_for_that_name_only_and_for_fifteen_minutes(session):
    add_user(session, "lan", PASSWORD, NOW)
    guesser, lan_at_work = "203.0.113.9", "10.9.1.5"
    for attempt in range(MAX_FAILURES - 1):
        assert sign_in(session, "lan", "wrong password!", NOW + timedelta(seconds=attempt), guesser) is None
    assert sign_in(session, "lan", PASSWORD, NOW + timedelta(seconds=10), guesser) is not None  # a success resets
    for attempt in range(MAX_FAILURES):
        assert sign_in(session, "lan", "wrong password!", NOW + timedelta(seconds=20 + attempt), guesser) is None
    held_at = NOW + timedelta(seconds=20 + MAX_FAILURES - 1)
    soon = held_at + timedelta(minutes=1)
    assert accounts.is_throttled(session, guesser, "lan", soon)
    assert accounts.is_locked(session, accounts.find_user(session, "lan"), soon)  # as `user list` shows it
    # from the guesser's address even the right password is refused, until the end of the hold ...
    assert sign_in(session, "lan", PASSWORD, soon, guesser) is None
    assert sign_in(session, "lan", PASSWORD, held_at + THROTTLE_TIME - timedelta(seconds=1), guesser) is None
    # ... while lan, from her own address, signs in: a guesser cannot lock a person out
    assert not accounts.is_throttled(session, lan_at_work, "lan", soon)
    assert sign_in(session, "lan", PASSWORD, soon, lan_at_work) is not None
    # attempts while held back are not counted: the hold ends THROTTLE_TIME after the fifth failure
    assert sign_in(session, "lan", PASSWORD, held_at + THROTTLE_TIME, guesser) is not None
    assert not accounts.is_throttled(session, guesser, "lan", held_at + THROTTLE_TIME)


def test_a_name_that_does_not_exist_is_held_back_the_same_way(session):
    add_user(session, "lan", PASSWORD, NOW)
    for name in ("lan", "nobody"):
        for attempt in range(MAX_FAILURES):
            assert not accounts.is_throttled(session, "203.0.113.9", name, NOW)
            assert sign_in(session, name, "wrong password!", NOW, "203.0.113.9") is None
        assert accounts.is_throttled(session, "203.0.113.9", name, NOW + timedelta(minutes=1))
    started = time.perf_counter()
    assert sign_in(session, "lan", PASSWORD, NOW + timedelta(minutes=1), "203.0.113.9") is None
    assert time.perf_counter() - started < 0.05  # refused without an argon2 verification, for either name


def test_the_hold_is_read_back_from_sqlite_as_utc(tmp_path):
    """Times read back from SQLite have no time zone: the hold is compared as UTC all the same."""
    url = sqlite_url(tmp_path / "ledger.sqlite")
    with ledger_session(url) as first:
        add_user(first, "lan", PASSWORD, NOW)
        for attempt in range(MAX_FAILURES):
            sign_in(first, "lan", "wrong password!", NOW, "203.0.113.9")
    with ledger_session(url) as second:
        assert sign_in(second, "lan", PASSWORD, NOW + timedelta(minutes=14), "203.0.113.9") is None
        assert sign_in(second, "lan", PASSWORD, NOW + timedelta(minutes=16), "203.0.113.9") is not None


def test_a_session_signed_out_is_refused_and_the_others_go_on(session):
    add_user(session, "lan", PASSWORD, NOW)
    at_home, at_work = make_session("lan", KEY, NOW), make_session("lan", KEY, NOW)
    accounts.end_session(session, at_home, KEY, NOW + timedelta(minutes=1))
    assert read_session(at_home, KEY, NOW + timedelta(minutes=2)) == "lan"  # the cookie alone is still signed ...
    assert signed_in_user(session, at_home, KEY, NOW + timedelta(minutes=2)) is None  # ... the ledger says no
    assert signed_in_user(session, at_work, KEY, NOW + timedelta(minutes=2)).name == "lan"
    accounts.end_session(session, at_home, KEY, NOW + timedelta(minutes=3))  # signing out twice is no fault
    accounts.end_session(session, "junk", KEY, NOW)
    # an ended session is forgotten once it would have expired anyway
    later = NOW + accounts.SESSION_LIFETIME + timedelta(minutes=1)
    accounts.end_session(session, make_session("lan", KEY, later), KEY, later)
    assert session.query(accounts.EndedSession).count() == 1


def test_a_hash_made_with_older_parameters_is_remade_at_sign_in(session):
    from argon2 import PasswordHasher

    user = add_user(session, "lan", PASSWORD, NOW)
    user.password_hash = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    session.commit()
    assert sign_in(session, "lan", PASSWORD, NOW) is not None
    remade = accounts.find_user(session, "lan").password_hash
    assert "m=65536,t=3,p=4" in remade and not HASHER.check_needs_rehash(remade)


# ---- session cookies --------------------------------------------------------------------------

def test_a_session_cookie_reads_back_until_it_expires():
    cookie = make_session("lan.nguyen", KEY, NOW)
    assert set(cookie) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")
    assert read_session(cookie, KEY, NOW) == "lan.nguyen"
    assert read_session(cookie, KEY, NOW + timedelta(hours=8) - timedelta(seconds=1)) == "lan.nguyen"
    assert read_session(cookie, KEY, NOW + timedelta(hours=8)) is None
    assert read_session(make_session("lan", KEY, NOW, timedelta(minutes=5)), KEY, NOW + timedelta(minutes=6)) is None
    assert make_session("lan", KEY, NOW) != make_session("lan", KEY, NOW)  # a nonce of its own


def test_forged_tampered_and_malformed_cookies_are_refused():
    cookie = make_session("lan", KEY, NOW)
    body, signature = cookie.split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    as_admin = b64(json.dumps(payload | {"user": "admin"}, separators=(",", ":")).encode())
    longer = b64(json.dumps(payload | {"expires": payload["expires"] + 10**12}, separators=(",", ":")).encode())
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    for bad in (f"{as_admin}.{signature}", f"{longer}.{signature}", f"{body}.{flipped}", f"{body}.", body,
                f".{signature}", cookie + "x", cookie + ".x", "", ".", "..", "a.b", "é.é", cookie.replace(".", "%2E"),
                "x" * 5000, None, 42, signed(payload, accounts.derived_key(KEY, "csrf"))):
        assert read_session(bad, KEY, NOW) is None, bad


def test_cookies_signed_right_but_with_a_bad_payload_are_refused():
    session_key = accounts.derived_key(KEY, "session")
    good = {"user": "lan", "issued": 1, "expires": 10**18, "nonce": "n"}
    for payload in ({**good, "user": "bad name"}, {**good, "user": 7}, {**good, "issued": "1"},
                    {**good, "expires": 1.5e18}, {**good, "expires": True}, {**good, "extra": 1},
                    {"user": "lan"}, [good], "lan", {**good, "issued": 10**18}):
        assert read_session(signed(payload, session_key), KEY, NOW) is None, payload
    assert read_session(signed(good, session_key), KEY, NOW) == "lan"  # the helper makes real cookies
    body = b64(b"not json")
    assert read_session(f"{body}.{b64(hmac.new(session_key, body.encode(), hashlib.sha256).digest())}",
                        KEY, NOW) is None


def test_a_cookie_made_with_another_key_is_refused():
    assert read_session(make_session("lan", OTHER_KEY, NOW), KEY, NOW) is None


def test_a_token_signed_with_the_raw_key_is_not_a_session():
    """Resumption tokens (and anything else) signed with the settings' key itself are never sessions."""
    payload = {"user": "lan", "issued": 1, "expires": 10**18, "nonce": "n"}
    assert read_session(signed(payload, KEY), KEY, NOW) is None
    token = oai.make_token(payload | {"e": (NOW + timedelta(hours=1)).timestamp()}, KEY)
    assert read_session(token, KEY, NOW) is None


def test_signed_in_user_checks_the_ledger(session):
    add_user(session, "lan", PASSWORD, NOW)
    cookie = make_session("lan", KEY, NOW + timedelta(seconds=1))
    assert signed_in_user(session, cookie, KEY, NOW + timedelta(seconds=2)).name == "lan"
    assert signed_in_user(session, cookie, OTHER_KEY, NOW + timedelta(seconds=2)) is None
    assert signed_in_user(session, "junk", KEY, NOW) is None
    # a user removed and added again under the same name does not get the old sessions back
    remove_user(session, "lan")
    assert read_session(cookie, KEY, NOW + timedelta(seconds=2)) == "lan"  # the cookie alone is fine ...
    assert signed_in_user(session, cookie, KEY, NOW + timedelta(seconds=2)) is None  # ... the ledger says no
    add_user(session, "lan", PASSWORD, NOW + timedelta(seconds=3))
    assert signed_in_user(session, cookie, KEY, NOW + timedelta(seconds=4)) is None
    # end_sessions: the sessions before are refused, one made in the same second after it is not
    again = make_session("lan", KEY, NOW + timedelta(seconds=5))
    accounts.end_sessions(session, "lan", NOW + timedelta(seconds=5, microseconds=1))
    after = make_session("lan", KEY, NOW + timedelta(seconds=5, microseconds=2))
    assert signed_in_user(session, again, KEY, NOW + timedelta(seconds=6)) is None
    assert signed_in_user(session, after, KEY, NOW + timedelta(seconds=6)).name == "lan"


def test_cookie_headers():
    cookie = make_session("lan", KEY, NOW)
    assert accounts.cookie_header(cookie, secure=True) == \
        f"digitize_session={cookie}; HttpOnly; SameSite=Strict; Path=/; Secure"
    assert accounts.cookie_header(cookie, secure=False) == f"digitize_session={cookie}; HttpOnly; SameSite=Strict; Path=/"
    seed = accounts.new_form_seed()
    assert accounts.cookie_header(seed, False, accounts.FORM_COOKIE).startswith(f"digitize_form={seed}; HttpOnly")
    assert accounts.clearing_cookie_header(True) == "digitize_session=; Max-Age=0; HttpOnly; SameSite=Strict; Path=/; Secure"
    for bad in ("a;b", "a b", "a\r\nSet-Cookie: x=1", ""):
        with pytest.raises(ValueError):
            accounts.cookie_header(bad, True)


# ---- CSRF -------------------------------------------------------------------------------------

def test_csrf_tokens_are_bound_to_the_session_and_the_key():
    cookie, other_cookie = make_session("lan", KEY, NOW), make_session("lan", KEY, NOW)
    token = csrf_token(cookie, KEY)
    assert check_csrf(token, cookie, KEY)
    assert not check_csrf(token, other_cookie, KEY)  # another session's token
    assert not check_csrf(csrf_token(cookie, OTHER_KEY), cookie, KEY)
    assert not check_csrf(token[:-1], cookie, KEY)
    assert not check_csrf(token + "A", cookie, KEY)
    for missing in ("", None):
        assert not check_csrf(missing, cookie, KEY)  # a form posted without the token
        assert not check_csrf(token, missing, KEY)  # ... or without the cookie (from another site)
    assert not check_csrf("é", cookie, KEY)
    # the token is not the session's signature nor anything signed with the raw key
    assert token not in cookie
    assert token != b64(hmac.new(KEY, cookie.encode(), hashlib.sha256).digest())
    assert read_session(f"{b64(b'x')}.{csrf_token(b64(b'x'), KEY)}", KEY, NOW) is None


def test_the_sign_in_form_is_bound_to_the_pre_session_seed():
    seed, other_seed = accounts.new_form_seed(), accounts.new_form_seed()
    assert seed != other_seed and len(seed) >= 40
    token = csrf_token(seed, KEY)
    assert check_csrf(token, seed, KEY) and not check_csrf(token, other_seed, KEY)
    with pytest.raises(ValueError):
        csrf_token("", KEY)


# ---- PostgreSQL -------------------------------------------------------------------------------

@pytest.mark.slow
def test_users_on_postgresql(postgres):
    url = postgres.new_database("accounts")
    ledger.upgrade(url)
    with ledger_session(url) as session:
        assert ledger.current_revision(session.get_bind()) == ledger.newest_revision()
        add_user(session, "lan.nguyen", PASSWORD, NOW)
        with pytest.raises(BadInput, match="already exists"):
            add_user(session, "lan.nguyen", PASSWORD)
        user = sign_in(session, "lan.nguyen", PASSWORD, NOW)
        assert user is not None and user.last_sign_in == NOW
        for _ in range(MAX_FAILURES):
            assert sign_in(session, "lan.nguyen", "wrong password!", NOW) is None
        assert sign_in(session, "lan.nguyen", PASSWORD, NOW + timedelta(minutes=1)) is None
        assert sign_in(session, "lan.nguyen", PASSWORD, NOW + THROTTLE_TIME) is not None
        cookie = make_session("lan.nguyen", KEY, NOW + timedelta(minutes=20))
        assert signed_in_user(session, cookie, KEY, NOW + timedelta(minutes=21)).name == "lan.nguyen"
        accounts.end_session(session, cookie, KEY, NOW + timedelta(minutes=22))
        assert signed_in_user(session, cookie, KEY, NOW + timedelta(minutes=23)) is None
