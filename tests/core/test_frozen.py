"""fast_init: the same construction semantics as the dataclass it replaces, only cheaper."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import pytest

from relay.frozen import fast_init
from relay.model import Address, Kind, Message


@fast_init
@dataclass(frozen=True, slots=True)
class Point:
    x: int
    y: int = 0
    tags: tuple[str, ...] = field(default_factory=tuple)


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class Labelled:
    name: str
    items: list[int] = field(default_factory=list)


def test_defaults_factories_and_keywords_as_the_dataclass_has_them() -> None:
    assert Point(1) == Point(x=1, y=0, tags=())
    assert Point(1, 2, ("a",)).tags == ("a",)
    a, b = Labelled(name="a"), Labelled(name="b")
    assert a.items == [] and a.items is not b.items
    with pytest.raises(TypeError):
        Labelled("positional")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Point()  # type: ignore[call-arg]


def test_instances_stay_frozen_hashable_and_comparable() -> None:
    p = Point(1, 2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.x = 3  # type: ignore[misc]
    assert hash(p) == hash(Point(1, 2)) and p != Point(2, 1)
    assert dataclasses.replace(p, y=5) == Point(1, 5)


def test_the_message_model_uses_it_and_keeps_its_defaults() -> None:
    m = Message(kind=Kind.TEXT, id="1", origin="tg", conversation=Address("tg", "42"))
    assert Message.__init__.__qualname__ == "Message.__init__"
    assert not m.text and m.attachments == () and m.sent_at.tzinfo is not None
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.id = "2"  # type: ignore[misc]


def test_refuses_what_it_cannot_reproduce() -> None:
    @dataclass
    class Mutable:
        x: int

    @dataclass(frozen=True, slots=True)
    class WithPostInit:
        x: int

        def __post_init__(self) -> None:
            pass

    for cls in (Mutable, WithPostInit):
        with pytest.raises(TypeError, match="fast_init needs"):
            fast_init(cls)
