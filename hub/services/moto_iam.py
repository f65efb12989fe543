"""moto evaluating IAM as AWS does, for the workbench's local AWS (:mod:`hub.services.local_aws`), in the
service's own process only.

moto 5.2 does not evaluate IAM the way AWS does in four ways that matter here; :func:`enforce_iam` closes them
in this process only. Measured on moto 5.2.6, by reading ``moto/core/responses.py`` (``call_action``),
``moto/iam/access_control.py`` and ``moto/sts/models.py``, and by running the service with each fix taken out
(``tests/security/test_local_aws.py`` then fails where said):

1. ``call_action`` asks for a resource only from services that define ``_determine_resource`` (IAM's role
   actions, STS AssumeRole, SQS); DynamoDB and ELBv2 requests are authorized against ``*``, so a role allowed
   only its own table ARNs is denied on its own table too (without the fix: AccessDeniedException on the
   user's own PutItem). Here the resource is the table, index or target group the request names, each table of
   a batch, and each item of a transaction as the item action it is (TransactWriteItems' Put is PutItem), as in
   AWS.
2. ``AssumedRoleAccessKey.collect_policies`` returns the role's policies only: the session policy an AssumeRole
   passed is kept on the assumed role, unused (without the fix: a session allowed only the runs table writes
   the load-test table). Here an assumed role's request must be allowed by the role's policies *and* the
   session policy, as in AWS.
3. A role made by CloudFormation keeps its inline policy as a dict, on which ``IAMPolicy`` raises
   ``KeyError('policy_document')``: a 500 on every request of the role's sessions. Here such a document is read
   as the policy it is.
4. A trust policy naming the account (``arn:aws:iam::ACCOUNT:root``, as ``stacks/playground.yaml`` does)
   matches only that exact principal string: plain moto with IAM enforced refuses the hub's own AssumeRole
   (``AccessDenied ... user/hub is not authorized to perform: sts:AssumeRole``). Here it means what it means in
   AWS: any principal of the account whose own policies allow ``sts:AssumeRole`` on the role.

Also, moto never expires STS credentials (``AssumedRoleAccessKey`` does not look at the expiration); here an
assumed role's requests are refused once it has expired.
"""

from __future__ import annotations

import json
from xml.sax.saxutils import escape


def xml_error(code: str, message: str) -> bytes:
    """An AWS query-protocol error document (what botocore parses into ``Error.Code``)."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<ErrorResponse><Error><Type>Sender</Type><Code>{escape(code)}</Code><Message>{escape(message)}</Message>"
        "</Error><RequestId>local-aws</RequestId></ErrorResponse>"
    ).encode()


# TransactWriteItems and TransactGetItems are authorized, as in AWS, as the item actions they are made of.
TRANSACT_ITEM_ACTIONS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                         "ConditionCheck": "ConditionCheckItem", "Get": "GetItem"}


def _dynamodb_checks(action: str, body: bytes | str | None, region: str, account: str,
                     partition: str) -> list[tuple[str, str]]:
    """(action, resource ARN) for each table or index a DynamoDB JSON request names; empty when it names none."""
    try:
        params = json.loads(body or "{}")
    except ValueError:
        return []
    if not isinstance(params, dict):
        return []

    def arn(table) -> str:
        table = str(table)
        return table if table.startswith("arn:") else f"arn:{partition}:dynamodb:{region}:{account}:table/{table}"

    checks = []
    if "TableName" in params:
        table = arn(params["TableName"])
        checks.append((action, f"{table}/index/{params['IndexName']}" if params.get("IndexName") else table))
    for key in ("TableArn", "ResourceArn", "SourceTableArn"):
        if key in params:
            checks.append((action, arn(params[key])))
    for table in params.get("RequestItems") or {}:  # BatchGetItem, BatchWriteItem
        checks.append((action, arn(table)))
    for item in params.get("TransactItems") or []:  # TransactGetItems, TransactWriteItems
        for kind, operation in item.items() if isinstance(item, dict) else []:
            if isinstance(operation, dict) and "TableName" in operation:
                item_action = TRANSACT_ITEM_ACTIONS.get(kind)
                checks.append((f"dynamodb:{item_action}" if item_action else action, arn(operation["TableName"])))
    return list(dict.fromkeys(checks))


def _query_resources(data: dict, keys: tuple[str, ...]) -> list[str]:
    """ARNs given as query-protocol parameters (moto keeps them as lists)."""
    found = []
    for key in keys:
        value = data.get(key)
        value = value[0] if isinstance(value, list) and value else value
        if isinstance(value, str) and value:
            found.append(value)
    return found


ELBV2_ARN_PARAMETERS = ("TargetGroupArn", "LoadBalancerArn", "ListenerArn", "RuleArn")


def enforcing_request_class():
    """moto's ``IAMRequest`` with the four differences from AWS (module docstring) closed."""
    from moto.core.utils import utcnow
    from moto.iam.access_control import AssumedRoleAccessKey, IAMPolicy, IAMRequest, PermissionResult
    from moto.iam.utils import format_incoming_conditional_values
    from moto.sts.models import sts_backends
    from moto.utilities.utils import get_partition
    from werkzeug.exceptions import HTTPException

    class AuthError(HTTPException):
        """A refusal in the caller's protocol: JSON for DynamoDB (botocore reads ``__type``), XML otherwise."""

        def __init__(self, status: int, code: str, message: str, json_protocol: bool):
            super().__init__()
            self.code = status
            if json_protocol:
                self.description = json.dumps({"__type": f"com.amazon.coral.service#{code}", "message": message})
            else:
                self.description = xml_error(code, message).decode()

    def as_policy(document) -> IAMPolicy:
        # A role made by CloudFormation keeps its inline policy as a dict (difference 3).
        if isinstance(document, dict) and "Statement" in document:
            return IAMPolicy(json.dumps(document))
        return IAMPolicy(document)

    def allowed(documents, action: str, resource: str) -> bool:
        """AWS's rule for one set of policies: an explicit deny wins, then at least one allow is needed."""
        results = [as_policy(document).is_action_permitted(action, resource) for document in documents]
        return PermissionResult.DENIED not in results and PermissionResult.PERMITTED in results

    class EnforcingIAMRequest(IAMRequest):
        @property
        def _json_protocol(self) -> bool:
            return self._service == "dynamodb"

        def _partition(self) -> str:
            return get_partition(self._region)

        def _assumed_role(self):
            if not isinstance(self._access_key, AssumedRoleAccessKey):
                return None
            sts = sts_backends[self.account_id][self._partition()]
            return sts.get_assumed_role_from_access_key(self._access_key.create_credentials().access_key)

        def _checks(self, resource: str) -> list[tuple[str, str]]:
            """(action, resource) pairs the request needs, where moto says only ``*`` (difference 1)."""
            if resource != "*":
                return [(self._action, resource)]
            if self._service == "dynamodb":
                found = _dynamodb_checks(self._action, self._body, self._region, self.account_id, self._partition())
            elif self._service == "elasticloadbalancing":
                found = [(self._action, arn) for arn in _query_resources(self._data or {}, ELBV2_ARN_PARAMETERS)]
            else:
                found = []
            return found or [(self._action, "*")]

        def check_action_permitted(self, resource: str) -> None:
            assumed = self._assumed_role()
            if assumed is not None and assumed.expiration <= utcnow():
                raise AuthError(400 if self._json_protocol else 403,
                                "ExpiredTokenException" if self._json_protocol else "ExpiredToken",
                                "The security token included in the request is expired", self._json_protocol)
            if self._action == "sts:GetCallerIdentity":  # as in AWS and moto: needs no permission
                return
            try:
                identity = list(self._access_key.collect_policies())
            except Exception:  # noqa: BLE001 - e.g. the role was deleted: no policies, nothing allowed
                identity = []
            session = [assumed.policy] if assumed is not None and assumed.policy else []
            for action, target in self._checks(resource):
                if not allowed(identity, action, target):
                    self._deny(action, target)
                if session and not allowed(session, action, target):  # difference 2
                    self._deny(action, target)
                if self._is_assuming_role_operation(target) and not self._trusted(target):
                    self._deny(action, target)

        def _trusted(self, role_arn: str) -> bool:
            """The role's trust policy lets this caller assume it (difference 4)."""
            role = self.backend.get_role_by_arn(role_arn)
            trust = IAMPolicy(role.assume_role_policy_document)
            conditions = format_incoming_conditional_values(self._data)
            principals = [self._access_key.arn]
            if role_arn.split(":")[4] == self.account_id:
                principals.append(f"arn:{self._partition()}:iam::{self.account_id}:root")
            return any(trust.is_action_permitted(self._action, role_arn, principal, conditions)
                       == PermissionResult.PERMITTED for principal in principals)

        def _deny(self, action: str, resource: str) -> None:
            message = f"User: {self._access_key.arn} is not authorized to perform: {action} on resource: {resource}"
            if self._json_protocol:
                raise AuthError(400, "AccessDeniedException", message, True)
            raise AuthError(403, "AccessDenied", message, False)

        def _raise_access_denied(self) -> None:
            self._deny(self._action, "*")

        def _raise_invalid_access_key(self, reason: str) -> None:
            if self._json_protocol:
                raise AuthError(400, "UnrecognizedClientException",
                                "The security token included in the request is invalid.", True)
            super()._raise_invalid_access_key(reason)

        def _raise_signature_does_not_match(self) -> None:
            if self._json_protocol:
                raise AuthError(400, "InvalidSignatureException",
                                "The request signature we calculated does not match the signature you provided.",
                                True)
            super()._raise_signature_does_not_match()

    return EnforcingIAMRequest


def enforce_iam() -> None:
    """Every request of this process's moto is authenticated and authorized with :func:`enforcing_request_class`.

    moto checks ``settings.INITIAL_NO_AUTH_ACTION_COUNT`` at each request (``moto/core/authorization.py``): 0 means
    from the first one. ``BaseResponse.call_action`` passes the resource it determined to
    ``_authenticate_and_authorize_normal_action``, which this replaces (S3's own check is not used: S3 is not
    served, see :data:`hub.services.local_aws.SIGNING_NAMES`).

    Its cost is lost in moto's own: 3.2-4.0 ms of the service's CPU per PutItem of a user's session, against
    3.3-3.7 ms for plain ``moto.server`` (psutil CPU times of the server process over 3 rounds of 300 puts).
    """
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin

    request_class = enforcing_request_class()

    def authenticate_and_authorize(self, resource: str = "*") -> None:
        self._authenticate_and_authorize_action(request_class, resource)

    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
    ActionAuthenticatorMixin._authenticate_and_authorize_normal_action = authenticate_and_authorize


