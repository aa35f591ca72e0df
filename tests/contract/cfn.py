"""The synthesized templates of one environment as plain values: intrinsics resolved, IAM gathered.

The contract checks read ARNs, names and policy documents as CloudFormation would hand them to
AWS. ``Environment.resolve`` turns every intrinsic the app emits (``Ref``, ``Fn::GetAtt``,
``Fn::Join``, ``Fn::GetStackOutput`` across the environment's stacks, ``Fn::Select``/``Split``)
into a string: pseudo parameters get the environment's account and region (or stand-ins), and a
resource's ``Ref``/``Arn`` gets the ARN or name AWS would give it, built from its type and its
name property (or a name derived from its logical ID when CloudFormation would generate one).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

STAND_IN_ACCOUNT = "123456789012"
STAND_IN_REGION = "eu-west-1"


@dataclass(frozen=True)
class Statement:
    """One policy statement, every value resolved; lists normalized."""

    effect: str
    actions: tuple[str, ...]
    not_actions: tuple[str, ...]
    resources: tuple[str, ...]
    principals: dict[str, tuple[str, ...]]
    conditions: dict[str, dict[str, tuple[str, ...]]]
    sid: str | None
    source: str  # "<stack>/<logical id>" of the document

    @classmethod
    def parse(cls, raw: dict[str, Any], source: str) -> Statement:
        def strings(value: Any) -> tuple[str, ...]:
            if value is None:
                return ()
            if isinstance(value, list):
                return tuple(str(v) for v in value)
            return (str(value),)

        principal = raw.get("Principal", {})
        if principal == "*":
            principal = {"AWS": "*"}
        return cls(
            effect=raw["Effect"],
            actions=strings(raw.get("Action")),
            not_actions=strings(raw.get("NotAction")),
            resources=strings(raw.get("Resource")),
            principals={k: strings(v) for k, v in principal.items()},
            conditions={
                operator: {key: strings(values) for key, values in block.items()}
                for operator, block in raw.get("Condition", {}).items()
            },
            sid=raw.get("Sid"),
            source=source,
        )


@dataclass(frozen=True)
class PolicyDocument:
    """A policy document and where it lives (identity policy, key/bucket/queue/topic policy)."""

    kind: str  # "identity" or "resource"
    stack: str
    logical_id: str
    statements: tuple[Statement, ...]
    #: For a resource policy: the resolved ARNs of the resources it governs.
    governs: tuple[str, ...] = ()


#: Name properties by resource type, and how AWS spells Ref/ARN for it.
#: EC2 resources whose Ref (GroupId for a security group) is an id with this prefix.
_EC2_ID_PREFIXES = {
    "AWS::EC2::VPC": "vpc",
    "AWS::EC2::Subnet": "subnet",
    "AWS::EC2::SecurityGroup": "sg",
}
_NAME_PROPERTY = {
    "AWS::S3::Bucket": "BucketName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::StepFunctions::StateMachine": "StateMachineName",
    "AWS::IAM::Role": "RoleName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::CloudWatch::Alarm": "AlarmName",
    "AWS::Events::Rule": "Name",
    "AWS::SSM::Parameter": "Name",
    "AWS::CloudWatch::Dashboard": "DashboardName",
}


@dataclass
class Environment:
    """Every template of one environment, by CloudFormation stack name."""

    name: str
    templates: dict[str, dict[str, Any]]
    account: str = STAND_IN_ACCOUNT
    region: str = STAND_IN_REGION
    _cache: dict[tuple[str, str, str], str] = field(default_factory=dict, repr=False)

    # --- resources -------------------------------------------------------------------------

    def resources(
        self, resource_type: str | None = None
    ) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """(stack, logical id, resource) for every resource, optionally of one type."""
        for stack, template in self.templates.items():
            for logical_id, resource in template.get("Resources", {}).items():
                if resource_type is None or resource["Type"] == resource_type:
                    yield stack, logical_id, resource

    def resource(self, stack: str, logical_id: str) -> dict[str, Any]:
        resource: dict[str, Any] = self.templates[stack]["Resources"][logical_id]
        return resource

    # --- intrinsics ------------------------------------------------------------------------

    def resolve(self, stack: str, value: Any) -> Any:
        """``value`` with every intrinsic replaced by the string CloudFormation would produce."""
        if isinstance(value, list):
            return [self.resolve(stack, item) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref":
                return self._ref(stack, argument)
            if key == "Fn::GetAtt":
                logical_id, attribute = (
                    argument if isinstance(argument, list) else argument.split(".", 1)
                )
                return self._attribute(stack, logical_id, attribute)
            if key == "Fn::Join":
                separator, parts = argument
                return separator.join(str(self.resolve(stack, part)) for part in parts)
            if key == "Fn::Select":
                index, items = argument
                return self.resolve(stack, items)[int(self.resolve(stack, index))]
            if key == "Fn::Split":
                separator, text = argument
                return str(self.resolve(stack, text)).split(separator)
            if key == "Fn::GetStackOutput":
                return self._stack_output(argument["StackName"], argument["OutputName"])
            if key == "Fn::FindInMap":
                mapping, top, second = (self.resolve(stack, a) for a in argument)
                return self.templates[stack]["Mappings"][mapping][top][second]
            if key == "Fn::Sub":
                return self._sub(stack, argument)
            if key.startswith("Fn::"):
                raise NotImplementedError(f"{stack}: intrinsic {key} is not modelled")
        return {key: self.resolve(stack, item) for key, item in value.items()}

    def _sub(self, stack: str, argument: Any) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else argument

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(self.resolve(stack, variables[name]))
            if "." in name:
                logical_id, attribute = name.split(".", 1)
                return self._attribute(stack, logical_id, attribute)
            return str(self._ref(stack, name))

        return re.sub(r"\$\{([^}!]+)\}", replace, text)

    def _ref(self, stack: str, name: str) -> str:
        pseudo = {
            "AWS::Partition": "aws",
            "AWS::Region": self.region,
            "AWS::AccountId": self.account,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": stack,
            "AWS::NoValue": "",
        }
        if name in pseudo:
            return pseudo[name]
        template = self.templates[stack]
        if name in template.get("Parameters", {}):
            default = template["Parameters"][name].get("Default")
            return str(default if default is not None else f"<parameter {name}>")
        resource = template["Resources"][name]
        kind = resource["Type"]
        if kind in {
            "AWS::SNS::Topic",
            "AWS::StepFunctions::StateMachine",
            "AWS::CloudWatch::Alarm",
        }:
            if kind == "AWS::CloudWatch::Alarm":
                return self.physical_name(stack, name)
            return self.arn(stack, name)
        if kind == "AWS::SQS::Queue":
            return (
                f"https://sqs.{self.region}.amazonaws.com/{self.account}/"
                f"{self.physical_name(stack, name)}"
            )
        if kind == "AWS::KMS::Key":
            return self.key_id(stack, name)
        if kind in _EC2_ID_PREFIXES:
            return self.ec2_id(stack, name)
        return self.physical_name(stack, name)

    def _attribute(self, stack: str, logical_id: str, attribute: str) -> str:
        if attribute == "Arn":
            return self.arn(stack, logical_id)
        kind = self.resource(stack, logical_id)["Type"]
        if attribute in {"QueueName", "Name", "TopicName"}:
            return self.physical_name(stack, logical_id)
        if attribute == "QueueUrl":
            return self._ref(stack, logical_id)
        if attribute == "KeyId":
            return self.key_id(stack, logical_id)
        if attribute == "TopicArn":
            return self.arn(stack, logical_id)
        if kind == "AWS::EC2::SecurityGroup" and attribute == "GroupId":
            return self.ec2_id(stack, logical_id)
        if kind == "AWS::S3::Bucket" and attribute.endswith("DomainName"):
            return f"{self.physical_name(stack, logical_id)}.s3.{self.region}.amazonaws.com"
        return f"<{logical_id}.{attribute}>"

    def _stack_output(self, stack_name: str, output_name: str) -> str:
        output = self.templates[stack_name]["Outputs"][output_name]["Value"]
        return str(self.resolve(stack_name, output))

    # --- names and ARNs --------------------------------------------------------------------

    def physical_name(self, stack: str, logical_id: str) -> str:
        """The resource's name: its name property, or the one CloudFormation would generate."""
        key = (stack, logical_id, "name")
        if key not in self._cache:
            resource = self.resource(stack, logical_id)
            prop = _NAME_PROPERTY.get(resource["Type"])
            given = resource.get("Properties", {}).get(prop) if prop else None
            self._cache[key] = (
                str(self.resolve(stack, given))
                if given is not None
                else f"{stack}-{logical_id}-GENERATED"[:60]
            )
        return self._cache[key]

    def ec2_id(self, stack: str, logical_id: str) -> str:
        """The id EC2 gives a VPC, subnet or security group: its prefix and 17 hex digits (what
        the SageMaker and Lambda models check ``VpcConfig`` ids against), stable per resource."""
        kind = self.resource(stack, logical_id)["Type"]
        digest = hashlib.sha256(f"{stack}/{logical_id}".encode()).hexdigest()[:17]
        return f"{_EC2_ID_PREFIXES[kind]}-{digest}"

    def key_id(self, stack: str, logical_id: str) -> str:
        return f"key-{stack}-{logical_id}"

    def arn(self, stack: str, logical_id: str) -> str:
        """The ARN AWS gives the resource (the formats of the authorization reference)."""
        kind = self.resource(stack, logical_id)["Type"]
        name = self.physical_name(stack, logical_id)
        prefix = f"{self.region}:{self.account}"
        formats = {
            "AWS::S3::Bucket": f"arn:aws:s3:::{name}",
            "AWS::SQS::Queue": f"arn:aws:sqs:{prefix}:{name}",
            "AWS::SNS::Topic": f"arn:aws:sns:{prefix}:{name}",
            "AWS::Lambda::Function": f"arn:aws:lambda:{prefix}:function:{name}",
            "AWS::StepFunctions::StateMachine": f"arn:aws:states:{prefix}:stateMachine:{name}",
            "AWS::IAM::Role": f"arn:aws:iam::{self.account}:role/{name}",
            "AWS::Logs::LogGroup": f"arn:aws:logs:{prefix}:log-group:{name}:*",
            "AWS::CloudWatch::Alarm": f"arn:aws:cloudwatch:{prefix}:alarm:{name}",
            "AWS::Events::Rule": f"arn:aws:events:{prefix}:rule/{name}",
            "AWS::KMS::Key": f"arn:aws:kms:{prefix}:key/{self.key_id(stack, logical_id)}",
            "AWS::SSM::Parameter": f"arn:aws:ssm:{prefix}:parameter/{name.lstrip('/')}",
        }
        if kind not in formats:
            return f"<{logical_id}.Arn>"
        return formats[kind]

    # --- IAM -------------------------------------------------------------------------------

    def role_of(self, stack: str, logical_id: str) -> str | None:
        """The logical ID of the role a function or state machine runs with (same stack)."""
        properties = self.resource(stack, logical_id).get("Properties", {})
        role = properties.get("Role") or properties.get("RoleArn")
        if isinstance(role, dict) and "Fn::GetAtt" in role:
            return str(role["Fn::GetAtt"][0])
        return None

    def identity_statements(self, stack: str, role_logical_id: str) -> list[Statement]:
        """Every statement of every identity policy attached to the role (inline or not)."""
        statements: list[Statement] = []
        role = self.resource(stack, role_logical_id)
        for policy in role.get("Properties", {}).get("Policies", []):
            document = self.resolve(stack, policy["PolicyDocument"])
            statements += [
                Statement.parse(s, f"{stack}/{role_logical_id}") for s in document["Statement"]
            ]
        managed = role.get("Properties", {}).get("ManagedPolicyArns", [])
        if managed:
            raise NotImplementedError(
                f"{stack}/{role_logical_id} has managed policies {managed}: not modelled"
            )
        for logical_id, resource in self.templates[stack]["Resources"].items():
            if resource["Type"] != "AWS::IAM::Policy":
                continue
            roles = resource["Properties"].get("Roles", [])
            if {"Ref": role_logical_id} in roles:
                document = self.resolve(stack, resource["Properties"]["PolicyDocument"])
                statements += [
                    Statement.parse(s, f"{stack}/{logical_id}") for s in document["Statement"]
                ]
        return statements

    def policy_documents(self) -> Iterator[PolicyDocument]:
        """Every policy document of the environment, identity and resource policies alike."""
        resource_policies = {
            "AWS::KMS::Key": ("KeyPolicy", None),
            "AWS::S3::BucketPolicy": ("PolicyDocument", "Bucket"),
            "AWS::SQS::QueuePolicy": ("PolicyDocument", "Queues"),
            "AWS::SNS::TopicPolicy": ("PolicyDocument", "Topics"),
        }
        for stack, logical_id, resource in self.resources():
            kind = resource["Type"]
            properties = resource.get("Properties", {})
            if kind == "AWS::IAM::Policy":
                yield self._document("identity", stack, logical_id, properties["PolicyDocument"])
            elif kind == "AWS::IAM::Role":
                for policy in properties.get("Policies", []):
                    yield self._document("identity", stack, logical_id, policy["PolicyDocument"])
                yield self._document(
                    "resource",
                    stack,
                    logical_id,
                    properties["AssumeRolePolicyDocument"],
                    governs=(self.arn(stack, logical_id),),
                )
            elif kind in resource_policies:
                prop, target = resource_policies[kind]
                governs: tuple[str, ...]
                if target is None:
                    governs = (self.arn(stack, logical_id),)
                else:
                    targets = properties[target]
                    targets = targets if isinstance(targets, list) else [targets]
                    governs = tuple(str(self.resolve(stack, t)) for t in targets)
                yield self._document("resource", stack, logical_id, properties[prop], governs)

    def _document(
        self,
        kind: str,
        stack: str,
        logical_id: str,
        document: Any,
        governs: tuple[str, ...] = (),
    ) -> PolicyDocument:
        resolved = self.resolve(stack, document)
        return PolicyDocument(
            kind=kind,
            stack=stack,
            logical_id=logical_id,
            statements=tuple(
                Statement.parse(s, f"{stack}/{logical_id}") for s in resolved["Statement"]
            ),
            governs=governs,
        )

    # --- state machines --------------------------------------------------------------------

    def state_machines(self) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """(stack, logical id, parsed ASL) of every state machine, tokens resolved."""
        for stack, logical_id, resource in self.resources("AWS::StepFunctions::StateMachine"):
            properties = resource["Properties"]
            definition = properties.get("DefinitionString")
            if definition is None:
                raise NotImplementedError(f"{stack}/{logical_id}: no DefinitionString")
            yield stack, logical_id, json.loads(self.resolve(stack, definition))

    def functions(self) -> Iterator[tuple[str, str, dict[str, Any]]]:
        yield from self.resources("AWS::Lambda::Function")
