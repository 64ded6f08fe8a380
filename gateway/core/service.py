"""The service core: every KMS operation, independent of any transport.

Each operation group lives in its own module as a mixin over :class:`CoreBase`; this
class only puts them together. Transports call these methods and map :class:`KmsError`.
"""

from __future__ import annotations

from gateway.core.asymmetric import AsymmetricOps
from gateway.core.byok import ImportOps
from gateway.core.data import DataOps
from gateway.core.datakeys import DataKeyOps
from gateway.core.grants import GrantOps
from gateway.core.housekeeping import Housekeeping
from gateway.core.keys import KeyLifecycle
from gateway.core.quotas import QuotaOps
from gateway.core.randomness import RandomOps
from gateway.core.rotation import RotationOps
from gateway.core.tags import TagOps


class Kms(
    KeyLifecycle,
    DataKeyOps,
    DataOps,
    RandomOps,
    QuotaOps,
    Housekeeping,
    RotationOps,
    GrantOps,
    TagOps,
    AsymmetricOps,
    ImportOps,
):
    """All operations over one store and one HSM port."""
