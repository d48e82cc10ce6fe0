"""Verification of the optional `Authorization: Bearer <jwt>` that the SDK sends for signed-in users.

The token is an Amazon Cognito access token (or ID token, by configuration). A valid one
turns into the event's `user_id` (the token's `sub`); an invalid one is refused with an
`InvalidTokenError` whose message is safe to show to the client and whose `reason` is a
stable code for logs and metrics. No header means an anonymous request, which is fine.

One `TokenVerifier` is built per process and shared by every request (and thread): it keeps
the JWKS that `jwt.PyJWKClient` fetched, so a warm verifier does no network I/O.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Final

import jwt

from clickstream.errors import ConfigurationError, InvalidTokenError
from clickstream.settings import AuthSettings

__all__ = ["ALGORITHM", "JWKS_TIMEOUT_S", "LEEWAY_S", "MAX_TOKEN_CHARS", "REFRESH_INTERVAL_S", "TokenVerifier"]

# Cognito signs with RS256 only. Pinning one asymmetric algorithm is what defeats
# `alg: none` and the HS256-with-the-public-key confusion attack.
ALGORITHM: Final = "RS256"
# Cognito's clock and this Lambda's may disagree a little.
LEEWAY_S: Final = 30.0
# An unknown `kid` may mean the pool rotated its keys; refetching more often than this
# would let anyone with random `kid`s make us hammer the JWKS endpoint.
REFRESH_INTERVAL_S: Final = 60.0
# The JWKS is fetched on the request path: a slow endpoint must not hold requests long.
JWKS_TIMEOUT_S: Final = 3.0
# Keys are re-read this often even without an unknown `kid`, so a revoked key drops out.
JWKS_LIFESPAN_S: Final = 3600.0
# Cognito tokens are 1-4 KB; anything far larger is not one, and is refused before parsing.
MAX_TOKEN_CHARS: Final = 8192

_BEARER = re.compile(r"[ \t]*bearer[ \t]+(\S+)[ \t]*", re.IGNORECASE)
# header.payload.signature, base64url without padding (RFC 7515 compact form). An empty
# signature is let through here so that `alg: none` is refused for what it is.
_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")

_TOKEN_USES: Final = ("access", "id")
_REQUIRED_CLAIMS: Final = ("exp", "iat", "iss", "sub", "token_use")


class TokenVerifier:
    """Turns an `Authorization` header into a verified Cognito user id (`sub`), or refuses it.

    Thread-safe; build one per process and reuse it so the keys stay cached.
    `jwks_client` lets a caller bring its own `jwt.PyJWKClient` (proxy headers, TLS context);
    `clock` (monotonic seconds) only paces JWKS refetches, never token expiry.
    """

    def __init__(
        self,
        settings: AuthSettings,
        *,
        jwks_client: jwt.PyJWKClient | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._lock = threading.Lock()
        self._last_refresh: float | None = None
        self._jwks: jwt.PyJWKClient | None = None
        if not settings.enabled:
            return
        _check_settings(settings)
        assert settings.jwks_url is not None  # enabled means it is set
        # cooldown_duration=0: PyJWKClient's own cooldown starts at the *first* fetch, which
        # would refuse a key rotated minutes after start-up; this class paces refetches itself.
        if jwks_client is None:
            try:
                jwks_client = jwt.PyJWKClient(
                    settings.jwks_url,
                    cache_jwk_set=True,
                    lifespan=JWKS_LIFESPAN_S,
                    timeout=JWKS_TIMEOUT_S,
                    cooldown_duration=0,
                )
            except jwt.PyJWKClientError as exc:  # e.g. a file:// URL
                raise ConfigurationError(f"AuthSettings.jwks_url is not usable: {exc}") from exc
        self._jwks = jwks_client

    def user_id(self, authorization: str | None) -> str | None:
        """The verified `sub` of the bearer token, or None when no token was sent.

        Raises `InvalidTokenError` (with a client-safe message and a `reason` code) for a
        header that is present but not a valid token for this pool and app client.
        """
        if authorization is None or not authorization.strip():
            return None
        if self._jwks is None:
            raise InvalidTokenError(
                "this endpoint does not accept bearer tokens (sign-in is not configured)",
                reason="auth_not_configured",
            )
        token = _bearer_token(authorization)
        header = _unverified_header(token)
        key = self._signing_key(header["kid"])
        claims = self._decode(token, key)
        return self._check_claims(claims)

    # -- steps ------------------------------------------------------------------------

    def _signing_key(self, kid: str) -> jwt.PyJWK:
        """The JWKS key named `kid`; refetches the set at most once per REFRESH_INTERVAL_S."""
        assert self._jwks is not None
        try:
            # One lock around lookup and fetch: a cold start with many concurrent requests
            # then fetches the JWKS once instead of once per thread.
            with self._lock:
                key = _find_key(self._jwks.get_signing_keys(), kid)
                if key is None and self._may_refresh():
                    key = _find_key(self._jwks.get_signing_keys(refresh=True), kid)
        except jwt.PyJWKClientConnectionError as exc:
            raise InvalidTokenError(
                "the signing keys could not be fetched to check the token; try again shortly",
                reason="jwks_unavailable",
            ) from exc
        except (jwt.PyJWKClientError, jwt.PyJWKSetError, ValueError, OSError) as exc:
            # The endpoint answered, but not with a usable key set (PyJWKClient lets a body
            # that is not JSON escape as ValueError, a reset mid-read as OSError): a
            # server-side problem that must not become a 5xx.
            raise InvalidTokenError(
                "the signing keys could not be read to check the token; try again shortly",
                reason="jwks_unavailable",
            ) from exc
        if key is None:
            raise InvalidTokenError("the token was signed with a key this service does not know", reason="unknown_key")
        if key.algorithm_name != ALGORITHM:
            # A JWKS entry that is not an RSA signing key must never verify a token.
            raise InvalidTokenError("the token was signed with a key this service does not accept", reason="unknown_key")
        return key

    def _may_refresh(self) -> bool:
        """Claims the right to refetch the JWKS now (caller holds the lock)."""
        now = self._clock()
        if self._last_refresh is not None and now - self._last_refresh < REFRESH_INTERVAL_S:
            return False
        # Counted even if the fetch then fails, so a dead endpoint is not retried per request.
        self._last_refresh = now
        return True

    def _decode(self, token: str, key: jwt.PyJWK) -> dict[str, Any]:
        """Signature, then time and issuer claims, checked by PyJWT with every check explicit."""
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key,
                algorithms=[ALGORITHM],
                issuer=self._settings.issuer,
                leeway=LEEWAY_S,
                options={
                    "verify_signature": True,
                    "verify_exp": True,
                    "verify_nbf": True,
                    "verify_iat": True,
                    "verify_iss": True,
                    # Checked below, after token_use: access tokens carry client_id, not aud.
                    "verify_aud": False,
                    "verify_sub": True,
                    "verify_jti": True,
                    "require": list(_REQUIRED_CLAIMS),
                    "enforce_minimum_key_length": True,
                },
            )
        except jwt.InvalidTokenError as exc:
            raise _refusal(exc) from exc
        return claims

    def _check_claims(self, claims: Mapping[str, Any]) -> str:
        """Cognito-specific checks PyJWT does not know about; returns the `sub`."""
        settings = self._settings
        if claims["token_use"] != settings.token_use:
            raise InvalidTokenError(
                f"the token is not an {'access' if settings.token_use == 'access' else 'ID'} token",
                reason="wrong_token_use",
            )
        if settings.token_use == "access":
            client_id = claims.get("client_id")
            if client_id is None:
                raise InvalidTokenError("the token has no client_id claim", reason="missing_claim")
            if not isinstance(client_id, str) or client_id not in settings.client_ids:
                raise InvalidTokenError("the token was issued to another app client", reason="wrong_client")
        else:
            audience = claims.get("aud")
            if audience is None:
                raise InvalidTokenError("the token has no aud claim", reason="missing_claim")
            audiences = [audience] if isinstance(audience, str) else audience
            if not isinstance(audiences, list) or not any(
                isinstance(aud, str) and aud in settings.client_ids for aud in audiences
            ):
                raise InvalidTokenError("the token was issued to another app client", reason="wrong_client")
        sub = claims["sub"]
        if not sub:  # PyJWT checked it is a string; an empty one names nobody.
            raise InvalidTokenError("the token has an empty sub claim", reason="missing_claim")
        return str(sub)


# -- helpers --------------------------------------------------------------------------


def _check_settings(settings: AuthSettings) -> None:
    """An enabled verifier with no issuer would accept tokens from any pool: fail at start."""
    if not settings.issuer:
        raise ConfigurationError("AuthSettings.issuer is empty: set the Cognito issuer URL (AUTH_ISSUER).")
    if not settings.client_ids:
        raise ConfigurationError("AuthSettings.client_ids is empty: list the accepted app client ids (AUTH_CLIENT_IDS).")
    if settings.token_use not in _TOKEN_USES:
        raise ConfigurationError(f"AuthSettings.token_use must be 'access' or 'id', not {settings.token_use!r}.")


def _bearer_token(authorization: str) -> str:
    """The token of a `Bearer <token>` header, checked for shape and size before any parsing."""
    match = _BEARER.fullmatch(authorization)
    if match is None:
        raise InvalidTokenError(
            "the Authorization header must be 'Bearer <token>'",
            reason="malformed_header",
        )
    token = match.group(1)
    if len(token) > MAX_TOKEN_CHARS:
        raise InvalidTokenError(
            f"the bearer token is longer than {MAX_TOKEN_CHARS} characters",
            reason="malformed_header",
        )
    if _COMPACT_JWS.fullmatch(token) is None:
        raise InvalidTokenError("the bearer token is not a signed JWT", reason="malformed_header")
    return token


def _unverified_header(token: str) -> dict[str, Any]:
    """The JOSE header, read before verification only to pick the algorithm check and key."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError as exc:
        raise InvalidTokenError("the bearer token could not be decoded", reason="malformed_token") from exc
    if header.get("alg") != ALGORITHM:
        raise InvalidTokenError(f"the token must be signed with {ALGORITHM}", reason="unsupported_alg")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise InvalidTokenError("the token header has no key id (kid)", reason="unknown_key")
    return header


def _find_key(keys: list[jwt.PyJWK], kid: str) -> jwt.PyJWK | None:
    for key in keys:
        if key.key_id == kid:
            return key
    return None


def _refusal(exc: jwt.InvalidTokenError) -> InvalidTokenError:
    """PyJWT's exception, as a client-safe message and a reason code (most specific first)."""
    if isinstance(exc, jwt.ExpiredSignatureError):
        return InvalidTokenError("the token has expired", reason="expired")
    if isinstance(exc, jwt.ImmatureSignatureError):
        return InvalidTokenError("the token is not valid yet (nbf or iat is in the future)", reason="not_yet_valid")
    if isinstance(exc, jwt.InvalidSignatureError):
        return InvalidTokenError("the token signature is not valid", reason="bad_signature")
    if isinstance(exc, jwt.InvalidAlgorithmError):
        return InvalidTokenError(f"the token must be signed with {ALGORITHM}", reason="unsupported_alg")
    if isinstance(exc, jwt.InvalidIssuerError):
        return InvalidTokenError("the token was issued by another identity provider", reason="wrong_issuer")
    if isinstance(exc, jwt.MissingRequiredClaimError):
        # The claim name is ours (from _REQUIRED_CLAIMS), not text from the token.
        return InvalidTokenError(f"the token has no {exc.claim} claim", reason="missing_claim")
    if isinstance(exc, jwt.InvalidKeyError):
        return InvalidTokenError("the token was signed with a key this service does not accept", reason="unknown_key")
    # DecodeError and claim-type errors (InvalidIssuedAtError, InvalidSubjectError, ...).
    return InvalidTokenError("the bearer token is malformed", reason="malformed_token")
