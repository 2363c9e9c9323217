"""Models: the hybrid DDPM's tiny U-Net and its bottleneck gates (chen2025quantum)."""

from qdm.models.bottleneck import (
    ChannelGate,
    ClassicalGate,
    GateConfig,
    MatchedClassicalGate,
    ParameterMatchedMap,
    QuantumGate,
    circuit_parameter_count,
    make_bottleneck,
    make_quantum_layer,
)
from qdm.models.counting import count_parameters
from qdm.models.unet import TinyUNet, UNetConfig, timestep_embedding

__all__ = [
    "ChannelGate",
    "ClassicalGate",
    "GateConfig",
    "MatchedClassicalGate",
    "ParameterMatchedMap",
    "QuantumGate",
    "TinyUNet",
    "UNetConfig",
    "build_unet",
    "circuit_parameter_count",
    "count_parameters",
    "make_bottleneck",
    "make_quantum_layer",
    "timestep_embedding",
]


def build_unet(unet: UNetConfig, gate: GateConfig) -> TinyUNet:
    """chen2025quantum: the tiny U-Net with the bottleneck gate described by `gate` (kind 'none' = published baseline)."""
    if not isinstance(unet, UNetConfig):
        raise ValueError(f"unet must be a UNetConfig, got {type(unet).__name__}")
    return TinyUNet(unet, make_bottleneck(gate, unet.bottleneck_channels))
