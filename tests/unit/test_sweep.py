"""The sweep fan-out: one camera-sweep message, one camera-jobs message per camera."""

from __future__ import annotations

import pytest

from shared.errors import MessageRejectedError
from shared.service_layer.sweep import fan_out
from tests.unit.fakes import FakeBus, message, registry_of

REGISTRY = registry_of(
    {"id": "cam-a", "source": "http://a/1.jpg"},
    {"id": "cam-b", "source": "http://b/1.jpg"},
)


def test_sweep_fans_out_every_camera_or_a_subset() -> None:
    bus = FakeBus()
    assert fan_out(message({}, "42"), REGISTRY, bus) == 2
    assert [(t, p["camera_id"], p["sweep_id"]) for t, p, _ in bus.sent] == [
        ("camera-jobs", "cam-a", "sweep-42"),
        ("camera-jobs", "cam-b", "sweep-42"),
    ]
    bus.sent.clear()
    assert fan_out(message({"sweep_id": "s1", "cameras": ["cam-b"]}), REGISTRY, bus) == 1
    assert bus.sent[0][1]["camera_id"] == "cam-b"
    assert bus.sent[0][2] == {"sweep_id": "s1"}
    with pytest.raises(MessageRejectedError, match="unknown cameras"):
        fan_out(message({"cameras": ["cam-zzz"]}), REGISTRY, bus)
