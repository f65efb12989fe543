"""CloudFormation resource types the local AWS (moto 5.2) has a service for but no CloudFormation model.

moto's CloudFormation skips a resource type it has no model for ("No Moto CloudFormation support for ...") and then
fails the stack's outputs with "Fn::GetAtt references undefined resource" (measured: a Secrets Manager secret and
an ElastiCache replication group in one template; describe_stacks answered ValidationError). moto's Secrets Manager
and ElastiCache services themselves work, so these models create the resources *through those services'
backends*: a deployed stack is then read back through the real APIs (``secretsmanager.get_secret_value``,
``elasticache.describe_replication_groups``), as on AWS. Nothing here invents a value AWS would compute
differently; what moto cannot model at all is listed in ``test_deployment_stack.py``.

Registered in the process that runs the moto server (a process of its own: ``test_deployment_stack.SERVE``).
"""

from __future__ import annotations

import json
from typing import Any

from moto.cloudformation import parsing
from moto.core.common_models import CloudFormationModel
from moto.elasticache.models import elasticache_backends
from moto.secretsmanager.models import secretsmanager_backends


def _name(value: Any) -> str:
    """A Ref inside moto's templates is the resource object when it has no physical id."""
    return getattr(value, "physical_resource_id", None) or getattr(value, "cache_subnet_group_name", value)


class GeneratedSecret(CloudFormationModel):
    """``AWS::SecretsManager::Secret`` with ``GenerateSecretString`` (or ``SecretString``); Ref is its ARN."""

    def __init__(self, arn: str, name: str):
        self.arn = arn
        self.name = name

    @staticmethod
    def cloudformation_name_type() -> str:
        return "Name"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SecretsManager::Secret"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in {"Id"}

    @property
    def physical_resource_id(self) -> str:
        return self.arn

    def get_cfn_attribute(self, attribute_name: str) -> str:
        return self.arn

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        properties = cloudformation_json["Properties"]
        backend = secretsmanager_backends[account_id][region_name]
        secret_string = properties.get("SecretString")
        generate = properties.get("GenerateSecretString")
        if generate is not None:
            password = backend.get_random_password(
                password_length=int(generate.get("PasswordLength", 32)),
                exclude_characters=generate.get("ExcludeCharacters", ""),
                exclude_numbers=bool(generate.get("ExcludeNumbers", False)),
                exclude_punctuation=bool(generate.get("ExcludePunctuation", False)),
                exclude_uppercase=bool(generate.get("ExcludeUppercase", False)),
                exclude_lowercase=bool(generate.get("ExcludeLowercase", False)),
                include_space=bool(generate.get("IncludeSpace", False)),
                require_each_included_type=bool(generate.get("RequireEachIncludedType", True)),
            )
            password = json.loads(password)["RandomPassword"]  # moto answers the API's JSON document
            if "SecretStringTemplate" in generate:
                secret_string = json.dumps({**json.loads(generate["SecretStringTemplate"]),
                                            generate["GenerateStringKey"]: password})
            else:
                secret_string = password
        kms_key = properties.get("KmsKeyId")
        created = backend.create_secret(
            name=resource_name, secret_string=secret_string, secret_binary=None,
            description=properties.get("Description"), tags=properties.get("Tags"),
            kms_key_id=_name(kms_key) if kms_key else None, client_request_token=None, replica_regions=[],
            force_overwrite=False,
        )
        return cls(json.loads(created)["ARN"], resource_name)  # the API's JSON document, as for the password

    @classmethod
    def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json, account_id,
                                        region_name):
        return original_resource  # the value is generated once; an update keeps it, as CloudFormation does

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
        secretsmanager_backends[account_id][region_name].delete_secret(
            secret_id=resource_name, recovery_window_in_days=None, force_delete_without_recovery=True)

    def delete(self, account_id: str, region_name: str) -> None:
        secretsmanager_backends[account_id][region_name].delete_secret(
            secret_id=self.arn, recovery_window_in_days=None, force_delete_without_recovery=True)

    def is_created(self) -> bool:
        return True


class CacheSubnets(CloudFormationModel):
    """``AWS::ElastiCache::SubnetGroup``; Ref is its name."""

    def __init__(self, name: str):
        self.name = name

    @staticmethod
    def cloudformation_name_type() -> str:
        return "CacheSubnetGroupName"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::ElastiCache::SubnetGroup"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return False

    @property
    def physical_resource_id(self) -> str:
        return self.name

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        properties = cloudformation_json["Properties"]
        name = resource_name.lower()
        elasticache_backends[account_id][region_name].create_cache_subnet_group(
            cache_subnet_group_name=name, cache_subnet_group_description=properties["Description"],
            subnet_ids=[_name(subnet) for subnet in properties["SubnetIds"]], tags=properties.get("Tags"))
        return cls(name)

    @classmethod
    def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json, account_id,
                                        region_name):
        return original_resource

    def delete(self, account_id: str, region_name: str) -> None:
        elasticache_backends[account_id][region_name].cache_subnet_groups.pop(self.name, None)

    def is_created(self) -> bool:
        return True


class RedisReplicationGroup(CloudFormationModel):
    """``AWS::ElastiCache::ReplicationGroup`` (cluster mode off); GetAtt ``PrimaryEndPoint.Address``/``.Port``."""

    def __init__(self, group_id: str, account_id: str, region_name: str):
        self.group_id = group_id
        self.account_id = account_id
        self.region_name = region_name

    @staticmethod
    def cloudformation_name_type() -> str:
        return "ReplicationGroupId"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::ElastiCache::ReplicationGroup"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in {"PrimaryEndPoint.Address", "PrimaryEndPoint.Port", "ReaderEndPoint.Address"}

    @property
    def physical_resource_id(self) -> str:
        return self.group_id

    def get_cfn_attribute(self, attribute_name: str) -> str:
        group = elasticache_backends[self.account_id][self.region_name].replication_groups[self.group_id]
        node_group = group.node_groups[0]
        return {"PrimaryEndPoint.Address": node_group["primary_endpoint_address"],
                "PrimaryEndPoint.Port": str(node_group["port"]),
                "ReaderEndPoint.Address": node_group["reader_endpoint_address"]}[attribute_name]

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        properties = cloudformation_json["Properties"]
        group_id = resource_name.lower()[:40].rstrip("-")
        elasticache_backends[account_id][region_name].create_replication_group(
            replication_group_id=group_id,
            replication_group_description=properties["ReplicationGroupDescription"],
            global_replication_group_id=None, primary_cluster_id=None,
            automatic_failover_enabled=bool(properties.get("AutomaticFailoverEnabled")),
            multi_az_enabled=bool(properties.get("MultiAZEnabled")),
            num_cache_clusters=int(properties.get("NumCacheClusters", 1)), preferred_cache_cluster_azs=[],
            num_node_groups=None, replicas_per_node_group=None, node_group_configuration=[],
            cache_node_type=properties["CacheNodeType"], engine=properties.get("Engine", "redis"),
            engine_version=properties.get("EngineVersion"), cache_parameter_group_name=None,
            cache_subnet_group_name=_name(properties.get("CacheSubnetGroupName")), cache_security_group_names=[],
            security_group_ids=[_name(group) for group in properties.get("SecurityGroupIds", [])],
            tags=properties.get("Tags") or [], snapshot_arns=[], snapshot_name=None,
            preferred_maintenance_window=None, port=int(properties.get("Port", 6379)), notification_topic_arn=None,
            auto_minor_version_upgrade=True,
            snapshot_retention_limit=int(properties.get("SnapshotRetentionLimit", 0)), snapshot_window=None,
            auth_token=properties.get("AuthToken"),
            transit_encryption_enabled=bool(properties.get("TransitEncryptionEnabled")),
            at_rest_encryption_enabled=bool(properties.get("AtRestEncryptionEnabled")),
            kms_key_id=_name(properties["KmsKeyId"]) if properties.get("KmsKeyId") else None, user_group_ids=[],
            log_delivery_configurations=[], data_tiering_enabled=False, network_type=None, ip_discovery=None,
            transit_encryption_mode=None, cluster_mode=None, serverless_cache_snapshot_name=None,
        )
        return cls(group_id, account_id, region_name)

    @classmethod
    def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json, account_id,
                                        region_name):
        return original_resource

    def delete(self, account_id: str, region_name: str) -> None:
        backend = elasticache_backends[account_id][region_name]
        backend.delete_replication_group(self.group_id, retain_primary_cluster=False)
        backend.replication_groups.pop(self.group_id, None)

    def is_created(self) -> bool:
        return True


def register() -> None:
    """Make moto's CloudFormation create the types above (its type map is built once and cached)."""
    parsing.get_model_list.cache_clear()
    parsing.get_model_map.cache_clear()
    parsing.get_name_type_map.cache_clear()
