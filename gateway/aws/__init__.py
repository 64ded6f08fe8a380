"""Transport: the AWS KMS API (AWS JSON 1.1, ``X-Amz-Target: TrentService.*``, SigV4 service ``kms``).

It decodes the wire against AWS's service model, names the operation (a catalog entry bound to the
``aws`` transport) and encodes the answer; the AWS semantics live in gateway/core/aws, the rules
every transport shares in gateway/pipeline. docs/aws-kms.md is the user's page.
"""

from gateway.aws.app import RESET_PATH, AwsEndpoint, create_aws_app, target_of

__all__ = ["RESET_PATH", "AwsEndpoint", "create_aws_app", "target_of"]
