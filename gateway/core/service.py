"""The service core's front door: every KMS operation, independent of any transport.

:class:`Kms` builds the collaborators (one per operation group, each given exactly the ports and
helpers it uses) and exposes their public operations under one name, so transports, tests and the
CLI call ``kms.create_key(...)`` without knowing which group owns it. Transports map :class:`KmsError`.
"""

from __future__ import annotations

from gateway.core.asymmetric import AsymmetricOps
from gateway.core.byok import ImportOps
from gateway.core.clock import Clock, ms
from gateway.core.data import DataOps
from gateway.core.datakeys import DataKeyOps
from gateway.core.grants import GrantOps
from gateway.core.housekeeping import Housekeeping
from gateway.core.keyaccess import KeyAccess
from gateway.core.keys import KeyLifecycle
from gateway.core.keyspecs import KeySpecPolicy
from gateway.core.ports.hsm import HsmPort
from gateway.core.ports.metrics import CoreMetrics, NoMetrics
from gateway.core.ports.store import MetadataStore
from gateway.core.quotas import QuotaOps
from gateway.core.randomness import RandomOps
from gateway.core.rotation import RotationOps
from gateway.core.settings import Settings
from gateway.core.tags import TagOps


class Kms:
    """All operations over one store and one HSM port.

    Each public operation is the bound method of the collaborator that owns it (same name, same
    signature), assigned once here: the delegation is explicit and costs no extra call.
    """

    def __init__(
        self,
        store: MetadataStore,
        hsm: HsmPort,
        clock: Clock,
        settings: Settings | None = None,
        metrics: CoreMetrics | None = None,
    ) -> None:
        self.store = store
        self.hsm = hsm
        self.clock = clock
        self.settings = settings or Settings()
        self.specs = KeySpecPolicy(hsm)
        self.key_access = KeyAccess(store, self.settings, self.specs)

        self.lifecycle = lifecycle = KeyLifecycle(store, hsm, self.key_access, self.specs, clock, self.settings)
        self.create_key = lifecycle.create_key
        self.describe_key = lifecycle.describe_key
        self.list_keys = lifecycle.list_keys
        self.enable_key = lifecycle.enable_key
        self.disable_key = lifecycle.disable_key
        self.schedule_key_deletion = lifecycle.schedule_key_deletion
        self.cancel_key_deletion = lifecycle.cancel_key_deletion
        self.update_key_alias = lifecycle.update_key_alias
        self.update_key_description = lifecycle.update_key_description

        self.datakeys = datakeys = DataKeyOps(hsm, self.key_access, self.settings, metrics or NoMetrics())
        self.create_data_key = datakeys.create_data_key
        self.create_data_keys = datakeys.create_data_keys
        self.encrypt_data_key = datakeys.encrypt_data_key
        self.encrypt_data_keys = datakeys.encrypt_data_keys
        self.decrypt_data_key = datakeys.decrypt_data_key
        self.decrypt_data_keys = datakeys.decrypt_data_keys

        self.asymmetric = asymmetric = AsymmetricOps(hsm, self.key_access)
        self.sign = asymmetric.sign
        self.verify = asymmetric.verify
        self.get_public_key = asymmetric.get_public_key
        self.encrypt_data_asymmetric = asymmetric.encrypt_data_asymmetric
        self.decrypt_data_asymmetric = asymmetric.decrypt_data_asymmetric

        self.data = data = DataOps(hsm, self.key_access, asymmetric, self.settings)
        self.encrypt_data = data.encrypt_data
        self.decrypt_data = data.decrypt_data

        self.randomness = RandomOps(hsm)
        self.generate_random = self.randomness.generate_random

        self.quotas = quotas = QuotaOps(store, self.settings)
        self.get_user_instances = quotas.get_user_instances
        self.get_user_quotas = quotas.get_user_quotas

        self.rotation = rotation = RotationOps(store, hsm, self.key_access, clock)
        self.enable_key_rotation = rotation.enable_key_rotation
        self.disable_key_rotation = rotation.disable_key_rotation
        self.update_key_rotation_interval = rotation.update_key_rotation_interval
        self.get_key_rotation_status = rotation.get_key_rotation_status
        self.rotate_on_demand = rotation.rotate_on_demand
        self.rotate_due_keys = rotation.rotate_due_keys
        self.rotation_enabled_keys = rotation.rotation_enabled_keys

        self.grants = grants = GrantOps(store, self.key_access, clock, self.settings)
        self.create_grant = grants.create_grant
        self.list_grants = grants.list_grants
        self.list_retirable_grants = grants.list_retirable_grants
        self.revoke_grant = grants.revoke_grant
        self.retire_grant = grants.retire_grant

        self.tags = tags = TagOps(store, self.key_access)
        self.create_key_tag = tags.create_key_tag
        self.batch_key_tags = tags.batch_key_tags
        self.delete_key_tag = tags.delete_key_tag
        self.list_key_tags = tags.list_key_tags
        self.list_project_tags = tags.list_project_tags
        self.list_resource_instances = tags.list_resource_instances

        self.imports = imports = ImportOps(store, hsm, self.key_access, clock, self.settings)
        self.get_parameters_for_import = imports.get_parameters_for_import
        self.import_key_material = imports.import_key_material
        self.delete_imported_key_material = imports.delete_imported_key_material
        self.import_sweep = imports.import_sweep

        self.housekeeping = housekeeping = Housekeeping(store, hsm, clock, self.settings)
        self.reconcile = housekeeping.reconcile
        self.sweep_reconcile = housekeeping.sweep_reconcile
        self.delete_due_keys = housekeeping.delete_due_keys

    def now_ms(self) -> int:
        return ms(self.clock.now())
