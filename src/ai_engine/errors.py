"""One error tree for the whole engine.

Every message names what was expected and what was found. The CLI and the service
catch ``AIEngineError`` once each and print its message as one line.

    AIEngineError
    ├── DataValidationError        candles that cannot be used as they are
    │   └── InputError             a request field the service refuses; ``loc`` names the field
    │       ├── SafetyInputError   an account, fill or proposal field the safety layer refuses
    │       └── StreamConflict     a streamed candle that does not continue the window (409)
    ├── ConfigError                unknown preset, family, option or hyperparameter
    ├── FeatureSpecMismatchError   a bundle built for other features than the running code
    ├── BundleError                a bundle that cannot be loaded exactly as trained
    │   ├── ManifestError          manifest.json missing, unparsable or of an unknown format
    │   ├── ChecksumError          a file whose sha256 differs from the manifest
    │   ├── WeightsMismatchError   strict weight load failed (missing/unexpected keys, shapes)
    │   └── ProbeMismatchError     the recorded probe output does not replay
    ├── RegistryError              registry folder, release or alias unusable
    ├── ConsensusError             fewer healthy models than the quorum: no signal
    ├── LegacyImportError          a legacy checkpoint that cannot be inspected or converted
    ├── EngineUnavailable          no release is loaded (yet); the message says why
    ├── NotFound                   no such release, alias or model; a symbol no release covers
    ├── PromotionRefused           a release that failed verification is not promoted
    ├── InvariantError             an internal consistency check failed: a bug, not bad input
    ├── StateStoreError            the safety state database is unreachable or unmigrated
    ├── ServiceError               the signal service did not answer, or refused (client side)
    ├── OwnershipConflict          a position claimed by a second owner (HTTP 409)
    ├── IdempotencyConflict        a retried fill_id whose fill differs from the first (HTTP 409)
    └── ContractViolation          a body that breaks the signal contract; ``code`` says how

The service maps them to HTTP statuses (service/app.py): DataValidationError 422 (400 on the
Open Inference Protocol routes), ConsensusError and EngineUnavailable 503, NotFound 404,
PromotionRefused 409, StreamConflict 409, StateStoreError 503, OwnershipConflict 409,
IdempotencyConflict 409, any other
AIEngineError 500.
"""

from __future__ import annotations


class AIEngineError(Exception):
    """Base of every error the engine raises on purpose."""


class DataValidationError(AIEngineError):
    """Candles that cannot be used as they are; the message names the row or timestamp."""


class InputError(DataValidationError):
    """Bad input found by the service itself; ``loc`` names the field (as pydantic does)."""

    def __init__(self, loc: list[str | int], message: str) -> None:
        super().__init__(message)
        self.loc = loc


class ConfigError(AIEngineError):
    """An unknown preset, family, option or hyperparameter value."""


class FeatureSpecMismatchError(AIEngineError):
    """A bundle whose feature fingerprint differs from the running code's."""


class BundleError(AIEngineError):
    """A bundle that cannot be loaded exactly as it was trained."""


class ManifestError(BundleError):
    """manifest.json is missing, unparsable, invalid or of an unsupported format version."""


class ChecksumError(BundleError):
    """A bundle file whose sha256 differs from the one recorded in the manifest."""


class WeightsMismatchError(BundleError):
    """Weights that do not fit the architecture built from the stored config."""


class ProbeMismatchError(BundleError):
    """The probe recorded at training time does not replay within tolerance."""


class RegistryError(AIEngineError):
    """A registry folder, release or alias that cannot be used."""


class ConsensusError(AIEngineError):
    """Fewer healthy models than the quorum: the engine refuses to signal."""


class LegacyImportError(AIEngineError):
    """A legacy checkpoint that cannot be inspected or converted safely."""


class EngineUnavailable(AIEngineError):
    """No release is loaded (yet), or the asked member is unhealthy; the message says why."""


class NotFound(AIEngineError):
    """A requested release, alias or model does not exist, or no release covers a symbol."""


class PromotionRefused(AIEngineError):
    """A release that failed verification is not promoted; the alias is left unchanged."""


class InvariantError(AIEngineError):
    """An internal consistency check failed: a bug in the engine, not in its input."""


class SafetyInputError(InputError):
    """An account, fill or proposal field the safety layer refuses; nothing is written."""


class StreamConflict(InputError):
    """A streamed candle that is not the next bar of the server's window (a gap, a duplicate,
    an earlier candle), or no window to continue; the message names the expected candle."""


class StateStoreError(AIEngineError):
    """The safety state database is unreachable, cannot be migrated, or holds bad rows."""


class ServiceError(AIEngineError):
    """A call to the signal service failed: unreachable, timed out, or an error status; the
    message names the route and what came back (clients such as the freqtrade strategy)."""


class OwnershipConflict(AIEngineError):
    """A position that already has an owner, claimed by another; nothing is written."""


class ContractViolation(AIEngineError):
    """A body that is not fresh, not of its schema or not from the production release.

    ``code`` is EXPIRED, SCHEMA or RELEASE_MISMATCH (ai_engine.contract).
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class IdempotencyConflict(AIEngineError):
    """A retried idempotency key (``fill_id``) whose request differs from the first one."""
