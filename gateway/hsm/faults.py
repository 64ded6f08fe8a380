"""What a PKCS#11 error means to the adapter: a broken session to rebuild, or an answer about the input.

The executor heals the session after a :data:`SESSION_FAULTS` error and retries the job once; the
other classes below are what a call may raise for bad input (a forged blob, a wrong-sized block),
which must never cost a session rebuild.
"""

from __future__ import annotations

from pkcs11.exceptions import (
    ArgumentsBad,
    AttributeReadOnly,
    AttributeSensitive,
    AttributeTypeInvalid,
    DataInvalid,
    DataLenRange,
    DeviceError,
    DeviceRemoved,
    EncryptedDataInvalid,
    EncryptedDataLenRange,
    FunctionFailed,
    FunctionNotSupported,
    GeneralError,
    KeyIndigestible,
    KeySizeRange,
    KeyTypeInconsistent,
    MechanismInvalid,
    MechanismParamInvalid,
    NoSuchToken,
    ObjectHandleInvalid,
    OperationActive,
    SessionClosed,
    SessionHandleInvalid,
    SignatureInvalid,
    SignatureLenRange,
    TemplateInconsistent,
    TokenNotPresent,
    TokenNotRecognised,
    UserNotLoggedIn,
    UserPinNotInitialized,
    WrappedKeyInvalid,
    WrappedKeyLenRange,
)


class TokenStorageMissing(DeviceRemoved):
    """The token answers, but its objects are not visible: a fault, like a removed device."""


# After these the session (or the library) is presumed broken and must be rebuilt.
SESSION_FAULTS: tuple[type[Exception], ...] = (
    SessionHandleInvalid,
    SessionClosed,
    DeviceError,
    DeviceRemoved,
    GeneralError,
    TokenNotPresent,
    TokenNotRecognised,
    UserNotLoggedIn,
    ObjectHandleInvalid,
    NoSuchToken,
    OperationActive,  # left active by a call that failed half-way: only a new session clears it
)
# A login that may succeed on a second try: another process was rewriting the token file (SoftHSM2
# rewrites token.object at every login), and a reader caught mid-rewrite sees no token, a general
# error, or a token whose user PIN looks uninitialized.
OPEN_RETRYABLE: tuple[type[Exception], ...] = (NoSuchToken, GeneralError, TokenNotPresent, UserPinNotInitialized)
# What a GCM decryption of a forged or corrupted blob may raise, depending on the module. The
# last two are ambiguous (see TokenQuirks.bad_tag_is_general_error).
AUTH_FAILURES: tuple[type[Exception], ...] = (EncryptedDataInvalid, EncryptedDataLenRange, DataLenRange)
AMBIGUOUS_AUTH_FAILURES: tuple[type[Exception], ...] = (GeneralError, FunctionFailed)
# What an RSA decryption or unwrap of a forged, corrupted or wrong-sized block may raise.
RSA_FAILURES: tuple[type[Exception], ...] = (
    EncryptedDataInvalid,
    EncryptedDataLenRange,
    DataInvalid,
    DataLenRange,
    GeneralError,
    FunctionFailed,
    WrappedKeyInvalid,
    WrappedKeyLenRange,
    TemplateInconsistent,
    KeySizeRange,
)
# A signature that does not verify, however malformed.
VERIFY_FAILURES: tuple[type[Exception], ...] = (DataLenRange, DataInvalid, SignatureInvalid, SignatureLenRange)
# A token or key that refuses C_CopyObject: the object itself is used instead.
COPY_REFUSED: tuple[type[Exception], ...] = (AttributeReadOnly, FunctionFailed, TemplateInconsistent, ArgumentsBad)
# CKM_RSA_PKCS_OAEP refusing a hash when probed.
OAEP_REFUSED: tuple[type[Exception], ...] = (ArgumentsBad, MechanismParamInvalid, MechanismInvalid)
# An unwrapped secret that is no AES key at all (AES-ECB of the check block refused).
NOT_AN_AES_KEY: tuple[type[Exception], ...] = (MechanismInvalid, KeySizeRange, KeyTypeInconsistent, FunctionFailed)
# CKA_VALUE_LEN unreadable, and C_DigestKey refused: the secret's length cannot be learnt.
VALUE_LEN_UNREADABLE: tuple[type[Exception], ...] = (AttributeTypeInvalid, AttributeSensitive, FunctionFailed)
DIGEST_REFUSED: tuple[type[Exception], ...] = (
    KeyIndigestible,
    MechanismInvalid,
    FunctionNotSupported,
    KeySizeRange,
    FunctionFailed,
)
