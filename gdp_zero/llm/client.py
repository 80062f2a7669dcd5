"""The one async LLM client: per-role endpoints, n samples, retries, a concurrency limit, usage ledger."""

from __future__ import annotations

import asyncio
import base64
import functools
import logging
import os
import random
import re
import ssl
import time
from dataclasses import replace
from typing import Any, Awaitable, Callable, Sequence, TypeVar
from urllib.parse import unquote, urlsplit

import openai

from gdp_zero.text import MAX_LLM_TEXT_CHARS, clean_text

from .errors import (
    AuthenticationError,
    EndpointUnreachableError,
    LLMError,
    LLMUnavailableError,
    ModelNotFoundError,
    QuotaExceededError,
    RequestRejectedError,
    UntrustedCertificateError,
    WrongEndpointError,
)
from .ledger import CallRecord, UsageLedger
from .prompt import Prompt
from .settings import EndpointSettings, LLMSettings, redact_url, without_userinfo

logger = logging.getLogger(__name__)


class _RedactURLCredentials(logging.Filter):
    """The HTTP libraries under the SDK log every request URL, userinfo included: hide it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "@" in message:
            record.msg, record.args = redact_url(message), None
        return True


# The SDK's HTTP client is httpx, or its fork httpx2 in recent versions; each logs under its name.
for _name in ("httpx", "httpx2", "httpcore", "httpcore2", "openai", "openai._base_client"):
    logging.getLogger(_name).addFilter(_RedactURLCredentials())

T = TypeVar("T")
Send = Callable[[openai.AsyncOpenAI], Awaitable[Any]]

@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One certificate store for the process, made as httpx makes its default (SSL_CERT_FILE or
    SSL_CERT_DIR, else certifi's bundle). Each SDK client would otherwise load the bundle again, 40 ms
    of CPU or more on the event loop, and a study server makes clients for every participant."""
    cafile, capath = os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR")
    if cafile or capath:
        return ssl.create_default_context(cafile=cafile or None, capath=None if cafile else capath)
    import certifi  # the SDK's HTTP client depends on it

    return ssl.create_default_context(cafile=certifi.where())


# Local servers (llama.cpp, vLLM, Ollama) ignore the key, but the SDK refuses to run without one.
_LOCAL_PLACEHOLDER_KEY = "no-key"
_RETRYABLE_STATUS = {408, 409, 429}


class LLMClient:
    def __init__(self, settings: LLMSettings, ledger: UsageLedger | None = None) -> None:
        self.settings = settings
        self.ledger = ledger if ledger is not None else UsageLedger()
        self._seed_counter = 0
        self._jitter = random.Random()
        # Both are bound to an event loop, so they are (re)made for the loop that uses them.
        self._loop: asyncio.AbstractEventLoop | None = None
        self._slots: asyncio.Semaphore | None = None
        self._sdk_clients: dict[tuple[Any, ...], openai.AsyncOpenAI] = {}

    def sibling(self, ledger: UsageLedger, *, seed_offset: int = 0) -> LLMClient:
        """A client that records into `ledger` but sends through this one's request limit and connections.

        Concurrent dialogues (self-play, evaluation) each keep their own usage while all of their
        requests count against one `max_concurrency`. With a seed, `seed_offset` gives each its own.
        """
        settings = self.settings
        if settings.seed is not None:
            settings = replace(settings, seed=settings.seed + seed_offset)
        return _Sibling(self, settings, ledger)

    async def __aenter__(self) -> LLMClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def generate(
        self, role: str, prompt: Prompt, *, n: int = 1, temperature: float
    ) -> list[str]:
        """Exactly `n` sampled texts, at most the role's max_tokens long; servers that ignore `n`
        are topped up with single requests."""
        if n < 1:
            raise ValueError(f"n must be at least 1, got {n}")
        ep = self.settings.for_role(role)
        seed = self._take_seeds(n)
        send = self._sender(ep, prompt, n=n, temperature=temperature, seed=seed)
        response = await self._request(role, ep, send, n_requested=n)
        texts = _texts(response, ep.api)[:n]
        missing = n - len(texts)
        if missing:
            logger.debug("%s returned %d of %d choices for %s; topping up", ep.url, len(texts), n, role)
            first_seed = None if seed is None else seed + len(texts)
            texts += await self._top_up(
                role, ep, prompt, missing, temperature=temperature, first_seed=first_seed
            )
        return texts

    async def _top_up(
        self,
        role: str,
        ep: EndpointSettings,
        prompt: Prompt,
        count: int,
        *,
        temperature: float,
        first_seed: int | None,
    ) -> list[str]:
        """Parallel single-sample requests, for servers (e.g. llama.cpp) that ignore `n`."""
        requests = [
            self._request(
                role,
                ep,
                self._sender(
                    ep, prompt, n=1, temperature=temperature, seed=None if first_seed is None else first_seed + i,
                ),
                n_requested=1,
                topped_up=True,
            )
            for i in range(count)
        ]
        return [(_texts(r, ep.api) or [""])[0] for r in await _gather_or_cancel(requests)]

    async def embed(self, role: str, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text from the role's `/embeddings` endpoint, in the order given."""
        if not texts:
            return []
        ep = self.settings.for_role(role)
        inputs = [clean_text(text, MAX_LLM_TEXT_CHARS) or " " for text in texts]  # an empty input is a 400

        async def send(sdk: openai.AsyncOpenAI) -> Any:
            return await sdk.embeddings.create(model=ep.model, input=inputs, timeout=ep.timeout_s)

        response = await self._request(role, ep, send, n_requested=len(texts))
        vectors = [item.embedding for item in sorted(response.data, key=lambda item: item.index)]
        if len(vectors) != len(texts):
            raise WrongEndpointError(f"{ep.url}: /embeddings returned {len(vectors)} vectors for {len(texts)} texts")
        return vectors

    async def list_models(self, role: str = "policy") -> list[str]:
        ep = self.settings.for_role(role)

        async def send(sdk: openai.AsyncOpenAI) -> Any:
            try:
                return await sdk.models.list(timeout=ep.timeout_s)
            except AttributeError:  # the SDK cannot build its page of models from an HTML body
                raise WrongEndpointError.not_json(ep.url) from None

        page = await self._request(role, ep, send, n_requested=0, to_ledger=False)
        return sorted(model.id for model in page.data)

    async def check(self) -> None:
        """Validate each distinct endpoint's key, address and model early: one line now, not mid-chat.

        One cheap GET /models each; a model the endpoint does not list is then tried with a
        one-token request, because llama.cpp serves its one model under any name.
        """
        endpoints: dict[tuple[Any, ...], tuple[str, EndpointSettings]] = {}
        for role, ep in (self.settings.roles or {"policy": self.settings.default}).items():
            endpoints.setdefault(_endpoint_key(ep) + (ep.model,), (role, ep))
        for role, ep in endpoints.values():
            served = await self.list_models(role)
            # Azure lists base models, not deployments.
            if served and ep.model not in served and ep.provider == "openai":
                probe = self._sender(replace(ep, max_tokens=1), Prompt("", "Hi", "Hi"), n=1, temperature=0.0, seed=None)
                try:
                    await self._request(role, ep, probe, n_requested=1, to_ledger=False)
                except ModelNotFoundError:
                    raise ModelNotFoundError.not_listed(ep.url, ep.model, served) from None

    async def aclose(self) -> None:
        """Close the HTTP clients and their connections. The client stays usable: the next
        request opens new ones (a server holding many idle chats closes them between turns)."""
        clients, self._sdk_clients = list(self._sdk_clients.values()), {}
        for sdk in clients:
            await sdk.close()

    # -- one logical request: retries, backoff, the concurrency limit and the ledger --

    async def _request(
        self,
        role: str,
        ep: EndpointSettings,
        send: Send,
        *,
        n_requested: int,
        topped_up: bool = False,
        to_ledger: bool = True,
    ) -> Any:
        slots = self._bind_loop()
        sdk = self._sdk_for(ep)
        turn = self.ledger.turn
        retries = 0
        seconds = 0.0
        response = None
        try:
            while True:
                try:
                    async with slots:
                        started = time.perf_counter()
                        try:
                            response = await send(sdk)
                        finally:
                            seconds += time.perf_counter() - started
                    if isinstance(response, str):  # the SDK hands back a body that is not JSON as text
                        raise WrongEndpointError.not_json(ep.url)
                    return response
                except openai.APIError as exc:
                    final = _fatal_error(exc, role, ep)
                    if final is None and retries >= self.settings.max_retries:
                        final = _exhausted_error(exc, role, ep, tries=retries + 1)
                    if final is not None:
                        logger.debug("LLM request for %s failed: %s", role, _redact(str(exc), ep))
                        raise final from None
                    delay = self._backoff(retries, exc)
                    logger.info(
                        "LLM request for %s failed (%s); retry %d of %d in %.2f s",
                        role, _failure_summary(exc, ep), retries + 1, self.settings.max_retries, delay,
                    )
                    await asyncio.sleep(delay)
                    retries += 1
        finally:
            if to_ledger:
                record = _call_record(role, turn, ep, response, seconds, n_requested, retries, topped_up)
                self.ledger.record_call(record)

    def _backoff(self, retries: int, exc: openai.APIError) -> float:
        s = self.settings
        cap = min(s.backoff_max_s, s.backoff_base_s * 2**retries)
        if _is_connect_failure(exc):
            cap = min(cap, s.backoff_base_s)  # a closed port rarely opens within seconds: fail fast
        delay = self._jitter.uniform(0, cap)  # full jitter spreads retries of concurrent calls apart
        retry_after = _retry_after_s(exc)
        if retry_after is not None:
            delay = max(delay, min(retry_after, s.backoff_max_s))
        return delay

    def _take_seeds(self, count: int) -> int | None:
        """Reserve `count` consecutive seeds, so top-ups get their own seeds whatever the timing."""
        if self.settings.seed is None:
            return None
        first = self.settings.seed + self._seed_counter
        self._seed_counter += count
        return first

    def _bind_loop(self) -> asyncio.Semaphore:
        """The concurrency limit for the running loop; a new loop starts with fresh SDK clients."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop or self._slots is None:
            self._loop = loop
            self._slots = asyncio.Semaphore(self.settings.max_concurrency)
            self._sdk_clients = {}  # their connection pools belong to the old loop
        return self._slots

    def _sdk_for(self, ep: EndpointSettings) -> openai.AsyncOpenAI:
        key = _endpoint_key(ep)
        if key not in self._sdk_clients:
            api_key = ep.api_key
            if api_key is None:
                if ep.base_url is None or ep.provider == "azure":
                    raise AuthenticationError.missing(ep.url, _key_hint(ep))
                api_key = _LOCAL_PLACEHOLDER_KEY
            http = openai.DefaultAsyncHttpxClient(verify=_tls_context())
            if ep.provider == "azure":
                assert ep.base_url is not None  # the settings refuse an azure endpoint without one
                sdk: openai.AsyncOpenAI = openai.AsyncAzureOpenAI(
                    azure_endpoint=ep.base_url, api_key=api_key, api_version=ep.azure_api_version, max_retries=0,
                    http_client=http,
                )
            else:
                # An explicit base_url stops the SDK from reading OPENAI_BASE_URL behind the settings' back.
                # A user name and password in it would make httpx send Basic auth in place of the key's
                # Bearer header: with a key they stay out; without one they are the credentials meant.
                base_url = ep.request_url if ep.api_key is None else without_userinfo(ep.request_url)
                sdk = openai.AsyncOpenAI(base_url=base_url, api_key=api_key, max_retries=0, http_client=http)
            self._sdk_clients[key] = sdk
        return self._sdk_clients[key]

    def _sender(
        self,
        ep: EndpointSettings,
        prompt: Prompt,
        *,
        n: int,
        temperature: float,
        seed: int | None,
    ) -> Send:
        kwargs: dict[str, Any] = {
            "model": ep.model,
            "temperature": ep.temperature if ep.temperature is not None else temperature,
            "max_tokens": ep.max_tokens,
            "timeout": ep.timeout_s,
        }
        if n > 1:  # some servers reject `n` outright; 1 is everyone's default
            kwargs["n"] = n
        if prompt.stop:
            kwargs["stop"] = list(prompt.stop)
        if seed is not None:
            kwargs["seed"] = seed
        if ep.api == "completions":
            kwargs["prompt"] = prompt.completion
            return lambda sdk: sdk.completions.create(**kwargs)
        messages = [{"role": "user", "content": prompt.user}]
        if prompt.system:
            messages.insert(0, {"role": "system", "content": prompt.system})
        kwargs["messages"] = messages
        return lambda sdk: sdk.chat.completions.create(**kwargs)


def _endpoint_key(ep: EndpointSettings) -> tuple[Any, ...]:
    return (ep.provider, ep.request_url, ep.api_key, ep.azure_api_version)


def _key_hint(ep: EndpointSettings) -> str:
    return "AZURE_OPENAI_API_KEY" if ep.provider == "azure" else "OPENAI_API_KEY"


def _texts(response: Any, api: str) -> list[str]:
    """The choices' texts, cleaned (gdp_zero.text) and cut: everything after trusts them to be."""
    choices = sorted(response.choices, key=lambda c: c.index or 0)
    if api == "completions":
        texts = [c.text or "" for c in choices]
    else:
        texts = [c.message.content or "" for c in choices]
    return [clean_text(text, MAX_LLM_TEXT_CHARS) for text in texts]


def _call_record(
    role: str,
    turn: int,
    ep: EndpointSettings,
    response: Any,
    seconds: float,
    n_requested: int,
    retries: int,
    topped_up: bool,
) -> CallRecord:
    usage = getattr(response, "usage", None)
    return CallRecord(
        role=role,
        turn=turn,
        prompt_tokens=(usage.prompt_tokens or 0) if usage else 0,
        # an embedding request has no completion tokens
        completion_tokens=(getattr(usage, "completion_tokens", 0) or 0) if usage else 0,
        seconds=seconds,
        n_requested=n_requested,
        retries=retries,
        topped_up=topped_up,
        api=ep.api,
    )


def _fatal_error(exc: openai.APIError, role: str, ep: EndpointSettings) -> LLMError | None:
    """The error to raise at once, or None when the failure is worth retrying."""
    certificate = _certificate_failure(exc)
    if certificate is not None:
        return UntrustedCertificateError.for_url(ep.url, certificate)
    if not isinstance(exc, openai.APIStatusError):
        return None  # timeouts, connection failures and unparsable replies are usually transient
    status = exc.status_code
    message = (exc.message or "").lower()
    if status in (401, 403):
        if ep.api_key is None and urlsplit(ep.request_url).password is not None:
            return AuthenticationError.rejected_url_credentials(ep.url, status)
        return AuthenticationError.rejected(ep.url, status, _key_hint(ep))
    if status == 404:
        if exc.code == "model_not_found" or ("model" in message and "url" not in message):
            return ModelNotFoundError.for_model(ep.url, ep.model)
        return WrongEndpointError.not_found(ep.url)
    if status == 429 and exc.code == "insufficient_quota":
        return QuotaExceededError(f"The LLM endpoint {ep.url} says the account's quota is used up (429); check billing.")
    if status in _RETRYABLE_STATUS or status >= 500:
        return None
    return RequestRejectedError.for_request(ep.url, role, status, _server_detail(exc, ep))


def _exhausted_error(exc: openai.APIError, role: str, ep: EndpointSettings, *, tries: int) -> LLMError:
    if _is_connect_failure(exc):
        return EndpointUnreachableError.after(ep.url, tries)
    return LLMUnavailableError.after(ep.url, role, tries, _failure_summary(exc, ep))


def _failure_summary(exc: openai.APIError, ep: EndpointSettings) -> str:
    if isinstance(exc, openai.APIStatusError):
        return f"HTTP {exc.status_code}"
    if isinstance(exc, openai.APITimeoutError):
        return f"no answer within {ep.timeout_s:g} s"
    if isinstance(exc, openai.APIConnectionError):
        return "connection refused" if _is_connect_failure(exc) else "connection dropped"
    return "malformed reply"


def _is_connect_failure(exc: BaseException) -> bool:
    """Nothing listening or no such host, as opposed to a connection dropped mid-request."""
    if isinstance(exc, openai.APITimeoutError) or not isinstance(exc, openai.APIConnectionError):
        return False
    cause = exc.__cause__
    while cause is not None:
        # Matched by name: the SDK wraps either httpx or httpx2 errors, depending on its version.
        if type(cause).__name__ == "ConnectError" or isinstance(cause, ConnectionRefusedError):
            return True
        cause = cause.__cause__ or cause.__context__
    return False


def _certificate_failure(exc: BaseException) -> str | None:
    """Why the server's certificate failed verification, if that is what ended the request."""
    cause: BaseException | None = exc.__cause__
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return cause.verify_message or "certificate verify failed"
        cause = cause.__cause__ or cause.__context__
    return None


def _retry_after_s(exc: openai.APIError) -> float | None:
    response = getattr(exc, "response", None)
    value = response.headers.get("retry-after") if response is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None  # an HTTP date: rare enough to leave to the exponential backoff


def _server_detail(exc: openai.APIStatusError, ep: EndpointSettings) -> str:
    body = exc.body
    message = body.get("message") if isinstance(body, dict) else None
    return _redact(str(message or exc.message or ""), ep)


def _redact(text: str, ep: EndpointSettings) -> str:
    """One clean line, bounded, with no trace of a key or URL credentials (servers echo them,
    sometimes in another letter case)."""
    secrets = [ep.api_key, *_url_credential_forms(ep.request_url)]
    for secret in filter(None, secrets):
        text = re.sub(re.escape(secret), "***", text, flags=re.IGNORECASE)
    text = re.sub(r"(?i)sk-[A-Za-z0-9_\-*]{3,}", "sk-***", redact_url(text))
    text = " ".join(clean_text(text).split())
    return text if len(text) <= 200 else text[:197] + "..."


def _url_credential_forms(url: str) -> list[str]:
    """The base URL's password as a server may echo it: as written, percent-decoded, and inside the
    base64 of a Basic auth header (user:password)."""
    parts = urlsplit(url)
    if parts.password is None:
        return []
    forms = []
    for user, password in {(parts.username or "", parts.password), (unquote(parts.username or ""), unquote(parts.password))}:
        forms += [password, base64.b64encode(f"{user}:{password}".encode()).decode()]
    return forms


async def _gather_or_cancel(awaitables: Sequence[Awaitable[T]]) -> list[T]:
    """Like gather, but a failure cancels the siblings instead of leaving them running."""
    tasks = [asyncio.ensure_future(a) for a in awaitables]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        raise


class _Sibling(LLMClient):
    """See `LLMClient.sibling`: its own ledger and seeds, its owner's request limit and connections."""

    def __init__(self, owner: LLMClient, settings: LLMSettings, ledger: UsageLedger) -> None:
        super().__init__(settings, ledger)
        self._owner = owner

    def _bind_loop(self) -> asyncio.Semaphore:
        return self._owner._bind_loop()

    def _sdk_for(self, ep: EndpointSettings) -> openai.AsyncOpenAI:
        return self._owner._sdk_for(ep)

    async def aclose(self) -> None:
        """Nothing of its own to close: the owner's `aclose` closes the shared connections."""
