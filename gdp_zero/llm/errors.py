"""Errors the LLM layer raises: each str() is one actionable line that never contains a key."""

from __future__ import annotations

from gdp_zero.text import for_terminal

MAX_MODEL_ID_CHARS = 100  # of each id an endpoint lists, in an error message


class LLMError(Exception):
    """Any failure talking to an LLM endpoint that the caller cannot fix by retrying."""


class EndpointSetupError(LLMError):
    """The endpoint's settings are wrong (key, model, address, quota): no retry helps until they change."""


class AuthenticationError(EndpointSetupError):
    """The endpoint rejected (or we lack) the API key."""

    @classmethod
    def rejected(cls, url: str, status: int, key_hint: str) -> AuthenticationError:
        return cls(
            f"The LLM endpoint {url} rejected the API key ({status}). "
            f"Set {key_hint} to a valid key or pass --api-key."
        )

    @classmethod
    def rejected_url_credentials(cls, url: str, status: int) -> AuthenticationError:
        return cls(
            f"The LLM endpoint {url} rejected the user name and password in the base URL ({status}); they were "
            "sent as Basic auth because no API key is set (with a key, the key is sent and they are not)."
        )

    @classmethod
    def missing(cls, url: str, key_hint: str) -> AuthenticationError:
        return cls(f"No API key for the LLM endpoint {url}. Set {key_hint} or pass --api-key.")


class ModelNotFoundError(EndpointSetupError):
    """The endpoint does not serve the configured model."""

    @classmethod
    def for_model(cls, url: str, model: str) -> ModelNotFoundError:
        return cls(
            f"The LLM endpoint {url} has no model {model!r} (404). "
            f"Pass --model with a served model; list them with GET {url}/models."
        )

    @classmethod
    def not_listed(cls, url: str, model: str, served: list[str], most: int = 10) -> ModelNotFoundError:
        # The ids are the endpoint's text, printed on terminals and pages: a crafted one must not
        # set a terminal's title or clipboard (OSC 52), clear its screen or run on for pages.
        listed = ", ".join(repr(for_terminal(name)[:MAX_MODEL_ID_CHARS]) for name in served[:most])
        listed += f" and {len(served) - most} more" if len(served) > most else ""
        return cls(f"The LLM endpoint {url} has no model {model!r}; it serves: {listed}. Pass --model with one of them.")


class WrongEndpointError(EndpointSetupError):
    """The address answers, but not as an OpenAI-compatible API (a wrong path, a login page)."""

    @classmethod
    def not_found(cls, url: str) -> WrongEndpointError:
        return cls(
            f"The LLM endpoint {url} answered 404 Not Found; check --base-url "
            "(OpenAI-compatible servers usually end in /v1)."
        )

    @classmethod
    def not_json(cls, url: str) -> WrongEndpointError:
        return cls(
            f"The LLM endpoint {url} answered with a web page, not an OpenAI-compatible JSON reply "
            "(a login page or a wrong path?); check --base-url."
        )


class UntrustedCertificateError(EndpointSetupError):
    """The endpoint's TLS certificate does not verify (a private CA, a proxy that inspects TLS)."""

    @classmethod
    def for_url(cls, url: str, reason: str) -> UntrustedCertificateError:
        return cls(
            f"The TLS certificate of the LLM endpoint {url} is not trusted ({reason}). If your network or "
            "server uses its own certificate authority, set SSL_CERT_FILE to its certificate bundle."
        )


class QuotaExceededError(EndpointSetupError):
    """The account behind the key has no quota left."""


class EndpointUnreachableError(LLMError):
    """Nothing answers at the endpoint's address (connection refused, DNS failure)."""

    @classmethod
    def after(cls, url: str, tries: int) -> EndpointUnreachableError:
        return cls(
            f"Cannot connect to the LLM endpoint {url} ({tries} tries). "
            "Check --base-url, or start the model server (or the demo one: "
            "gdp-zero fake-server --port 8001)."
        )


class LLMUnavailableError(LLMError):
    """The endpoint kept failing transiently (429, 5xx, timeouts) until retries ran out."""

    @classmethod
    def after(cls, url: str, role: str, tries: int, last: str) -> LLMUnavailableError:
        return cls(
            f"The LLM endpoint {url} kept failing for role {role!r}: {tries} tries, last error {last}. "
            "Try again later, or lower max_concurrency (or raise max_retries) in the [llm] section of the --config file."
        )


class RequestRejectedError(LLMError):
    """The endpoint refused the request itself (400, 422, ...): retrying the same request won't help."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail  # the server's own explanation, already redacted

    @classmethod
    def for_request(cls, url: str, role: str, status: int, detail: str) -> RequestRejectedError:
        said = f": {detail}" if detail else ""
        return cls(f"The LLM endpoint {url} rejected the request for role {role!r} ({status}){said}.", detail)
