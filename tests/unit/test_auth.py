"""TokenVerifier against real RS256 tokens and a real JWKS served over HTTP on 127.0.0.1.

Two RSA key pairs are made here: "key-a" is published in the JWKS, "key-b" is published
only when a test rotates keys, and otherwise signs forgeries.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from clickstream.errors import ConfigurationError, InvalidTokenError
from clickstream.ingest.auth import MAX_TOKEN_CHARS, REFRESH_INTERVAL_S, TokenVerifier
from clickstream.settings import AuthSettings

REGION = "eu-west-1"
POOL_ID = f"{REGION}_TestPool1"
ISSUER = f"https://cognito-idp.{REGION}.amazonaws.com/{POOL_ID}"
CLIENT_ID = "shopwebclient0000000000001"
OTHER_CLIENT_ID = "someotherclient00000000002"
JWKS_PATH = f"/{POOL_ID}/.well-known/jwks.json"


# -- keys, tokens and a JWKS server ---------------------------------------------------


@dataclass(frozen=True)
class KeyPair:
    kid: str
    private: rsa.RSAPrivateKey

    @property
    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    @property
    def jwk(self) -> dict[str, Any]:
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.private.public_key()))
        return {**public, "kid": self.kid, "alg": "RS256", "use": "sig"}


@pytest.fixture(scope="module")
def key_a() -> KeyPair:
    return KeyPair("key-a", rsa.generate_private_key(public_exponent=65537, key_size=2048))


@pytest.fixture(scope="module")
def key_b() -> KeyPair:
    return KeyPair("key-b", rsa.generate_private_key(public_exponent=65537, key_size=2048))


@dataclass
class JwksServer:
    """A JWKS endpoint the tests can rotate, break, and count requests on."""

    url: str
    keys: list[dict[str, Any]]
    body: bytes | None = None  # when set, served instead of the key set (a broken endpoint)
    status: int = 200
    fetches: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def document(self) -> tuple[int, bytes]:
        with self.lock:
            self.fetches += 1
            return self.status, self.body if self.body is not None else json.dumps({"keys": self.keys}).encode()


@dataclass
class _Current:
    state: JwksServer | None = None


@pytest.fixture(scope="module")
def _jwks_http() -> Iterator[tuple[str, _Current]]:
    """One real HTTP server for the module; each test gets its own JwksServer state."""
    current = _Current()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state = current.state
            if state is None or self.path != JWKS_PATH:
                self.send_error(404)
                return
            status, body = state.document()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}{JWKS_PATH}", current
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def jwks_server(_jwks_http: tuple[str, _Current], key_a: KeyPair) -> Iterator[JwksServer]:
    url, current = _jwks_http
    current.state = JwksServer(url=url, keys=[key_a.jwk])
    try:
        yield current.state
    finally:
        current.state = None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def settings_for(url: str, *, token_use: str = "access") -> AuthSettings:
    return AuthSettings(jwks_url=url, issuer=ISSUER, client_ids=(CLIENT_ID,), token_use=token_use)


class FakeClock:
    """Monotonic seconds the test moves by hand; only paces JWKS refetches."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def verifier(jwks_server: JwksServer, clock: FakeClock) -> TokenVerifier:
    return TokenVerifier(settings_for(jwks_server.url), clock=clock)


SUB = str(uuid.uuid4())


def claims(token_use: str = "access", **overrides: Any) -> dict[str, Any]:
    """Cognito-shaped claims; an override of None removes the claim."""
    now = int(time.time())
    base: dict[str, Any] = {
        "sub": SUB,
        "iss": ISSUER,
        "token_use": token_use,
        "iat": now,
        "auth_time": now,
        "exp": now + 3600,
        "jti": str(uuid.uuid4()),
    }
    if token_use == "access":
        base |= {"client_id": CLIENT_ID, "username": "alice", "scope": "aws.cognito.signin.user.admin"}
    else:
        base |= {"aud": CLIENT_ID, "cognito:username": "alice", "email": "alice@example.com"}
    base |= overrides
    return {name: value for name, value in base.items() if value is not None}


def sign(key: KeyPair, payload: dict[str, Any], *, kid: str | None = None) -> str:
    return jwt.encode(payload, key.private, algorithm="RS256", headers={"kid": kid or key.kid})


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def bearer(token: str) -> str:
    return f"Bearer {token}"


def refused(verifier: TokenVerifier, authorization: str) -> InvalidTokenError:
    with pytest.raises(InvalidTokenError) as caught:
        verifier.user_id(authorization)
    return caught.value


# -- the happy paths ------------------------------------------------------------------


def test_valid_access_token_gives_its_sub(verifier: TokenVerifier, key_a: KeyPair) -> None:
    # GIVEN an access token signed by the pool's published key for our app client
    token = sign(key_a, claims())
    # WHEN it is verified
    user_id = verifier.user_id(bearer(token))
    # THEN the user id is the token's sub
    assert user_id == SUB


def test_scheme_is_case_insensitive_and_surrounding_space_is_ignored(verifier: TokenVerifier, key_a: KeyPair) -> None:
    # GIVEN a header written as some HTTP clients do (RFC 7235: the scheme is case-insensitive)
    authorization = f"  bearer   {sign(key_a, claims())} "
    # WHEN / THEN it is accepted
    assert verifier.user_id(authorization) == SUB


@pytest.mark.parametrize("authorization", [None, "", "   "])
def test_no_header_means_anonymous(verifier: TokenVerifier, jwks_server: JwksServer, authorization: str | None) -> None:
    # GIVEN a request without a token
    # WHEN it is checked
    user_id = verifier.user_id(authorization)
    # THEN it is anonymous, and no keys were fetched for it
    assert user_id is None
    assert jwks_server.fetches == 0


def test_keys_are_fetched_once_and_reused(verifier: TokenVerifier, jwks_server: JwksServer, key_a: KeyPair) -> None:
    # GIVEN a verifier that has verified one token
    verifier.user_id(bearer(sign(key_a, claims())))
    # WHEN fifty more arrive
    for _ in range(50):
        verifier.user_id(bearer(sign(key_a, claims())))
    # THEN the JWKS was fetched only once
    assert jwks_server.fetches == 1


def test_concurrent_cold_start_fetches_the_keys_once(jwks_server: JwksServer, key_a: KeyPair) -> None:
    # GIVEN a fresh verifier shared by 16 threads
    verifier = TokenVerifier(settings_for(jwks_server.url))
    token = bearer(sign(key_a, claims()))
    barrier = threading.Barrier(16)
    results: list[str | None] = []

    def verify() -> None:
        barrier.wait()
        results.append(verifier.user_id(token))

    # WHEN they all verify a token at the same moment
    threads = [threading.Thread(target=verify) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    # THEN every thread gets the sub and the JWKS was fetched once
    assert results == [SUB] * 16
    assert jwks_server.fetches == 1


def test_valid_id_token_when_id_tokens_are_configured(jwks_server: JwksServer, key_a: KeyPair) -> None:
    # GIVEN a verifier configured for ID tokens
    verifier = TokenVerifier(settings_for(jwks_server.url, token_use="id"))
    # WHEN an ID token for our client arrives
    # THEN its sub is the user id
    assert verifier.user_id(bearer(sign(key_a, claims("id")))) == SUB


def test_small_clock_skew_is_tolerated(verifier: TokenVerifier, key_a: KeyPair) -> None:
    # GIVEN a token that expired 10 s ago and was issued 10 s "in the future" (skewed clocks)
    now = int(time.time())
    token = sign(key_a, claims(exp=now - 10, iat=now + 10, nbf=now + 10))
    # WHEN / THEN it is still inside the 30 s leeway
    assert verifier.user_id(bearer(token)) == SUB


# -- algorithm attacks ----------------------------------------------------------------


def test_alg_none_is_refused(verifier: TokenVerifier) -> None:
    # GIVEN an unsigned token that names a known key
    header = b64url(json.dumps({"alg": "none", "typ": "JWT", "kid": "key-a"}).encode())
    payload = b64url(json.dumps(claims()).encode())
    # WHEN it is sent with an empty or a made-up signature
    # THEN both are refused for their algorithm
    for token in (f"{header}.{payload}.", f"{header}.{payload}.{b64url(b'x' * 32)}"):
        assert refused(verifier, bearer(token)).reason == "unsupported_alg"


def test_hs256_signed_with_the_public_key_is_refused(verifier: TokenVerifier, key_a: KeyPair) -> None:
    # GIVEN the classic confusion attack: HS256 with the published RSA public key as HMAC secret
    # (built by hand: PyJWT itself refuses to make one)
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT", "kid": key_a.kid}).encode())
    payload = b64url(json.dumps(claims()).encode())
    signing_input = f"{header}.{payload}".encode()
    for secret in (key_a.public_pem, json.dumps(key_a.jwk).encode()):
        signature = b64url(hmac.new(secret, signing_input, hashlib.sha256).digest())
        # WHEN it is verified
        error = refused(verifier, bearer(f"{header}.{payload}.{signature}"))
        # THEN it is refused before any key is used
        assert error.reason == "unsupported_alg"


@pytest.mark.parametrize("alg", ["HS256", "RS512", "PS256", "ES256"])
def test_other_algorithms_are_refused(verifier: TokenVerifier, alg: str) -> None:
    # GIVEN a token whose header names any algorithm but RS256
    header = b64url(json.dumps({"alg": alg, "kid": "key-a"}).encode())
    token = f"{header}.{b64url(json.dumps(claims()).encode())}.{b64url(b'sig')}"
    # WHEN / THEN it is refused for its algorithm
    assert refused(verifier, bearer(token)).reason == "unsupported_alg"


# -- signature and keys ---------------------------------------------------------------


def test_token_signed_by_another_key_under_a_known_kid_is_refused(
    verifier: TokenVerifier, key_b: KeyPair
) -> None:
    # GIVEN a forgery: signed by key-b but claiming to be key-a
    token = sign(key_b, claims(), kid="key-a")
    # WHEN / THEN the signature does not verify
    assert refused(verifier, bearer(token)).reason == "bad_signature"


def test_tampered_payload_is_refused(verifier: TokenVerifier, key_a: KeyPair) -> None:
    # GIVEN a valid token whose payload is swapped for another user's
    header, _, signature = sign(key_a, claims()).split(".")
    payload = b64url(json.dumps(claims(sub="someone-else")).encode())
    # WHEN / THEN the signature no longer matches
    assert refused(verifier, bearer(f"{header}.{payload}.{signature}")).reason == "bad_signature"


def test_unknown_kid_refetches_once_then_refuses(
    verifier: TokenVerifier, jwks_server: JwksServer, key_a: KeyPair, key_b: KeyPair, clock: FakeClock
) -> None:
    # GIVEN a warm verifier (one fetch) and a token naming a key the pool never published
    assert verifier.user_id(bearer(sign(key_a, claims()))) == SUB
    assert jwks_server.fetches == 1
    # WHEN it arrives
    error = refused(verifier, bearer(sign(key_b, claims(), kid="no-such-key")))
    # THEN the JWKS was refetched once, and the token refused
    assert error.reason == "unknown_key"
    assert jwks_server.fetches == 2
    # WHEN more unknown kids arrive within the refresh interval
    clock.now += REFRESH_INTERVAL_S - 1
    for n in range(20):
        assert refused(verifier, bearer(sign(key_b, claims(), kid=f"random-{n}"))).reason == "unknown_key"
    # THEN they cause no more fetches (nobody can make us hammer the endpoint)
    assert jwks_server.fetches == 2
    # WHEN the interval has passed
    clock.now += 2
    refused(verifier, bearer(sign(key_b, claims(), kid="another")))
    # THEN one more refetch is allowed
    assert jwks_server.fetches == 3


def test_key_rotation_is_picked_up_by_one_refetch(
    verifier: TokenVerifier, jwks_server: JwksServer, key_a: KeyPair, key_b: KeyPair
) -> None:
    # GIVEN a warm verifier that knows only key-a
    assert verifier.user_id(bearer(sign(key_a, claims()))) == SUB
    # WHEN the pool publishes key-b and starts signing with it
    jwks_server.keys = [key_a.jwk, key_b.jwk]
    user_id = verifier.user_id(bearer(sign(key_b, claims())))
    # THEN the new key was fetched once and the token accepted; both keys now work from cache
    assert user_id == SUB
    assert jwks_server.fetches == 2
    assert verifier.user_id(bearer(sign(key_a, claims()))) == SUB
    assert verifier.user_id(bearer(sign(key_b, claims()))) == SUB
    assert jwks_server.fetches == 2


def test_token_without_kid_is_refused(verifier: TokenVerifier, key_a: KeyPair) -> None:
    # GIVEN an RS256 token with no kid in its header
    token = jwt.encode(claims(), key_a.private, algorithm="RS256")
    # WHEN / THEN there is no key to check it with
    assert refused(verifier, bearer(token)).reason == "unknown_key"


def test_symmetric_key_in_the_jwks_never_verifies(
    verifier: TokenVerifier, jwks_server: JwksServer, key_a: KeyPair
) -> None:
    # GIVEN a JWKS that (wrongly) also publishes an HMAC key, and an RS256-labelled token naming it
    jwks_server.keys = [key_a.jwk, {"kty": "oct", "kid": "hmac", "k": b64url(b"s" * 32)}]
    token = sign(key_a, claims(), kid="hmac")
    # WHEN / THEN that key is not accepted for RS256
    assert refused(verifier, bearer(token)).reason == "unknown_key"


# -- claims ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "issuer",
    [
        f"https://cognito-idp.{REGION}.amazonaws.com/{REGION}_OtherPool",
        f"{ISSUER}/",
        ISSUER.upper(),
        f"https://cognito-idp.us-east-1.amazonaws.com/{POOL_ID}",
    ],
)
def test_wrong_issuer_is_refused(verifier: TokenVerifier, key_a: KeyPair, issuer: str) -> None:
    # GIVEN a correctly signed token whose iss is not exactly our pool's
    token = sign(key_a, claims(iss=issuer))
    # WHEN / THEN it is refused
    assert refused(verifier, bearer(token)).reason == "wrong_issuer"


def test_wrong_client_id_is_refused(verifier: TokenVerifier, key_a: KeyPair) -> None:
    # GIVEN an access token issued to another app client of the same pool
    token = sign(key_a, claims(client_id=OTHER_CLIENT_ID))
    # WHEN / THEN it is refused
    assert refused(verifier, bearer(token)).reason == "wrong_client"


def test_any_configured_client_is_accepted(jwks_server: JwksServer, key_a: KeyPair) -> None:
    # GIVEN a verifier that accepts two app clients
    settings = AuthSettings(
        jwks_url=jwks_server.url, issuer=ISSUER, client_ids=(CLIENT_ID, OTHER_CLIENT_ID), token_use="access"
    )
    verifier = TokenVerifier(settings)
    # WHEN / THEN tokens of either are accepted
    assert verifier.user_id(bearer(sign(key_a, claims(client_id=OTHER_CLIENT_ID)))) == SUB
    assert verifier.user_id(bearer(sign(key_a, claims(client_id=CLIENT_ID)))) == SUB


def test_id_token_is_refused_where_access_tokens_are_expected(verifier: TokenVerifier, key_a: KeyPair) -> None:
    # GIVEN an ID token (aud instead of client_id) sent to a verifier that wants access tokens
    token = sign(key_a, claims("id"))
    # WHEN / THEN it is refused for its use
    assert refused(verifier, bearer(token)).reason == "wrong_token_use"


def test_access_token_is_refused_where_id_tokens_are_expected(jwks_server: JwksServer, key_a: KeyPair) -> None:
    # GIVEN a verifier that wants ID tokens
    verifier = TokenVerifier(settings_for(jwks_server.url, token_use="id"))
    # WHEN an access token arrives
    # THEN it is refused for its use
    assert refused(verifier, bearer(sign(key_a, claims()))).reason == "wrong_token_use"


@pytest.mark.parametrize("audience", [OTHER_CLIENT_ID, [OTHER_CLIENT_ID], []])
def test_id_token_for_another_audience_is_refused(jwks_server: JwksServer, key_a: KeyPair, audience: Any) -> None:
    # GIVEN a verifier that wants ID tokens, and an ID token issued to another app client
    verifier = TokenVerifier(settings_for(jwks_server.url, token_use="id"))
    token = sign(key_a, claims("id", aud=audience))
    # WHEN / THEN the aud check refuses it
    assert refused(verifier, bearer(token)).reason == "wrong_client"


def test_expired_token_is_refused(verifier: TokenVerifier, key_a: KeyPair) -> None:
    # GIVEN a token that expired two minutes ago (beyond the 30 s leeway)
    now = int(time.time())
    token = sign(key_a, claims(iat=now - 3720, exp=now - 120))
    # WHEN / THEN it is refused as expired
    error = refused(verifier, bearer(token))
    assert error.reason == "expired"
    assert "expired" in str(error)


def test_token_not_valid_yet_is_refused(verifier: TokenVerifier, key_a: KeyPair) -> None:
    # GIVEN tokens whose nbf, or iat, is five minutes in the future
    now = int(time.time())
    for token in (sign(key_a, claims(nbf=now + 300)), sign(key_a, claims(iat=now + 300))):
        # WHEN / THEN they are refused as not yet valid
        assert refused(verifier, bearer(token)).reason == "not_yet_valid"


@pytest.mark.parametrize("claim", ["sub", "exp", "iat", "iss", "token_use", "client_id"])
def test_missing_required_claim_is_refused(verifier: TokenVerifier, key_a: KeyPair, claim: str) -> None:
    # GIVEN a correctly signed token without one required claim
    token = sign(key_a, claims(**{claim: None}))
    # WHEN / THEN it is refused, naming the claim
    error = refused(verifier, bearer(token))
    assert error.reason == "missing_claim"
    assert claim in str(error)


def test_empty_sub_is_refused(verifier: TokenVerifier, key_a: KeyPair) -> None:
    # GIVEN a token whose sub names nobody
    # WHEN / THEN it is refused
    assert refused(verifier, bearer(sign(key_a, claims(sub="")))).reason == "missing_claim"


@pytest.mark.parametrize("overrides", [{"exp": "tomorrow"}, {"sub": 42}, {"iat": "now"}])
def test_claims_of_the_wrong_type_are_refused(verifier: TokenVerifier, key_a: KeyPair, overrides: dict[str, Any]) -> None:
    # GIVEN a correctly signed token with a claim of the wrong JSON type
    token = sign(key_a, claims(**overrides))
    # WHEN / THEN it is refused as malformed
    assert refused(verifier, bearer(token)).reason == "malformed_token"


# -- malformed headers ----------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [
        "Basic YWxpY2U6c2VjcmV0",
        "Basic abc",
        "Bearer",
        "Bearer ",
        "Bearer a.b",
        "Bearer a",
        "Bearer a.b.c.d",
        "Bearer !!!.???.###",
        "Bearer a.b.c extra",
        "Token abc.def.ghi",
        "garbage",
        "\x00\x01\x02",
        "Bearer " + "A" * 10_000 + ".e30.sig",
        "Bearer " + "a.b.c" * 2000,
    ],
)
def test_malformed_authorization_headers_are_refused(
    verifier: TokenVerifier, jwks_server: JwksServer, authorization: str
) -> None:
    # GIVEN an Authorization header that is not "Bearer <compact JWS>" of a sane size
    # WHEN it is checked
    error = refused(verifier, authorization)
    # THEN it is refused for its shape, without touching the network
    assert error.reason == "malformed_header"
    assert jwks_server.fetches == 0


def test_ten_kilobyte_token_is_refused_before_decoding(verifier: TokenVerifier, key_a: KeyPair) -> None:
    # GIVEN an otherwise valid token padded with 10 KB of claims
    token = sign(key_a, claims(padding="x" * 10_000))
    assert len(token) > MAX_TOKEN_CHARS
    # WHEN / THEN it is refused for its size
    assert refused(verifier, bearer(token)).reason == "malformed_header"


@pytest.mark.parametrize(
    "token",
    [
        "a.b.c",
        f"{b64url(b'not json')}.{b64url(b'{}')}.{b64url(b'sig')}",
        f"{b64url(b'[1, 2]')}.{b64url(b'{}')}.{b64url(b'sig')}",
    ],
)
def test_undecodable_token_is_refused(verifier: TokenVerifier, token: str) -> None:
    # GIVEN something shaped like a JWT whose header is not a JSON object
    # WHEN / THEN it is refused as malformed
    assert refused(verifier, bearer(token)).reason == "malformed_token"


def test_payload_that_is_not_json_is_refused(verifier: TokenVerifier, key_a: KeyPair) -> None:
    # GIVEN a validly signed token whose payload is not a JSON object
    header = b64url(json.dumps({"alg": "RS256", "kid": key_a.kid}).encode())
    payload = b64url(b"not json")
    signing_input = f"{header}.{payload}".encode()
    signature = jwt.algorithms.RSAAlgorithm(jwt.algorithms.RSAAlgorithm.SHA256).sign(signing_input, key_a.private)
    # WHEN / THEN it is refused as malformed
    assert refused(verifier, bearer(f"{header}.{payload}.{b64url(signature)}")).reason == "malformed_token"


# -- configuration and the JWKS endpoint ----------------------------------------------


def test_token_sent_while_auth_is_not_configured_is_refused(key_a: KeyPair) -> None:
    # GIVEN a deployment without sign-in (no JWKS URL)
    verifier = TokenVerifier(AuthSettings())
    # WHEN a request carries a token anyway
    error = refused(verifier, bearer(sign(key_a, claims())))
    # THEN it is refused (a user id we cannot check must not be stored), while no token is fine
    assert error.reason == "auth_not_configured"
    assert verifier.user_id(None) is None


@pytest.mark.parametrize(
    "settings",
    [
        AuthSettings(jwks_url="http://127.0.0.1:9/jwks.json", issuer=None, client_ids=(CLIENT_ID,)),
        AuthSettings(jwks_url="http://127.0.0.1:9/jwks.json", issuer=ISSUER, client_ids=()),
        AuthSettings(jwks_url="http://127.0.0.1:9/jwks.json", issuer=ISSUER, client_ids=(CLIENT_ID,), token_use="refresh"),
        AuthSettings(jwks_url="file:///etc/passwd", issuer=ISSUER, client_ids=(CLIENT_ID,)),
    ],
)
def test_incomplete_settings_fail_at_start(settings: AuthSettings) -> None:
    # GIVEN auth settings that would accept tokens of any pool or client, or read a local file
    # WHEN / THEN building the verifier fails at start
    with pytest.raises(ConfigurationError):
        TokenVerifier(settings)


def test_jwks_server_down_is_reported_as_unavailable(key_a: KeyPair) -> None:
    # GIVEN a JWKS URL where nothing listens
    verifier = TokenVerifier(settings_for(f"http://127.0.0.1:{free_port()}{JWKS_PATH}"))
    # WHEN a token arrives
    error = refused(verifier, bearer(sign(key_a, claims())))
    # THEN the refusal says the keys were unavailable (not that the token is bad)
    assert error.reason == "jwks_unavailable"


@pytest.mark.parametrize(("status", "body"), [(500, b'{"message": "boom"}'), (200, b"<html>not json</html>"), (200, b"[]"), (200, b'{"keys": []}')])
def test_broken_jwks_endpoint_is_reported_as_unavailable(
    verifier: TokenVerifier, jwks_server: JwksServer, key_a: KeyPair, status: int, body: bytes
) -> None:
    # GIVEN a JWKS endpoint that answers with an error or with something that is not a key set
    jwks_server.status, jwks_server.body = status, body
    # WHEN a token arrives
    # THEN it is refused as jwks_unavailable (never an unexpected exception)
    assert refused(verifier, bearer(sign(key_a, claims()))).reason == "jwks_unavailable"


def test_cached_keys_keep_working_while_the_endpoint_is_down(
    verifier: TokenVerifier, jwks_server: JwksServer, key_a: KeyPair, key_b: KeyPair
) -> None:
    # GIVEN a warm verifier, then the JWKS endpoint starts failing
    assert verifier.user_id(bearer(sign(key_a, claims()))) == SUB
    jwks_server.status, jwks_server.body = 503, b"unavailable"
    # WHEN tokens signed by the cached key arrive
    # THEN they are still accepted
    assert verifier.user_id(bearer(sign(key_a, claims()))) == SUB
    # AND a token with an unknown kid, which needs a refetch, is refused as unavailable
    assert refused(verifier, bearer(sign(key_b, claims()))).reason == "jwks_unavailable"


def test_messages_do_not_echo_the_token(verifier: TokenVerifier, key_a: KeyPair) -> None:
    # GIVEN refused tokens carrying attacker-chosen text
    marker = "<script>alert(1)</script>"
    tokens: list[Callable[[], str]] = [
        lambda: sign(key_a, claims(iss=marker)),
        lambda: sign(key_a, claims(client_id=marker)),
        lambda: sign(key_a, claims(token_use=marker)),
        lambda: sign(key_a, claims(), kid=marker),
    ]
    for make in tokens:
        # WHEN they are refused
        error = refused(verifier, bearer(make()))
        # THEN the client-facing message does not repeat what the token said
        assert marker not in str(error)
