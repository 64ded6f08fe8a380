from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Empty(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Error(_message.Message):
    __slots__ = ("error_code", "error_msg")
    ERROR_CODE_FIELD_NUMBER: _ClassVar[int]
    ERROR_MSG_FIELD_NUMBER: _ClassVar[int]
    error_code: str
    error_msg: str
    def __init__(self, error_code: _Optional[str] = ..., error_msg: _Optional[str] = ...) -> None: ...

class KeyInfo(_message.Message):
    __slots__ = ("key_id", "domain_id", "key_alias", "realm", "key_description", "creation_date", "scheduled_deletion_date", "key_state", "default_key_flag", "key_type", "expiration_time", "origin", "key_spec", "key_usage", "key_version", "key_rotation_enabled")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    DOMAIN_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_ALIAS_FIELD_NUMBER: _ClassVar[int]
    REALM_FIELD_NUMBER: _ClassVar[int]
    KEY_DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    CREATION_DATE_FIELD_NUMBER: _ClassVar[int]
    SCHEDULED_DELETION_DATE_FIELD_NUMBER: _ClassVar[int]
    KEY_STATE_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_KEY_FLAG_FIELD_NUMBER: _ClassVar[int]
    KEY_TYPE_FIELD_NUMBER: _ClassVar[int]
    EXPIRATION_TIME_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    KEY_SPEC_FIELD_NUMBER: _ClassVar[int]
    KEY_USAGE_FIELD_NUMBER: _ClassVar[int]
    KEY_VERSION_FIELD_NUMBER: _ClassVar[int]
    KEY_ROTATION_ENABLED_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    domain_id: str
    key_alias: str
    realm: str
    key_description: str
    creation_date: int
    scheduled_deletion_date: int
    key_state: int
    default_key_flag: int
    key_type: int
    expiration_time: int
    origin: str
    key_spec: str
    key_usage: str
    key_version: int
    key_rotation_enabled: bool
    def __init__(self, key_id: _Optional[str] = ..., domain_id: _Optional[str] = ..., key_alias: _Optional[str] = ..., realm: _Optional[str] = ..., key_description: _Optional[str] = ..., creation_date: _Optional[int] = ..., scheduled_deletion_date: _Optional[int] = ..., key_state: _Optional[int] = ..., default_key_flag: _Optional[int] = ..., key_type: _Optional[int] = ..., expiration_time: _Optional[int] = ..., origin: _Optional[str] = ..., key_spec: _Optional[str] = ..., key_usage: _Optional[str] = ..., key_version: _Optional[int] = ..., key_rotation_enabled: _Optional[bool] = ...) -> None: ...

class CreateKeyRequest(_message.Message):
    __slots__ = ("key_alias", "key_description", "realm", "origin", "key_spec", "key_usage", "sequence")
    KEY_ALIAS_FIELD_NUMBER: _ClassVar[int]
    KEY_DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    REALM_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    KEY_SPEC_FIELD_NUMBER: _ClassVar[int]
    KEY_USAGE_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    key_alias: str
    key_description: str
    realm: str
    origin: str
    key_spec: str
    key_usage: str
    sequence: str
    def __init__(self, key_alias: _Optional[str] = ..., key_description: _Optional[str] = ..., realm: _Optional[str] = ..., origin: _Optional[str] = ..., key_spec: _Optional[str] = ..., key_usage: _Optional[str] = ..., sequence: _Optional[str] = ...) -> None: ...

class KeyIdRequest(_message.Message):
    __slots__ = ("key_id", "sequence")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    sequence: str
    def __init__(self, key_id: _Optional[str] = ..., sequence: _Optional[str] = ...) -> None: ...

class KeyInfoResponse(_message.Message):
    __slots__ = ("key_info",)
    KEY_INFO_FIELD_NUMBER: _ClassVar[int]
    key_info: KeyInfo
    def __init__(self, key_info: _Optional[_Union[KeyInfo, _Mapping]] = ...) -> None: ...

class KeyStateResponse(_message.Message):
    __slots__ = ("key_id", "key_state")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_STATE_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    key_state: int
    def __init__(self, key_id: _Optional[str] = ..., key_state: _Optional[int] = ...) -> None: ...

class ListKeysRequest(_message.Message):
    __slots__ = ("limit", "marker", "key_state", "sequence")
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    MARKER_FIELD_NUMBER: _ClassVar[int]
    KEY_STATE_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    limit: int
    marker: str
    key_state: int
    sequence: str
    def __init__(self, limit: _Optional[int] = ..., marker: _Optional[str] = ..., key_state: _Optional[int] = ..., sequence: _Optional[str] = ...) -> None: ...

class ListKeysResponse(_message.Message):
    __slots__ = ("keys", "key_details", "next_marker", "truncated", "total")
    KEYS_FIELD_NUMBER: _ClassVar[int]
    KEY_DETAILS_FIELD_NUMBER: _ClassVar[int]
    NEXT_MARKER_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    keys: _containers.RepeatedScalarFieldContainer[str]
    key_details: _containers.RepeatedCompositeFieldContainer[KeyInfo]
    next_marker: str
    truncated: bool
    total: int
    def __init__(self, keys: _Optional[_Iterable[str]] = ..., key_details: _Optional[_Iterable[_Union[KeyInfo, _Mapping]]] = ..., next_marker: _Optional[str] = ..., truncated: _Optional[bool] = ..., total: _Optional[int] = ...) -> None: ...

class ScheduleKeyDeletionRequest(_message.Message):
    __slots__ = ("key_id", "pending_days", "sequence")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    PENDING_DAYS_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    pending_days: int
    sequence: str
    def __init__(self, key_id: _Optional[str] = ..., pending_days: _Optional[int] = ..., sequence: _Optional[str] = ...) -> None: ...

class UpdateKeyAliasRequest(_message.Message):
    __slots__ = ("key_id", "key_alias", "sequence")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_ALIAS_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    key_alias: str
    sequence: str
    def __init__(self, key_id: _Optional[str] = ..., key_alias: _Optional[str] = ..., sequence: _Optional[str] = ...) -> None: ...

class UpdateKeyDescriptionRequest(_message.Message):
    __slots__ = ("key_id", "key_description", "sequence")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    key_description: str
    sequence: str
    def __init__(self, key_id: _Optional[str] = ..., key_description: _Optional[str] = ..., sequence: _Optional[str] = ...) -> None: ...

class GenerateRandomRequest(_message.Message):
    __slots__ = ("random_data_length", "sequence")
    RANDOM_DATA_LENGTH_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    random_data_length: int
    sequence: str
    def __init__(self, random_data_length: _Optional[int] = ..., sequence: _Optional[str] = ...) -> None: ...

class GenerateRandomResponse(_message.Message):
    __slots__ = ("random_data",)
    RANDOM_DATA_FIELD_NUMBER: _ClassVar[int]
    random_data: bytes
    def __init__(self, random_data: _Optional[bytes] = ...) -> None: ...

class CreateDataKeyRequest(_message.Message):
    __slots__ = ("key_id", "datakey_length", "encryption_context", "sequence", "additional_authenticated_data")
    class EncryptionContextEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    DATAKEY_LENGTH_FIELD_NUMBER: _ClassVar[int]
    ENCRYPTION_CONTEXT_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    ADDITIONAL_AUTHENTICATED_DATA_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    datakey_length: int
    encryption_context: _containers.ScalarMap[str, str]
    sequence: str
    additional_authenticated_data: str
    def __init__(self, key_id: _Optional[str] = ..., datakey_length: _Optional[int] = ..., encryption_context: _Optional[_Mapping[str, str]] = ..., sequence: _Optional[str] = ..., additional_authenticated_data: _Optional[str] = ...) -> None: ...

class CreateDataKeyResponse(_message.Message):
    __slots__ = ("key_id", "plain_text", "cipher_text")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    PLAIN_TEXT_FIELD_NUMBER: _ClassVar[int]
    CIPHER_TEXT_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    plain_text: bytes
    cipher_text: bytes
    def __init__(self, key_id: _Optional[str] = ..., plain_text: _Optional[bytes] = ..., cipher_text: _Optional[bytes] = ...) -> None: ...

class EncryptDataKeyRequest(_message.Message):
    __slots__ = ("key_id", "plain_text", "datakey_plain_length", "encryption_context", "sequence", "additional_authenticated_data")
    class EncryptionContextEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    PLAIN_TEXT_FIELD_NUMBER: _ClassVar[int]
    DATAKEY_PLAIN_LENGTH_FIELD_NUMBER: _ClassVar[int]
    ENCRYPTION_CONTEXT_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    ADDITIONAL_AUTHENTICATED_DATA_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    plain_text: bytes
    datakey_plain_length: int
    encryption_context: _containers.ScalarMap[str, str]
    sequence: str
    additional_authenticated_data: str
    def __init__(self, key_id: _Optional[str] = ..., plain_text: _Optional[bytes] = ..., datakey_plain_length: _Optional[int] = ..., encryption_context: _Optional[_Mapping[str, str]] = ..., sequence: _Optional[str] = ..., additional_authenticated_data: _Optional[str] = ...) -> None: ...

class EncryptDataKeyResponse(_message.Message):
    __slots__ = ("key_id", "cipher_text", "datakey_length")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    CIPHER_TEXT_FIELD_NUMBER: _ClassVar[int]
    DATAKEY_LENGTH_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    cipher_text: bytes
    datakey_length: int
    def __init__(self, key_id: _Optional[str] = ..., cipher_text: _Optional[bytes] = ..., datakey_length: _Optional[int] = ...) -> None: ...

class DecryptDataKeyRequest(_message.Message):
    __slots__ = ("key_id", "cipher_text", "datakey_cipher_length", "encryption_context", "sequence", "additional_authenticated_data")
    class EncryptionContextEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    CIPHER_TEXT_FIELD_NUMBER: _ClassVar[int]
    DATAKEY_CIPHER_LENGTH_FIELD_NUMBER: _ClassVar[int]
    ENCRYPTION_CONTEXT_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    ADDITIONAL_AUTHENTICATED_DATA_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    cipher_text: bytes
    datakey_cipher_length: int
    encryption_context: _containers.ScalarMap[str, str]
    sequence: str
    additional_authenticated_data: str
    def __init__(self, key_id: _Optional[str] = ..., cipher_text: _Optional[bytes] = ..., datakey_cipher_length: _Optional[int] = ..., encryption_context: _Optional[_Mapping[str, str]] = ..., sequence: _Optional[str] = ..., additional_authenticated_data: _Optional[str] = ...) -> None: ...

class DecryptDataKeyResponse(_message.Message):
    __slots__ = ("data_key", "datakey_length", "datakey_digest")
    DATA_KEY_FIELD_NUMBER: _ClassVar[int]
    DATAKEY_LENGTH_FIELD_NUMBER: _ClassVar[int]
    DATAKEY_DIGEST_FIELD_NUMBER: _ClassVar[int]
    data_key: bytes
    datakey_length: int
    datakey_digest: bytes
    def __init__(self, data_key: _Optional[bytes] = ..., datakey_length: _Optional[int] = ..., datakey_digest: _Optional[bytes] = ...) -> None: ...

class EncryptDataRequest(_message.Message):
    __slots__ = ("key_id", "plain_text", "encryption_context", "encryption_algorithm", "sequence", "additional_authenticated_data")
    class EncryptionContextEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    PLAIN_TEXT_FIELD_NUMBER: _ClassVar[int]
    ENCRYPTION_CONTEXT_FIELD_NUMBER: _ClassVar[int]
    ENCRYPTION_ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    ADDITIONAL_AUTHENTICATED_DATA_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    plain_text: bytes
    encryption_context: _containers.ScalarMap[str, str]
    encryption_algorithm: str
    sequence: str
    additional_authenticated_data: str
    def __init__(self, key_id: _Optional[str] = ..., plain_text: _Optional[bytes] = ..., encryption_context: _Optional[_Mapping[str, str]] = ..., encryption_algorithm: _Optional[str] = ..., sequence: _Optional[str] = ..., additional_authenticated_data: _Optional[str] = ...) -> None: ...

class EncryptDataResponse(_message.Message):
    __slots__ = ("key_id", "cipher_text")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    CIPHER_TEXT_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    cipher_text: bytes
    def __init__(self, key_id: _Optional[str] = ..., cipher_text: _Optional[bytes] = ...) -> None: ...

class DecryptDataRequest(_message.Message):
    __slots__ = ("cipher_text", "encryption_context", "key_id", "encryption_algorithm", "sequence", "additional_authenticated_data")
    class EncryptionContextEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CIPHER_TEXT_FIELD_NUMBER: _ClassVar[int]
    ENCRYPTION_CONTEXT_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    ENCRYPTION_ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    ADDITIONAL_AUTHENTICATED_DATA_FIELD_NUMBER: _ClassVar[int]
    cipher_text: bytes
    encryption_context: _containers.ScalarMap[str, str]
    key_id: str
    encryption_algorithm: str
    sequence: str
    additional_authenticated_data: str
    def __init__(self, cipher_text: _Optional[bytes] = ..., encryption_context: _Optional[_Mapping[str, str]] = ..., key_id: _Optional[str] = ..., encryption_algorithm: _Optional[str] = ..., sequence: _Optional[str] = ..., additional_authenticated_data: _Optional[str] = ...) -> None: ...

class DecryptDataResponse(_message.Message):
    __slots__ = ("key_id", "plain_text")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    PLAIN_TEXT_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    plain_text: bytes
    def __init__(self, key_id: _Optional[str] = ..., plain_text: _Optional[bytes] = ...) -> None: ...

class GetUserInstancesResponse(_message.Message):
    __slots__ = ("instance_num",)
    INSTANCE_NUM_FIELD_NUMBER: _ClassVar[int]
    instance_num: int
    def __init__(self, instance_num: _Optional[int] = ...) -> None: ...

class QuotaResource(_message.Message):
    __slots__ = ("type", "used", "quota")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    USED_FIELD_NUMBER: _ClassVar[int]
    QUOTA_FIELD_NUMBER: _ClassVar[int]
    type: str
    used: int
    quota: int
    def __init__(self, type: _Optional[str] = ..., used: _Optional[int] = ..., quota: _Optional[int] = ...) -> None: ...

class GetUserQuotasResponse(_message.Message):
    __slots__ = ("resources",)
    RESOURCES_FIELD_NUMBER: _ClassVar[int]
    resources: _containers.RepeatedCompositeFieldContainer[QuotaResource]
    def __init__(self, resources: _Optional[_Iterable[_Union[QuotaResource, _Mapping]]] = ...) -> None: ...

class BatchCreateDataKeyRequest(_message.Message):
    __slots__ = ("key_id", "count", "datakey_length", "encryption_context", "without_plaintext", "additional_authenticated_data")
    class EncryptionContextEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    DATAKEY_LENGTH_FIELD_NUMBER: _ClassVar[int]
    ENCRYPTION_CONTEXT_FIELD_NUMBER: _ClassVar[int]
    WITHOUT_PLAINTEXT_FIELD_NUMBER: _ClassVar[int]
    ADDITIONAL_AUTHENTICATED_DATA_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    count: int
    datakey_length: int
    encryption_context: _containers.ScalarMap[str, str]
    without_plaintext: bool
    additional_authenticated_data: str
    def __init__(self, key_id: _Optional[str] = ..., count: _Optional[int] = ..., datakey_length: _Optional[int] = ..., encryption_context: _Optional[_Mapping[str, str]] = ..., without_plaintext: _Optional[bool] = ..., additional_authenticated_data: _Optional[str] = ...) -> None: ...

class CreateDataKeyResult(_message.Message):
    __slots__ = ("plain_text", "cipher_text", "error")
    PLAIN_TEXT_FIELD_NUMBER: _ClassVar[int]
    CIPHER_TEXT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    plain_text: bytes
    cipher_text: bytes
    error: Error
    def __init__(self, plain_text: _Optional[bytes] = ..., cipher_text: _Optional[bytes] = ..., error: _Optional[_Union[Error, _Mapping]] = ...) -> None: ...

class BatchCreateDataKeyResponse(_message.Message):
    __slots__ = ("key_id", "results")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    results: _containers.RepeatedCompositeFieldContainer[CreateDataKeyResult]
    def __init__(self, key_id: _Optional[str] = ..., results: _Optional[_Iterable[_Union[CreateDataKeyResult, _Mapping]]] = ...) -> None: ...

class BatchEncryptDataKeyRequest(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[EncryptDataKeyRequest]
    def __init__(self, items: _Optional[_Iterable[_Union[EncryptDataKeyRequest, _Mapping]]] = ...) -> None: ...

class EncryptDataKeyResult(_message.Message):
    __slots__ = ("key_id", "cipher_text", "datakey_length", "error")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    CIPHER_TEXT_FIELD_NUMBER: _ClassVar[int]
    DATAKEY_LENGTH_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    cipher_text: bytes
    datakey_length: int
    error: Error
    def __init__(self, key_id: _Optional[str] = ..., cipher_text: _Optional[bytes] = ..., datakey_length: _Optional[int] = ..., error: _Optional[_Union[Error, _Mapping]] = ...) -> None: ...

class BatchEncryptDataKeyResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[EncryptDataKeyResult]
    def __init__(self, results: _Optional[_Iterable[_Union[EncryptDataKeyResult, _Mapping]]] = ...) -> None: ...

class BatchDecryptDataKeyRequest(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[DecryptDataKeyRequest]
    def __init__(self, items: _Optional[_Iterable[_Union[DecryptDataKeyRequest, _Mapping]]] = ...) -> None: ...

class DecryptDataKeyResult(_message.Message):
    __slots__ = ("data_key", "datakey_length", "datakey_digest", "error")
    DATA_KEY_FIELD_NUMBER: _ClassVar[int]
    DATAKEY_LENGTH_FIELD_NUMBER: _ClassVar[int]
    DATAKEY_DIGEST_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    data_key: bytes
    datakey_length: int
    datakey_digest: bytes
    error: Error
    def __init__(self, data_key: _Optional[bytes] = ..., datakey_length: _Optional[int] = ..., datakey_digest: _Optional[bytes] = ..., error: _Optional[_Union[Error, _Mapping]] = ...) -> None: ...

class BatchDecryptDataKeyResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[DecryptDataKeyResult]
    def __init__(self, results: _Optional[_Iterable[_Union[DecryptDataKeyResult, _Mapping]]] = ...) -> None: ...

class KeyRotationStatusResponse(_message.Message):
    __slots__ = ("key_id", "key_rotation_enabled", "rotation_interval", "last_rotation_time", "number_of_rotations", "key_version")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_ROTATION_ENABLED_FIELD_NUMBER: _ClassVar[int]
    ROTATION_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    LAST_ROTATION_TIME_FIELD_NUMBER: _ClassVar[int]
    NUMBER_OF_ROTATIONS_FIELD_NUMBER: _ClassVar[int]
    KEY_VERSION_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    key_rotation_enabled: bool
    rotation_interval: int
    last_rotation_time: int
    number_of_rotations: int
    key_version: int
    def __init__(self, key_id: _Optional[str] = ..., key_rotation_enabled: _Optional[bool] = ..., rotation_interval: _Optional[int] = ..., last_rotation_time: _Optional[int] = ..., number_of_rotations: _Optional[int] = ..., key_version: _Optional[int] = ...) -> None: ...

class UpdateKeyRotationIntervalRequest(_message.Message):
    __slots__ = ("key_id", "rotation_interval", "sequence")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    ROTATION_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    rotation_interval: int
    sequence: str
    def __init__(self, key_id: _Optional[str] = ..., rotation_interval: _Optional[int] = ..., sequence: _Optional[str] = ...) -> None: ...

class RotateOnDemandResponse(_message.Message):
    __slots__ = ("key_id", "key_version")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_VERSION_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    key_version: int
    def __init__(self, key_id: _Optional[str] = ..., key_version: _Optional[int] = ...) -> None: ...

class CreateGrantRequest(_message.Message):
    __slots__ = ("key_id", "grantee_principal", "operations", "name", "retiring_principal", "grantee_principal_type", "sequence")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    GRANTEE_PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    OPERATIONS_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    RETIRING_PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    GRANTEE_PRINCIPAL_TYPE_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    grantee_principal: str
    operations: _containers.RepeatedScalarFieldContainer[str]
    name: str
    retiring_principal: str
    grantee_principal_type: str
    sequence: str
    def __init__(self, key_id: _Optional[str] = ..., grantee_principal: _Optional[str] = ..., operations: _Optional[_Iterable[str]] = ..., name: _Optional[str] = ..., retiring_principal: _Optional[str] = ..., grantee_principal_type: _Optional[str] = ..., sequence: _Optional[str] = ...) -> None: ...

class CreateGrantResponse(_message.Message):
    __slots__ = ("grant_id",)
    GRANT_ID_FIELD_NUMBER: _ClassVar[int]
    grant_id: str
    def __init__(self, grant_id: _Optional[str] = ...) -> None: ...

class Grant(_message.Message):
    __slots__ = ("key_id", "grant_id", "grantee_principal", "grantee_principal_type", "operations", "issuing_principal", "creation_date", "name", "retiring_principal")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    GRANT_ID_FIELD_NUMBER: _ClassVar[int]
    GRANTEE_PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    GRANTEE_PRINCIPAL_TYPE_FIELD_NUMBER: _ClassVar[int]
    OPERATIONS_FIELD_NUMBER: _ClassVar[int]
    ISSUING_PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    CREATION_DATE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    RETIRING_PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    grant_id: str
    grantee_principal: str
    grantee_principal_type: str
    operations: _containers.RepeatedScalarFieldContainer[str]
    issuing_principal: str
    creation_date: int
    name: str
    retiring_principal: str
    def __init__(self, key_id: _Optional[str] = ..., grant_id: _Optional[str] = ..., grantee_principal: _Optional[str] = ..., grantee_principal_type: _Optional[str] = ..., operations: _Optional[_Iterable[str]] = ..., issuing_principal: _Optional[str] = ..., creation_date: _Optional[int] = ..., name: _Optional[str] = ..., retiring_principal: _Optional[str] = ...) -> None: ...

class ListGrantsRequest(_message.Message):
    __slots__ = ("key_id", "limit", "marker", "sequence")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    MARKER_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    limit: int
    marker: str
    sequence: str
    def __init__(self, key_id: _Optional[str] = ..., limit: _Optional[int] = ..., marker: _Optional[str] = ..., sequence: _Optional[str] = ...) -> None: ...

class ListRetirableGrantsRequest(_message.Message):
    __slots__ = ("limit", "marker", "sequence")
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    MARKER_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    limit: int
    marker: str
    sequence: str
    def __init__(self, limit: _Optional[int] = ..., marker: _Optional[str] = ..., sequence: _Optional[str] = ...) -> None: ...

class ListGrantsResponse(_message.Message):
    __slots__ = ("grants", "next_marker", "truncated", "total")
    GRANTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_MARKER_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    grants: _containers.RepeatedCompositeFieldContainer[Grant]
    next_marker: str
    truncated: bool
    total: int
    def __init__(self, grants: _Optional[_Iterable[_Union[Grant, _Mapping]]] = ..., next_marker: _Optional[str] = ..., truncated: _Optional[bool] = ..., total: _Optional[int] = ...) -> None: ...

class GrantIdRequest(_message.Message):
    __slots__ = ("key_id", "grant_id", "sequence")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    GRANT_ID_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    grant_id: str
    sequence: str
    def __init__(self, key_id: _Optional[str] = ..., grant_id: _Optional[str] = ..., sequence: _Optional[str] = ...) -> None: ...

class TagItem(_message.Message):
    __slots__ = ("key", "value")
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    key: str
    value: str
    def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...

class Tag(_message.Message):
    __slots__ = ("key", "values")
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    key: str
    values: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, key: _Optional[str] = ..., values: _Optional[_Iterable[str]] = ...) -> None: ...

class CreateKeyTagRequest(_message.Message):
    __slots__ = ("key_id", "tag", "sequence")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    TAG_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    tag: TagItem
    sequence: str
    def __init__(self, key_id: _Optional[str] = ..., tag: _Optional[_Union[TagItem, _Mapping]] = ..., sequence: _Optional[str] = ...) -> None: ...

class BatchKeyTagsRequest(_message.Message):
    __slots__ = ("key_id", "tags", "action", "sequence")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    tags: _containers.RepeatedCompositeFieldContainer[TagItem]
    action: str
    sequence: str
    def __init__(self, key_id: _Optional[str] = ..., tags: _Optional[_Iterable[_Union[TagItem, _Mapping]]] = ..., action: _Optional[str] = ..., sequence: _Optional[str] = ...) -> None: ...

class DeleteKeyTagRequest(_message.Message):
    __slots__ = ("key_id", "key", "sequence")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    key: str
    sequence: str
    def __init__(self, key_id: _Optional[str] = ..., key: _Optional[str] = ..., sequence: _Optional[str] = ...) -> None: ...

class ListKeyTagsResponse(_message.Message):
    __slots__ = ("tags", "existTagsNum")
    TAGS_FIELD_NUMBER: _ClassVar[int]
    EXISTTAGSNUM_FIELD_NUMBER: _ClassVar[int]
    tags: _containers.RepeatedCompositeFieldContainer[TagItem]
    existTagsNum: int
    def __init__(self, tags: _Optional[_Iterable[_Union[TagItem, _Mapping]]] = ..., existTagsNum: _Optional[int] = ...) -> None: ...

class ListProjectTagsResponse(_message.Message):
    __slots__ = ("tags",)
    TAGS_FIELD_NUMBER: _ClassVar[int]
    tags: _containers.RepeatedCompositeFieldContainer[Tag]
    def __init__(self, tags: _Optional[_Iterable[_Union[Tag, _Mapping]]] = ...) -> None: ...

class ListResourceInstancesRequest(_message.Message):
    __slots__ = ("action", "limit", "offset", "tags", "matches", "sequence")
    ACTION_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    MATCHES_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    action: str
    limit: int
    offset: int
    tags: _containers.RepeatedCompositeFieldContainer[Tag]
    matches: _containers.RepeatedCompositeFieldContainer[TagItem]
    sequence: str
    def __init__(self, action: _Optional[str] = ..., limit: _Optional[int] = ..., offset: _Optional[int] = ..., tags: _Optional[_Iterable[_Union[Tag, _Mapping]]] = ..., matches: _Optional[_Iterable[_Union[TagItem, _Mapping]]] = ..., sequence: _Optional[str] = ...) -> None: ...

class ResourceInstance(_message.Message):
    __slots__ = ("resource_id", "resource_detail", "resource_name", "tags")
    RESOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_DETAIL_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_NAME_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    resource_id: str
    resource_detail: KeyInfo
    resource_name: str
    tags: _containers.RepeatedCompositeFieldContainer[TagItem]
    def __init__(self, resource_id: _Optional[str] = ..., resource_detail: _Optional[_Union[KeyInfo, _Mapping]] = ..., resource_name: _Optional[str] = ..., tags: _Optional[_Iterable[_Union[TagItem, _Mapping]]] = ...) -> None: ...

class ListResourceInstancesResponse(_message.Message):
    __slots__ = ("resources", "total_count")
    RESOURCES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_COUNT_FIELD_NUMBER: _ClassVar[int]
    resources: _containers.RepeatedCompositeFieldContainer[ResourceInstance]
    total_count: int
    def __init__(self, resources: _Optional[_Iterable[_Union[ResourceInstance, _Mapping]]] = ..., total_count: _Optional[int] = ...) -> None: ...

class SignRequest(_message.Message):
    __slots__ = ("key_id", "message", "signing_algorithm", "message_type", "sequence")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    SIGNING_ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_TYPE_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    message: bytes
    signing_algorithm: str
    message_type: str
    sequence: str
    def __init__(self, key_id: _Optional[str] = ..., message: _Optional[bytes] = ..., signing_algorithm: _Optional[str] = ..., message_type: _Optional[str] = ..., sequence: _Optional[str] = ...) -> None: ...

class SignResponse(_message.Message):
    __slots__ = ("key_id", "signature")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    signature: bytes
    def __init__(self, key_id: _Optional[str] = ..., signature: _Optional[bytes] = ...) -> None: ...

class VerifyRequest(_message.Message):
    __slots__ = ("key_id", "message", "signature", "signing_algorithm", "message_type", "sequence")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    SIGNING_ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_TYPE_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    message: bytes
    signature: bytes
    signing_algorithm: str
    message_type: str
    sequence: str
    def __init__(self, key_id: _Optional[str] = ..., message: _Optional[bytes] = ..., signature: _Optional[bytes] = ..., signing_algorithm: _Optional[str] = ..., message_type: _Optional[str] = ..., sequence: _Optional[str] = ...) -> None: ...

class VerifyResponse(_message.Message):
    __slots__ = ("key_id", "signature_valid")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_VALID_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    signature_valid: bool
    def __init__(self, key_id: _Optional[str] = ..., signature_valid: _Optional[bool] = ...) -> None: ...

class GetPublicKeyResponse(_message.Message):
    __slots__ = ("key_id", "public_key", "public_key_der", "key_spec", "key_usage")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_DER_FIELD_NUMBER: _ClassVar[int]
    KEY_SPEC_FIELD_NUMBER: _ClassVar[int]
    KEY_USAGE_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    public_key: str
    public_key_der: bytes
    key_spec: str
    key_usage: str
    def __init__(self, key_id: _Optional[str] = ..., public_key: _Optional[str] = ..., public_key_der: _Optional[bytes] = ..., key_spec: _Optional[str] = ..., key_usage: _Optional[str] = ...) -> None: ...

class GetParametersForImportRequest(_message.Message):
    __slots__ = ("key_id", "wrapping_algorithm", "sequence")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    WRAPPING_ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    wrapping_algorithm: str
    sequence: str
    def __init__(self, key_id: _Optional[str] = ..., wrapping_algorithm: _Optional[str] = ..., sequence: _Optional[str] = ...) -> None: ...

class GetParametersForImportResponse(_message.Message):
    __slots__ = ("key_id", "import_token", "expiration_time", "public_key")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    IMPORT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    EXPIRATION_TIME_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    import_token: bytes
    expiration_time: int
    public_key: bytes
    def __init__(self, key_id: _Optional[str] = ..., import_token: _Optional[bytes] = ..., expiration_time: _Optional[int] = ..., public_key: _Optional[bytes] = ...) -> None: ...

class ImportKeyMaterialRequest(_message.Message):
    __slots__ = ("key_id", "import_token", "encrypted_key_material", "expiration_time", "sequence")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    IMPORT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ENCRYPTED_KEY_MATERIAL_FIELD_NUMBER: _ClassVar[int]
    EXPIRATION_TIME_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    import_token: bytes
    encrypted_key_material: bytes
    expiration_time: int
    sequence: str
    def __init__(self, key_id: _Optional[str] = ..., import_token: _Optional[bytes] = ..., encrypted_key_material: _Optional[bytes] = ..., expiration_time: _Optional[int] = ..., sequence: _Optional[str] = ...) -> None: ...
