"""A test SMART authorization server in front of the real FHIR test server (tests only).

It plays the EHR's part of SMART App Launch 2.2 for end-to-end tests, and checks what a real one
checks:

- ``GET {base}/fhir/.well-known/smart-configuration``: endpoints and capabilities.
- ``GET {base}/authorize``: known client, exact registered ``redirect_uri``, ``response_type=code``,
  PKCE ``S256``, ``aud`` equal to the FHIR base, a known ``launch`` (EHR) or ``launch/patient``
  (standalone); auto-approves for the launch's patient and redirects with ``code`` and ``state``.
  ``POST {base}/authorize`` (form-encoded) does the same when ``authorize_post`` is set, which
  also advertises the ``authorize-post`` capability; otherwise it answers 405.
- ``POST {base}/token``: client authentication (public, ``client_secret_basic``, or
  ``private_key_jwt`` verified against the client's JWKS URL, with ``aud``, ``exp`` and single-use
  ``jti``), single-use codes, the same ``redirect_uri``, the PKCE verifier; issues signed access
  tokens (JWT, RS256), id_tokens with the nonce, and rotating refresh tokens.
- ``GET {base}/jwks``: its public keys.
- ``GET {base}/fhir/metadata``: a CapabilityStatement with the SMART 1.0 ``oauth-uris``
  extension. With ``metadata_only`` set, the smart-configuration document answers 404, so the
  app can only find the endpoints here (a server that publishes no issuer or JWKS URL).
- ``{base}/fhir/...``: a proxy to the real FHIR server that accepts only its own unexpired access
  tokens and answers 403 for a resource type the token was not granted.

Knobs on :class:`SmartServerState` let tests expire tokens, refuse refreshes or narrow grants.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@dataclass
class RegisteredClient:
    """One registered client."""

    client_id: str
    redirect_uri: str
    auth_method: str = "none"  # none | client_secret_basic | private_key_jwt
    secret: str | None = None
    jwks_url: str | None = None


@dataclass
class SmartServerState:
    """Configuration and what happened, for assertions.

    Attributes:
        fhir_upstream: The real FHIR server base.
        fhir_token: Its static bearer token.
        clients: Registered clients by id.
        launches: EHR ``launch`` values -> patient id.
        standalone_patient: The patient a standalone launch gets.
        user: The fhirUser reference.
        access_ttl: Access token lifetime in seconds.
        refresh_fails: Refuse every refresh (``invalid_grant``).
        revoked: Access tokens the FHIR proxy refuses (401) although unexpired.
        drop_types: Resource types removed from the granted scope.
        authorize_post: Advertise ``authorize-post`` and accept POST at ``/authorize``.
        authorize_methods: The HTTP method of each authorization request received.
        metadata_only: Publish no smart-configuration document, only ``/fhir/metadata``.
        refresh_hold: Seconds a refresh request waits before its refresh token is used, so
            that two instances can be made to refresh at once.
        refusal_delay: Seconds a refused refresh waits before answering.
        issued_access_tokens / issued_refresh_tokens / issued_id_tokens: Every token issued.
        base: This server's base URL (set when it starts).
    """

    fhir_upstream: str
    fhir_token: str
    clients: dict[str, RegisteredClient] = field(default_factory=dict)
    launches: dict[str, str] = field(default_factory=dict)
    standalone_patient: str | None = None
    user: str = "Practitioner/test-clinician"
    access_ttl: int = 3600
    refresh_fails: bool = False
    revoked: set[str] = field(default_factory=set)
    drop_types: set[str] = field(default_factory=set)
    authorize_post: bool = False
    authorize_methods: list[str] = field(default_factory=list)
    metadata_only: bool = False
    refresh_hold: float = 0.0
    refusal_delay: float = 0.0
    base: str = ""
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    refresh_tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    used_jti: set[str] = field(default_factory=set)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    fhir_requests: list[str] = field(default_factory=list)
    issued_access_tokens: list[str] = field(default_factory=list)
    issued_refresh_tokens: list[str] = field(default_factory=list)
    issued_id_tokens: list[str] = field(default_factory=list)
    key: RSAKey = field(
        default_factory=lambda: RSAKey.generate_key(2048, parameters={"kid": "as1"})
    )

    @property
    def fhir_base(self) -> str:
        return f"{self.base}/fhir"


def _oauth_error(error: str, description: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


def _granted(state: SmartServerState, scope: str) -> str:
    kept = []
    for token in scope.split():
        resource = token.partition("/")[2].partition(".")[0]
        if "/" in token and resource in state.drop_types:
            continue
        kept.append(token)
    return " ".join(kept)


def _sign(state: SmartServerState, claims: dict[str, Any]) -> str:
    return jwt.encode({"alg": "RS256", "kid": "as1"}, claims, state.key, algorithms=["RS256"])


async def _authenticate(state: SmartServerState, request: Request, form: dict[str, str]) -> str:
    """The authenticated client id; raises ValueError with the reason otherwise."""
    header = request.headers.get("authorization", "")
    if header.startswith("Basic "):
        client_id, _, secret = base64.b64decode(header[6:]).decode().partition(":")
        client = state.clients.get(client_id)
        if client is None or client.auth_method != "client_secret_basic":
            raise ValueError("unknown client")
        if not secrets.compare_digest(secret, client.secret or ""):
            raise ValueError("wrong client secret")
        return client_id
    if form.get("client_assertion_type") == ASSERTION_TYPE:
        assertion = form.get("client_assertion", "")
        client_id = str(_unverified_claims(assertion).get("iss"))
        client = state.clients.get(client_id)
        if client is None or client.auth_method != "private_key_jwt" or not client.jwks_url:
            raise ValueError("unknown client")
        async with httpx.AsyncClient() as http:
            keys = KeySet.import_key_set((await http.get(client.jwks_url)).json())
        try:
            token = jwt.decode(assertion, keys, algorithms=["RS384", "ES384"])
        except JoseError as exc:
            raise ValueError(f"assertion signature: {exc.error}") from None
        registry = jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": client_id},
            sub={"essential": True, "value": client_id},
            aud={"essential": True, "value": f"{state.base}/token"},
            exp={"essential": True},
            jti={"essential": True},
        )
        registry.validate(token.claims)
        if token.claims["exp"] - time.time() > 300:
            raise ValueError("assertion lives too long")
        if token.claims["jti"] in state.used_jti:
            raise ValueError("assertion replayed")
        state.used_jti.add(token.claims["jti"])
        return client_id
    client_id = form.get("client_id", "")
    client = state.clients.get(client_id)
    if client is None or client.auth_method != "none":
        raise ValueError("unknown or confidential client without authentication")
    return client_id


def _unverified_claims(assertion: str) -> dict[str, Any]:
    """The assertion's claims read without trusting them (only to find the client's JWKS)."""
    parts = assertion.split(".")
    if len(parts) != 3:
        raise ValueError("client_assertion is not a compact JWS")
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    claims = json.loads(base64.urlsafe_b64decode(payload))
    if not isinstance(claims, dict):
        raise ValueError("client_assertion claims are not an object")
    return claims


def build_smart_server(state: SmartServerState) -> FastAPI:
    """The test authorization server and FHIR proxy for ``state``."""
    app = FastAPI()

    @app.get("/fhir/.well-known/smart-configuration")
    async def configuration() -> Any:
        if state.metadata_only:
            return JSONResponse({"error": "not found"}, status_code=404)
        return {
            "issuer": state.base,
            "authorization_endpoint": f"{state.base}/authorize",
            "token_endpoint": f"{state.base}/token",
            "jwks_uri": f"{state.base}/jwks",
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["private_key_jwt", "client_secret_basic"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS384", "ES384"],
            "scopes_supported": ["openid", "fhirUser", "launch", "launch/patient"],
            "response_types_supported": ["code"],
            "capabilities": [
                "launch-ehr",
                "launch-standalone",
                "client-public",
                "client-confidential-symmetric",
                "client-confidential-asymmetric",
                "context-ehr-patient",
                "context-standalone-patient",
                "sso-openid-connect",
                "permission-v2",
                "permission-offline",
                *(["authorize-post"] if state.authorize_post else []),
            ],
        }

    @app.get("/fhir/metadata")
    async def metadata() -> Response:
        oauth_uris = {
            "url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
            "extension": [
                {"url": "authorize", "valueUri": f"{state.base}/authorize"},
                {"url": "token", "valueUri": f"{state.base}/token"},
            ],
        }
        statement = {
            "resourceType": "CapabilityStatement",
            "status": "active",
            "kind": "instance",
            "fhirVersion": "4.0.1",
            "format": ["json"],
            "rest": [{"mode": "server", "security": {"extension": [oauth_uris]}}],
        }
        return JSONResponse(statement, media_type="application/fhir+json")

    @app.get("/jwks")
    async def jwks() -> dict[str, Any]:
        return {"keys": [state.key.as_dict(private=False, kid="as1", alg="RS256", use="sig")]}

    @app.get("/authorize")
    async def authorize(request: Request) -> Response:
        state.authorize_methods.append("GET")
        return _authorize(dict(request.query_params), 302)

    @app.post("/authorize")
    async def authorize_post(request: Request) -> Response:
        if not state.authorize_post:
            return _oauth_error("invalid_request", "authorize-post is not supported", 405)
        state.authorize_methods.append("POST")
        form = await request.form()
        # 303: the browser GETs the callback after a POSTed request.
        return _authorize({k: v for k, v in form.items() if isinstance(v, str)}, 303)

    def _authorize(q: dict[str, str], redirect_status: int) -> Response:
        client = state.clients.get(q.get("client_id", ""))
        if client is None or q.get("redirect_uri") != client.redirect_uri:
            return _oauth_error("invalid_request", "unknown client or redirect_uri")
        if q.get("response_type") != "code" or q.get("code_challenge_method") != "S256":
            return _oauth_error("invalid_request", "code + S256 required")
        if q.get("aud") != state.fhir_base or not q.get("code_challenge"):
            return _oauth_error("invalid_request", "bad aud or no code_challenge")
        scope = q.get("scope", "").split()
        if "launch" in scope:
            patient = state.launches.get(q.get("launch", ""))
        else:
            patient = state.standalone_patient if "launch/patient" in scope else None
        if patient is None:
            return _oauth_error("invalid_request", "unknown launch")
        code = secrets.token_urlsafe(24)
        state.codes[code] = {
            "client_id": client.client_id,
            "redirect_uri": q["redirect_uri"],
            "challenge": q["code_challenge"],
            "scope": q.get("scope", ""),
            "nonce": q.get("nonce"),
            "patient": patient,
            "used": False,
            "expires": time.time() + 60,
        }
        target = f"{client.redirect_uri}?{urlencode({'code': code, 'state': q.get('state', '')})}"
        return RedirectResponse(target, status_code=redirect_status)

    def _tokens(client_id: str, scope: str, patient: str, nonce: str | None) -> dict[str, Any]:
        now = int(time.time())
        granted = _granted(state, scope)
        access = _sign(
            state,
            {
                "iss": state.base,
                "sub": state.user,
                "aud": state.fhir_base,
                "iat": now,
                "exp": now + state.access_ttl,
                "scope": granted,
                "patient": patient,
                "jti": secrets.token_urlsafe(8),
            },
        )
        state.issued_access_tokens.append(access)
        refresh = secrets.token_urlsafe(24)
        state.issued_refresh_tokens.append(refresh)
        state.refresh_tokens[refresh] = {"client_id": client_id, "scope": scope, "patient": patient}
        body: dict[str, Any] = {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": state.access_ttl,
            "scope": granted,
            "patient": patient,
            "need_patient_banner": False,
            "smart_style_url": f"{state.base}/style.json",
            "refresh_token": refresh,
        }
        if "openid" in scope.split() and nonce is not None:
            body["id_token"] = _sign(
                state,
                {
                    "iss": state.base,
                    "sub": "clinician-1",
                    "aud": client_id,
                    "iat": now,
                    "exp": now + 300,
                    "fhirUser": f"{state.fhir_base}/{state.user}",
                    "nonce": nonce,
                },
            )
            state.issued_id_tokens.append(body["id_token"])
        return body

    @app.post("/token")
    async def token(request: Request) -> Response:
        form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        state.token_requests.append({k: v for k, v in form.items() if k == "grant_type"})
        try:
            client_id = await _authenticate(state, request, form)
        except (ValueError, JoseError) as exc:
            return _oauth_error("invalid_client", str(exc), 401)
        return await _grant(client_id, form)

    async def _grant(client_id: str, form: dict[str, str]) -> Response:
        grant = form.get("grant_type")
        if grant == "authorization_code":
            issued = state.codes.get(form.get("code", ""))
            if issued is None or issued["expires"] < time.time():
                return _oauth_error("invalid_grant", "unknown or expired code")
            if issued["used"]:
                return _oauth_error("invalid_grant", "code already used")
            issued["used"] = True
            if (
                issued["client_id"] != client_id
                or form.get("redirect_uri") != issued["redirect_uri"]
            ):
                return _oauth_error("invalid_grant", "client or redirect_uri mismatch")
            verifier = form.get("code_verifier", "")
            digest = hashlib.sha256(verifier.encode()).digest()
            challenge = base64.urlsafe_b64encode(digest).decode().rstrip("=")
            if not verifier or not secrets.compare_digest(challenge, issued["challenge"]):
                return _oauth_error("invalid_grant", "PKCE verification failed")
            body = _tokens(client_id, issued["scope"], issued["patient"], issued["nonce"])
            return JSONResponse(body, headers={"Cache-Control": "no-store"})
        if grant == "refresh_token":
            return await _refresh(client_id, form)
        return _oauth_error("unsupported_grant_type", str(grant))

    async def _refresh(client_id: str, form: dict[str, str]) -> Response:
        if state.refresh_hold:
            await asyncio.sleep(state.refresh_hold)
        # Rotation: a refresh token works once; a second use is refused.
        held = state.refresh_tokens.pop(form.get("refresh_token", ""), None)
        if state.refresh_fails or held is None or held["client_id"] != client_id:
            if state.refusal_delay:
                await asyncio.sleep(state.refusal_delay)
            return _oauth_error("invalid_grant", "refresh token refused")
        body = _tokens(client_id, held["scope"], held["patient"], None)
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    @app.api_route("/fhir/{path:path}", methods=["GET", "POST"])
    async def fhir(request: Request, path: str) -> Response:
        bearer = request.headers.get("authorization", "")
        claims: dict[str, Any] | None = None
        if bearer.startswith("Bearer "):
            try:
                decoded = jwt.decode(bearer[7:], state.key, algorithms=["RS256"])
                jwt.JWTClaimsRegistry(exp={"essential": True}).validate(decoded.claims)
                claims = decoded.claims
            except JoseError:
                claims = None
        if claims is None or bearer[7:] in state.revoked:
            return JSONResponse(_outcome("login", "invalid or expired token"), status_code=401)
        resource_type = path.split("/")[0]
        granted = {t.partition("/")[2].partition(".")[0] for t in claims["scope"].split()}
        if resource_type and resource_type not in granted and request.method == "GET":
            return JSONResponse(_outcome("forbidden", "scope not granted"), status_code=403)
        state.fhir_requests.append(resource_type)
        return await _forward(request, path, state.fhir_base)

    @app.api_route("/open/fhir/{path:path}", methods=["GET", "POST"])
    async def open_fhir(request: Request, path: str) -> Response:
        """An open (unauthenticated) FHIR server over the same data."""
        return await _forward(request, path, f"{state.base}/open/fhir")

    async def _forward(request: Request, path: str, public_base: str) -> Response:
        async with httpx.AsyncClient(timeout=30) as http:
            upstream = await http.request(
                request.method,
                f"{state.fhir_upstream}/{path}",
                params=list(request.query_params.multi_items()),
                content=await request.body(),
                headers={
                    "Authorization": f"Bearer {state.fhir_token}",
                    "Accept": "application/fhir+json",
                    "Content-Type": request.headers.get("content-type", "application/fhir+json"),
                },
            )
        text = upstream.text.replace(state.fhir_upstream, public_base)
        return Response(text, status_code=upstream.status_code, media_type="application/fhir+json")

    return app


def _outcome(code: str, text: str) -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "diagnostics": text}],
    }
