"""Staff accounts of the web app and their signed sessions: users in the ledger with argon2id
password hashes, sign-in with a lock after repeated failures, session cookies signed with
HMAC-SHA256, and CSRF tokens bound to the session.

The web app passes the settings' secret key (``Settings.token_key``) to every function that signs.
Each use derives a key of its own from it, so a signed value of one kind (an OAI-PMH resumption
token, a CSRF token) can never be taken for another (a session).

A session cookie alone only proves that this app issued it to someone who signed in: the web app
asks ``signed_in_user``, which also checks the ledger, so the cookies of a removed user, and those
issued before a password change or ``end_sessions``, are refused at once."""

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
from sqlalchemy import DateTime, Integer, String, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from digitize.core.errors import BadInput
from digitize.ledger.database import Base, answering, utcnow

NAME = re.compile(r"[A-Za-z0-9._@-]{1,64}")
MIN_PASSWORD = 12  # characters
MAX_FAILURES = 5  # failed sign-ins in a row that lock the account
LOCK_TIME = timedelta(minutes=15)
SESSION_LIFETIME = timedelta(hours=8)
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
    failed_sign_ins: Mapped[int] = mapped_column(Integer, default=0)  # in a row, since the last success or lock
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_sign_in: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    sessions_valid_after: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# ---- users ------------------------------------------------------------------------------------

def add_user(session: Session, name: str, password: str, now: datetime | None = None) -> User:
    """A new user; BadInput for a name that is not allowed or taken, or a password too short."""
    check_name(name)
    check_password(password)
    now = now or utcnow()
    with answering(session):
        if find_user(session, name) is not None:
            raise BadInput("a user with this name already exists", f"user {name}",
                           "choose another name, or remove the old user first")
        user = User(name=name, password_hash=HASHER.hash(_normalized(password)), created=now,
                    failed_sign_ins=0, sessions_valid_after=now)
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
    """Give the user a new password, lift a lock and end the user's sessions."""
    check_password(password)
    now = now or utcnow()
    with answering(session):
        user = _existing_user(session, name)
        user.password_hash = HASHER.hash(_normalized(password))
        user.failed_sign_ins, user.locked_until, user.sessions_valid_after = 0, None, now
        session.commit()


def end_sessions(session: Session, name: str, now: datetime | None = None) -> None:
    """Sign the user out everywhere: every session issued until now is refused."""
    with answering(session):
        _existing_user(session, name).sessions_valid_after = now or utcnow()
        session.commit()


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

def is_locked(user: User, now: datetime) -> bool:
    """Whether the user is locked out after too many failed sign-ins."""
    return user.locked_until is not None and now < _aware(user.locked_until)


def sign_in(session: Session, name: str, password: str, now: datetime) -> User | None:
    """The user, if the name and password are right and the account is not locked; else None.

    An unknown name costs one argon2 verification like a wrong password, so names cannot be told
    by the time the answer takes. MAX_FAILURES wrong passwords in a row lock the account for
    LOCK_TIME; while it is locked every password is refused (and does not count). A success
    resets the count, and remakes the hash if its parameters are not the current ones."""
    if not isinstance(password, str):
        password = ""
    password = _normalized(password)
    with answering(session):
        user = find_user(session, name) if isinstance(name, str) and NAME.fullmatch(name) else None
        right = _verify(user.password_hash if user is not None else DUMMY_HASH, password)
        if user is None:
            return None
        if is_locked(user, now):
            return None
        if not right:
            # counted in the database (x = x + 1), so sign-ins at the same time in other workers all count
            user.failed_sign_ins = User.failed_sign_ins + 1
            session.flush()
            if user.failed_sign_ins >= MAX_FAILURES:
                user.failed_sign_ins, user.locked_until = 0, now + LOCK_TIME
            session.commit()
            return None
        user.failed_sign_ins, user.locked_until, user.last_sign_in = 0, None, now
        if HASHER.check_needs_rehash(user.password_hash):
            user.password_hash = HASHER.hash(password)
        session.commit()
        return user


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
    if user is None or payload["issued"] < _microseconds(_aware(user.sessions_valid_after)):
        return None
    return user


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
