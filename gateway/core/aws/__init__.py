"""The AWS KMS API's semantics over the one core: accounts and regions, key ARNs and aliases, key
policies and grants, AWS's error names. The AWS transport (gateway/aws) only decodes and encodes."""

from gateway.core.aws.service import AwsService

__all__ = ["AwsService"]
