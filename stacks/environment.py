"""Builds the full set of stacks of one environment; used by app.py and by the tests."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import App, Environment, Stack, Tags

from contracts import naming
from stacks.alerting_stack import AlertingStack
from stacks.config import EnvironmentConfig
from stacks.monitoring_stack import MonitoringStack
from stacks.network_stack import NetworkStack
from stacks.rekognition_inference_stack import RekognitionInferenceStack
from stacks.rekognition_training_stack import RekognitionTrainingStack
from stacks.relabel_stack import RelabelStack
from stacks.sagemaker_stack import SageMakerStack
from stacks.storage_stack import StorageStack


@dataclass(frozen=True)
class EnvironmentStacks:
    """The stacks of one environment, by concern."""

    network: NetworkStack | None
    storage: StorageStack
    alerting: AlertingStack
    rekognition_training: RekognitionTrainingStack
    rekognition_inference: RekognitionInferenceStack
    sagemaker: SageMakerStack
    relabel: RelabelStack
    monitoring: MonitoringStack

    def all(self) -> list[Stack]:
        return [
            *([self.network] if self.network else []),
            self.storage,
            self.alerting,
            self.rekognition_training,
            self.rekognition_inference,
            self.sagemaker,
            self.relabel,
            self.monitoring,
        ]


def stack_id(config: EnvironmentConfig, concern: str) -> str:
    """Stable construct id of a stack, e.g. ``DevStorage``."""
    return naming.stack_id(config.name, concern)


def build_environment(app: App, config: EnvironmentConfig) -> EnvironmentStacks:
    """Instantiate and connect every stack of ``config``'s environment."""
    env = (
        Environment(account=config.account, region=config.region)
        if config.account is not None
        else None
    )

    def common(concern: str) -> dict[str, object]:
        return {
            "env": env,
            "stack_name": config.stack_name(concern),
            "termination_protection": config.termination_protection,
            "description": f"Image classification pipelines: {concern.lower()} ({config.name})",
        }

    network = (
        NetworkStack(app, stack_id(config, "Network"), config=config, **common("Network"))
        if config.network.isolated
        else None
    )
    placement = network.placement if network else None
    storage = StorageStack(
        app, stack_id(config, "Storage"), config=config, network=placement, **common("Storage")
    )
    if network:
        storage.add_stack_dependency(network)
    alerting = AlertingStack(
        app,
        stack_id(config, "Alerting"),
        config=config,
        encryption_key=storage.key,
        **common("Alerting"),
    )
    rekognition_training = RekognitionTrainingStack(
        app,
        stack_id(config, "RekognitionTraining"),
        config=config,
        storage=storage,
        alerting=alerting,
        network=placement,
        **common("RekognitionTraining"),
    )
    rekognition_inference = RekognitionInferenceStack(
        app,
        stack_id(config, "RekognitionInference"),
        config=config,
        storage=storage,
        alerting=alerting,
        network=placement,
        **common("RekognitionInference"),
    )
    sagemaker = SageMakerStack(
        app,
        stack_id(config, "SageMaker"),
        config=config,
        storage=storage,
        alerting=alerting,
        network=placement,
        **common("SageMaker"),
    )
    relabel = RelabelStack(
        app,
        stack_id(config, "Relabel"),
        config=config,
        storage=storage,
        alerting=alerting,
        training_state_machine=rekognition_training.training.state_machine,
        network=placement,
        **common("Relabel"),
    )
    monitoring = MonitoringStack(
        app,
        stack_id(config, "Monitoring"),
        config=config,
        storage=storage,
        alerting=alerting,
        pipelines=[rekognition_training, rekognition_inference, sagemaker, relabel],
        training=rekognition_training.training,
        inference=rekognition_inference.inference,
        sagemaker_inference=sagemaker.inference,
        sagemaker_training=sagemaker.training,
        relabel_state_machine=relabel.state_machine,
        network=placement,
        **common("Monitoring"),
    )
    stacks = EnvironmentStacks(
        network=network,
        storage=storage,
        alerting=alerting,
        rekognition_training=rekognition_training,
        rekognition_inference=rekognition_inference,
        sagemaker=sagemaker,
        relabel=relabel,
        monitoring=monitoring,
    )
    for stack in stacks.all():
        Tags.of(stack).add("Application", "image-classification-pipelines")
        Tags.of(stack).add("Environment", config.name)
    return stacks
