"""Part ids: stable across redeliveries, distinct between the parts of one message, revealing nothing."""

from __future__ import annotations

from relay.connector import Capabilities
from relay.degrade import degrade
from relay.model import Address, Attachment, Kind, Message
from relay.parts import part_id
from relay.richtext import RichText
from relay.seal import Sealer, WorkspaceKey

SEALER = Sealer("test", [WorkspaceKey("k1", b"parts-test-key-0123456789")])


def _message(text: str, *files: Attachment) -> Message:
    kind = Kind.MEDIA if files else Kind.TEXT
    return Message(
        kind=kind, id="m1", origin="tg", conversation=Address("tg", "42"), text=RichText.of(text), attachments=files
    )


CAPS = Capabilities(max_text=50, files=True, max_file_bytes=10, max_files=1, max_caption=50)


def test_a_redelivery_has_the_same_part_id_and_each_split_part_its_own() -> None:
    long = _message("word " * 30, Attachment(name="a.png", size=3), Attachment(name="b.png", size=4))
    parts = degrade(long, CAPS, lambda a: None)
    ids = [part_id(SEALER, "crm", p) for p in parts]
    assert len(parts) == 5 and len(set(ids)) == len(ids)
    assert [p.id for p in parts] == ["m1", "m1#1", "m1#2", "m1#3", "m1#4"]
    assert parts[1].text == parts[2].text, "two parts that look alike"
    assert ids == [part_id(SEALER, "crm", p) for p in degrade(long, CAPS, lambda a: None)]
    assert part_id(SEALER, "crm", parts[0]) != part_id(SEALER, "other", parts[0])


def test_a_part_id_reveals_nothing_of_the_message() -> None:
    found = part_id(SEALER, "crm", _message("CANARY0123"))
    assert len(found) == 32 and "CANARY" not in found and "m1" not in found
