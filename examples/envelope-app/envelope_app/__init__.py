"""envelope-app: a small application that keeps records encrypted under a KMS (an example for kmsgw).

- :mod:`envelope_app.vault`: envelope encryption of records over gRPC, with the retry policy an
  application wants when its KMS's HSM has a bad moment;
- :mod:`envelope_app.keys`: key administration through the official ``huaweicloudsdkkms`` SDK.

Its test suite (``tests/``) runs against a real kmsgw gateway through the pytest plugin's fixtures.
"""

from envelope_app.keys import KeyAdmin
from envelope_app.vault import SealedRecord, Vault, VaultUnavailable

__all__ = ["KeyAdmin", "SealedRecord", "Vault", "VaultUnavailable"]
