"""Staff accounts of the web app and their signed sessions: users in the ledger with argon2id
password hashes, sign-in throttled after repeated failures, session cookies signed with
HMAC-SHA256 and ended on the server at sign-out, and CSRF tokens bound to the session.

Throttling: MAX_FAILURES wrong sign-ins in a row for one name from one client address hold that
address back for that name for THROTTLE_TIME after the last of them: every attempt then is
refused without checking the password, and is not counted. It is kept by address and name
whatever the name, so the answers are the same for a name that exists and one that does not (and
a name cannot be found out), and a guesser holds back only itself: the person, from their own
address, still signs in (a reading room's shared address is held back for at most THROTTLE_TIME).
A right password clears the address's count for the name.

The web app passes the settings' secret key (``Settings.token_key``) to every function that signs.
Each use derives a key of its own from it, so a signed value of one kind (an OAI-PMH resumption
token, a CSRF token) can never be taken for another (a session).

A session cookie alone only proves that this app issued it to someone who signed in: the web app
asks ``signed_in_user``, which also checks the ledger, so the cookies of a removed user, and those
issued before a password change or ``end_sessions``, and one signed out (``end_session``: its
nonce kept in ``ended_sessions`` until it would have expired), are refused at once."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
import unicodedata
from datetime import datetime, timedelta, timezone

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.profiles import RFC_9106_LOW_MEMORY
from sqlalchemy import DateTime, Integer, String, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from digitize.core.errors import BadInput
from digitize.ledger.database import Base, answering, utcnow

NAME = re.compile(r"[A-Za-z0-9._@-]{1,64}")
MIN_PASSWORD = 12  # characters
MAX_FAILURES = 5  # failed sign-ins in a row, for one name from one address, that hold that address back
THROTTLE_TIME = timedelta(minutes=15)
SESSION_LIFETIME = timedelta(hours=8)
ROLES = ("administrator", "coordinator", "reviewer")  # manages users | sees the figures | accepts, returns, corrects
CLOCK_SKEW = timedelta(minutes=5)  # how far in the future a session may say it was issued
SESSION_COOKIE = "digitize_session"
FORM_COOKIE = "digitize_form"  # the pre-session seed that binds the sign-in form's CSRF token

# argon2id with the parameters pinned (RFC 9106's second recommended option: 64 MiB, 3 passes,
# 4 lanes), so a new argon2-cffi does not change them unnoticed; hashes made with other parameters
# are remade at the next sign-in.
HASHER = PasswordHasher.from_parameters(RFC_9106_LOW_MEMORY)
# verified against when the name is unknown, so that costs as long as a wrong password (same parameters)
DUMMY_HASH = "$argon2id$v=19$m=65536,t=3,p=4$7J2oj7DiI0kcEoFWm5J90A$ikkhiqIffCusvAIWIgdc70KpcmAoUIGSBXsYfLDgVBc"

_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")
_COOKIE_VALUE = re.compile(r"[A-Za-z0-9._-]+")
_LONGEST_COOKIE = 1024
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class User(Base):
    """A staff account of the web app. ``sessions_valid_after``: sessions issued before it are
    refused (set when the user is added, bumped by a password change and ``end_sessions``)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # no longer set: accounts are not locked, sign-ins are throttled by address (SignInFailures)
    failed_sign_ins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_sign_in: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    sessions_valid_after: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    roles: Mapped[str] = mapped_column(String(200), default="")  # comma-separated: ROLES


class EndedSession(Base):
    """A session cookie signed out before it expired, by its nonce; forgotten once it has expired."""

    __tablename__ = "ended_sessions"

    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class SignInFailures(Base):
    """Failed sign-ins in a row for ``name`` from ``address`` (any name, known or not)."""

    __tablename__ = "sign_in_failures"

    address: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


# ---- users ------------------------------------------------------------------------------------

def add_user(session: Session, name: str, password: str, now: datetime | None = None,
             roles: tuple[str, ...] | list[str] = ("coordinator",)) -> User:
    """A new user with ``roles`` (a coordinator by default); BadInput for a name that is not
    allowed or taken, a password too short or a role that does not exist."""
    check_name(name)
    check_password(password)
    roles = check_roles(roles)
    now = now or utcnow()
    with answering(session):
        if find_user(session, name) is not None:
            raise BadInput("a user with this name already exists", f"user {name}",
                           "choose another name, or remove the old user first")
        user = User(name=name, password_hash=HASHER.hash(_normalized(password)), created=now,
                    failed_sign_ins=0, sessions_valid_after=now, roles=",".join(roles))
        session.add(user)
        try:
            session.commit()
        except IntegrityError:  # added by another process in the meantime
            session.rollback()
            raise BadInput("a user with this name already exists", f"user {name}",
                           "choose another name, or remove the old user first") from None
    return user


def remove_user(session: Session, name: str) -> None:
    """Remove the user; their sessions end with them (``signed_in_user`` finds no user)."""
    with answering(session):
        session.delete(_existing_user(session, name))
        session.commit()


def list_users(session: Session) -> list[User]:
    """All users, by name."""
    with answering(session):
        return list(session.scalars(select(User).order_by(User.name)))


def set_password(session: Session, name: str, password: str, now: datetime | None = None) -> None:
    """Give the user a new password, lift any throttling of the name and end the user's sessions."""
    check_password(password)
    now = now or utcnow()
    with answering(session):
        user = _existing_user(session, name)
        user.password_hash = HASHER.hash(_normalized(password))
        user.failed_sign_ins, user.locked_until, user.sessions_valid_after = 0, None, now
        session.execute(delete(SignInFailures).where(SignInFailures.name == name))
        session.commit()


def end_sessions(session: Session, name: str, now: datetime | None = None) -> None:
    """Sign the user out everywhere: every session issued until now is refused."""
    with answering(session):
        _existing_user(session, name).sessions_valid_after = now or utcnow()
        session.commit()


def roles_of(user: User) -> frozenset[str]:
    return frozenset(role for role in (user.roles or "").split(",") if role in ROLES)


def check_roles(roles) -> list[str]:
    """``roles`` in ROLES order; BadInput naming one that does not exist."""
    unknown = [role for role in roles if role not in ROLES]
    if unknown:
        raise BadInput(f"unknown role {unknown[0]!r}", None, f"use {', '.join(ROLES)}")
    return [role for role in ROLES if role in roles]


def change_roles(session: Session, name: str, add=(), remove=()) -> frozenset[str]:
    """Give the user the roles ``add`` and take ``remove`` away; their roles now. The change holds
    from the user's next request (the roles are read at every request)."""
    add, remove = check_roles(add), check_roles(remove)
    with answering(session):
        user = _existing_user(session, name)
        roles = (roles_of(user) | set(add)) - set(remove)
        user.roles = ",".join(role for role in ROLES if role in roles)
        session.commit()
        return roles_of(user)


def find_user(session: Session, name: str) -> User | None:
    return session.scalars(select(User).where(User.name == name)).first()


def check_name(name: str) -> None:
    """BadInput unless ``name`` can be a login: 1 to 64 ASCII letters, digits and . _ - @ (no
    diacritics: the same name typed with another keyboard would be other characters)."""
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise BadInput("a user name is 1 to 64 letters without diacritics, digits and . _ - @",
                       f"user {name!r}"[:80], "choose a name such as lan.nguyen")


def check_password(password: str) -> None:
    """BadInput for a password under MIN_PASSWORD characters (the password is never shown)."""
    if not isinstance(password, str) or len(_normalized(password)) < MIN_PASSWORD:
        raise BadInput(f"the password is shorter than {MIN_PASSWORD} characters", None,
                       "choose a longer one; a few unrelated words are easy to remember")


def _existing_user(session: Session, name: str) -> User:
    user = find_user(session, name)
    if user is None:
        raise BadInput("there is no user with this name", f"user {name}", "check the name against the list of users")
    return user


def _normalized(password: str) -> str:
    """The password in NFC: Vietnamese typed with another input method gives the same characters."""
    return unicodedata.normalize("NFC", password)


def _aware(moment: datetime | None) -> datetime | None:
    """A time read back from SQLite (which keeps no time zone) as the UTC time it was stored as."""
    return moment.replace(tzinfo=timezone.utc) if moment is not None and moment.tzinfo is None else moment


# ---- signing in -------------------------------------------------------------------------------

def is_locked(session: Session, user: User, now: datetime) -> bool:
    """Whether sign-ins for the user are held back from some address now (``user list``)."""
    with answering(session):
        return session.scalars(select(SignInFailures.address).where(
            SignInFailures.name == user.name, SignInFailures.failures >= MAX_FAILURES,
            SignInFailures.last_failure > now - THROTTLE_TIME)).first() is not None


def is_throttled(session: Session, address: str, name: str, now: datetime) -> bool:
    """Whether sign-ins for ``name`` from ``address`` are held back now (the same for any name)."""
    with answering(session):
        row = session.get(SignInFailures, (address[:64], name[:64]))
        return row is not None and row.failures >= MAX_FAILURES and now < _aware(row.last_failure) + THROTTLE_TIME


def sign_in(session: Session, name: str, password: str, now: datetime, address: str = "") -> User | None:
    """The user, if the name and password are right and sign-ins for the name from ``address``
    (the client's) are not held back; else None.

    An unknown name costs one argon2 verification like a wrong password, so names cannot be told
    by the time the answer takes, and its failures count as a known name's do (see the module's
    words on throttling). A success clears the address's count for the name, and remakes the hash
    if its parameters are not the current ones."""
    if not isinstance(password, str):
        password = ""
    if not isinstance(name, str):
        name = ""
    password = _normalized(password)
    with answering(session):
        if is_throttled(session, address, name, now):
            return None
        user = find_user(session, name) if NAME.fullmatch(name) else None
        right = _verify(user.password_hash if user is not None else DUMMY_HASH, password)
        if user is None or not right:
            _count_failure(session, address[:64], name[:64], now)
            return None
        session.execute(delete(SignInFailures).where(SignInFailures.address == address[:64],
                                                     SignInFailures.name == name))
        user.failed_sign_ins, user.locked_until, user.last_sign_in = 0, None, now
        if HASHER.check_needs_rehash(user.password_hash):
            user.password_hash = HASHER.hash(password)
        session.commit()
        return user


def _count_failure(session: Session, address: str, name: str, now: datetime) -> None:
    """One more failure in a row (a new row after THROTTLE_TIME without one); rows older than
    THROTTLE_TIME are dropped, so the table holds the last quarter of an hour's only."""
    session.execute(delete(SignInFailures).where(SignInFailures.last_failure <= now - THROTTLE_TIME))
    # counted in the database (x = x + 1), so sign-ins at the same time in other workers all count
    counted = session.execute(update(SignInFailures).where(
        SignInFailures.address == address, SignInFailures.name == name).values(
        failures=SignInFailures.failures + 1, last_failure=now)).rowcount
    if not counted:
        session.add(SignInFailures(address=address, name=name, failures=1, last_failure=now))
    try:
        session.commit()
    except IntegrityError:  # the first failure counted by another worker at the same moment
        session.rollback()
        session.execute(update(SignInFailures).where(
            SignInFailures.address == address, SignInFailures.name == name).values(
            failures=SignInFailures.failures + 1, last_failure=now))
        session.commit()


def _verify(password_hash: str, password: str) -> bool:
    try:
        return HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# ---- session cookies --------------------------------------------------------------------------

def derived_key(key: bytes, purpose: str) -> bytes:
    """A key for one purpose only ("session", "csrf"), from the settings' secret key."""
    return hmac.new(key, f"digitize {purpose}".encode(), hashlib.sha256).digest()


def make_session(name: str, key: bytes, now: datetime, lifetime: timedelta = SESSION_LIFETIME) -> str:
    """The session cookie's value for ``name``: ``PAYLOAD.SIGNATURE``, both URL-safe base64 without
    padding; the payload is JSON {"user", "issued", "expires" (microseconds since 1970, UTC),
    "nonce"}, the signature HMAC-SHA256 of the payload's base64 with the session key."""
    check_name(name)
    payload = {"user": name, "issued": _microseconds(now), "expires": _microseconds(now + lifetime),
               "nonce": secrets.token_urlsafe(16)}
    body = _encode(json.dumps(payload, separators=(",", ":")).encode())
    return f"{body}.{_signature(body, key)}"


def read_session(cookie: str, key: bytes, now: datetime) -> str | None:
    """The user name of a session cookie this app issued and that has not expired; None for one
    forged, changed, expired or that cannot be read. The caller must still check that the user
    exists and the session is not ended: ``signed_in_user`` does both."""
    payload = _session_payload(cookie, key, now)
    return payload["user"] if payload is not None else None


def signed_in_user(session: Session, cookie: str, key: bytes, now: datetime) -> User | None:
    """The user of a session cookie, if the cookie is good (``read_session``), the user still
    exists and the session was issued after the user's ``sessions_valid_after``; else None."""
    payload = _session_payload(cookie, key, now)
    if payload is None:
        return None
    with answering(session):
        user = find_user(session, payload["user"])
        ended = session.get(EndedSession, payload["nonce"]) is not None if user is not None else True
    if ended or payload["issued"] < _microseconds(_aware(user.sessions_valid_after)):
        return None
    return user


def end_session(session: Session, cookie: str, key: bytes, now: datetime) -> None:
    """Sign out the session of ``cookie``: refused from now on, wherever the cookie was kept (the
    other sessions of the user go on). Nothing for a cookie that is not a good session's."""
    payload = _session_payload(cookie, key, now)
    if payload is None:
        return
    with answering(session):
        session.execute(delete(EndedSession).where(EndedSession.expires <= now))
        if session.get(EndedSession, payload["nonce"]) is None:
            session.add(EndedSession(nonce=payload["nonce"],
                                     expires=_EPOCH + timedelta(microseconds=payload["expires"])))
        try:
            session.commit()
        except IntegrityError:  # signed out by another request at the same moment
            session.rollback()


def _session_payload(cookie: str, key: bytes, now: datetime) -> dict | None:
    if not isinstance(cookie, str) or len(cookie) > _LONGEST_COOKIE:
        return None
    body, dot, signature = cookie.partition(".")
    if not (dot and _BASE64URL.fullmatch(body) and _BASE64URL.fullmatch(signature)):
        return None
    if not hmac.compare_digest(signature.encode(), _signature(body, key).encode()):
        return None
    try:
        payload = json.loads(_decode(body))
    except (ValueError, binascii.Error):
        return None
    if not (isinstance(payload, dict) and set(payload) == {"user", "issued", "expires", "nonce"}
            and isinstance(payload["user"], str) and NAME.fullmatch(payload["user"])
            and isinstance(payload["nonce"], str) and 0 < len(payload["nonce"]) <= 64
            and type(payload["issued"]) is int and type(payload["expires"]) is int):
        return None
    if not payload["issued"] <= _microseconds(now + CLOCK_SKEW) or not _microseconds(now) < payload["expires"]:
        return None
    return payload


def _signature(body: str, key: bytes) -> str:
    return _encode(hmac.new(derived_key(key, "session"), body.encode(), hashlib.sha256).digest())


def _encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _microseconds(moment: datetime) -> int:
    """Microseconds since 1970 (UTC), exact: a session made in the same second as a password change
    is still told apart from one made just before it."""
    return (moment - _EPOCH) // timedelta(microseconds=1)


def cookie_header(value: str, secure: bool, name: str = SESSION_COOKIE) -> str:
    """The Set-Cookie header value that gives the browser the cookie: sent back to this site only
    (SameSite=Strict), never readable by scripts (HttpOnly), kept until the browser is closed
    (the session's own expiry is in the signed value). ``secure``: the public URL is https."""
    if not (_COOKIE_VALUE.fullmatch(value) and _COOKIE_VALUE.fullmatch(name)):
        raise ValueError("a cookie's name and value are URL-safe base64 and dots only")
    return f"{name}={value}; HttpOnly; SameSite=Strict; Path=/" + ("; Secure" if secure else "")


def clearing_cookie_header(secure: bool, name: str = SESSION_COOKIE) -> str:
    """The Set-Cookie header value that removes the cookie (signing out)."""
    return f"{name}=; Max-Age=0; HttpOnly; SameSite=Strict; Path=/" + ("; Secure" if secure else "")


# ---- CSRF -------------------------------------------------------------------------------------

def new_form_seed() -> str:
    """A random value for the FORM_COOKIE of a visitor not signed in yet: the seed of the sign-in
    form's CSRF token."""
    return secrets.token_urlsafe(32)


def csrf_token(seed: str, key: bytes) -> str:
    """The token a form carries in a hidden field: HMAC-SHA256 of ``seed`` (the session cookie's
    value, or the FORM_COOKIE's before sign-in) with the CSRF key. Another site can neither read
    the cookie nor make the token, so its forms are refused."""
    if not isinstance(seed, str) or not seed:
        raise ValueError("a CSRF token needs the session cookie or the form cookie as its seed")
    return _encode(hmac.new(derived_key(key, "csrf"), seed.encode(), hashlib.sha256).digest())


def check_csrf(token: str | None, seed: str | None, key: bytes) -> bool:
    """Whether a posted form's ``token`` is the one of ``seed`` (False when either is missing)."""
    if not (isinstance(token, str) and token and isinstance(seed, str) and seed):
        return False
    return hmac.compare_digest(token.encode(), csrf_token(seed, key).encode())
