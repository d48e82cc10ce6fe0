"""TokenVerifier against real tokens from moto's Cognito IdP, over moto's HTTP server.

moto signs RS256 tokens with one fixed key (`kid` "dummy"), publishes it at
`<endpoint>/<pool_id>/.well-known/jwks.json`, and writes AWS's real issuer URL into
`iss`: exactly the split between JWKS URL and issuer that AuthSettings has.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
from moto.server import ThreadedMotoServer

from clickstream.aws import AwsClients
from clickstream.errors import InvalidTokenError
from clickstream.ingest.auth import TokenVerifier
from clickstream.settings import AuthSettings, AwsSettings

REGION = "eu-west-1"
PASSWORD = "Correct-Horse-9-Battery!"


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    # Port 0: the OS picks a free port, so parallel runs never collide.
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """Dummy credentials, and nothing from the developer's own AWS configuration."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_REGION", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)


@dataclass(frozen=True)
class SignedInUser:
    pool_id: str
    client_id: str
    other_client_id: str
    sub: str
    access_token: str
    id_token: str


@pytest.fixture
def signed_in(moto_endpoint: str, aws_env: None) -> SignedInUser:
    """A user pool, an app client allowing USER_PASSWORD_AUTH, a confirmed user, signed in."""
    cognito = AwsClients(AwsSettings(region=REGION, endpoint_url=moto_endpoint)).client("cognito-idp")
    pool_id = cognito.create_user_pool(PoolName=f"shop-{uuid.uuid4().hex[:8]}")["UserPool"]["Id"]
    client_id, other_client_id = (
        cognito.create_user_pool_client(
            UserPoolId=pool_id,
            ClientName=name,
            ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        )["UserPoolClient"]["ClientId"]
        for name in ("shop-web", "back-office")
    )
    cognito.admin_create_user(
        UserPoolId=pool_id,
        Username="alice",
        TemporaryPassword="Temporary-Pass-1!",
        UserAttributes=[{"Name": "email", "Value": "alice@example.com"}],
        MessageAction="SUPPRESS",
    )
    cognito.admin_set_user_password(UserPoolId=pool_id, Username="alice", Password=PASSWORD, Permanent=True)
    attributes = cognito.admin_get_user(UserPoolId=pool_id, Username="alice")["UserAttributes"]
    sub = next(attribute["Value"] for attribute in attributes if attribute["Name"] == "sub")
    tokens = cognito.initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "alice", "PASSWORD": PASSWORD},
    )["AuthenticationResult"]
    return SignedInUser(pool_id, client_id, other_client_id, sub, tokens["AccessToken"], tokens["IdToken"])


def auth_settings(endpoint: str, user: SignedInUser, *, token_use: str = "access", client_id: str | None = None) -> AuthSettings:
    return AuthSettings(
        jwks_url=f"{endpoint}/{user.pool_id}/.well-known/jwks.json",
        # The issuer Cognito documents (and moto copies): not the endpoint the keys come from.
        issuer=f"https://cognito-idp.{REGION}.amazonaws.com/{user.pool_id}",
        client_ids=(client_id or user.client_id,),
        token_use=token_use,
    )


def test_moto_tokens_have_the_shape_the_verifier_expects(moto_endpoint: str, signed_in: SignedInUser) -> None:
    # GIVEN tokens from moto's Cognito
    # WHEN their unverified header and claims are read
    header = jwt.get_unverified_header(signed_in.access_token)
    access: dict[str, Any] = jwt.decode(signed_in.access_token, options={"verify_signature": False})
    # THEN they match the documented Cognito format the settings are built from
    assert (header["alg"], header["kid"]) == ("RS256", "dummy")
    assert access["iss"] == auth_settings(moto_endpoint, signed_in).issuer
    assert access["token_use"] == "access"
    assert access["client_id"] == signed_in.client_id
    assert access["sub"] == signed_in.sub


def test_real_access_token_gives_the_users_sub(moto_endpoint: str, signed_in: SignedInUser) -> None:
    # GIVEN a verifier reading the pool's JWKS from moto and expecting the AWS issuer
    verifier = TokenVerifier(auth_settings(moto_endpoint, signed_in))
    # WHEN the access token of the signed-in user arrives
    user_id = verifier.user_id(f"Bearer {signed_in.access_token}")
    # THEN it verifies, and the user id is the user's Cognito sub
    assert user_id == signed_in.sub


def test_real_id_token_is_refused_where_access_tokens_are_expected(
    moto_endpoint: str, signed_in: SignedInUser
) -> None:
    # GIVEN a verifier for access tokens
    verifier = TokenVerifier(auth_settings(moto_endpoint, signed_in))
    # WHEN the user's ID token is sent instead
    with pytest.raises(InvalidTokenError) as caught:
        verifier.user_id(f"Bearer {signed_in.id_token}")
    # THEN it is refused for its use
    assert caught.value.reason == "wrong_token_use"


def test_real_id_token_is_accepted_where_id_tokens_are_expected(moto_endpoint: str, signed_in: SignedInUser) -> None:
    # GIVEN a verifier configured for ID tokens of our app client
    verifier = TokenVerifier(auth_settings(moto_endpoint, signed_in, token_use="id"))
    # WHEN the ID token arrives  THEN its aud matches and the sub is returned
    assert verifier.user_id(f"Bearer {signed_in.id_token}") == signed_in.sub


def test_real_access_token_of_another_app_client_is_refused(moto_endpoint: str, signed_in: SignedInUser) -> None:
    # GIVEN a verifier that only accepts the back-office client
    verifier = TokenVerifier(auth_settings(moto_endpoint, signed_in, client_id=signed_in.other_client_id))
    # WHEN the shop's access token arrives
    with pytest.raises(InvalidTokenError) as caught:
        verifier.user_id(f"Bearer {signed_in.access_token}")
    # THEN it is refused for its client
    assert caught.value.reason == "wrong_client"


def test_real_access_token_of_another_pool_is_refused(moto_endpoint: str, signed_in: SignedInUser) -> None:
    # GIVEN a verifier that expects another pool's issuer (moto signs every pool with one key,
    # so only the iss check tells the pools apart here, as it must on AWS too)
    settings = auth_settings(moto_endpoint, signed_in)
    other_pool = AuthSettings(
        jwks_url=settings.jwks_url,
        issuer=f"https://cognito-idp.{REGION}.amazonaws.com/{REGION}_SomeOtherPool",
        client_ids=settings.client_ids,
        token_use="access",
    )
    # WHEN the access token arrives
    with pytest.raises(InvalidTokenError) as caught:
        TokenVerifier(other_pool).user_id(f"Bearer {signed_in.access_token}")
    # THEN it is refused for its issuer
    assert caught.value.reason == "wrong_issuer"
