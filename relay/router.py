"""Which instance a message goes to: messengers to their CRM, CRM answers back to the conversation."""

from __future__ import annotations

from collections.abc import Mapping

from relay.connector import ConnectorKind
from relay.errors import DeliveryError
from relay.model import Message
from relay.reasons import Reason


class Router:
    """Hub and spoke: every messenger instance has one CRM; a CRM answers only its own conversations."""

    def __init__(self, crm_of: Mapping[str, str], kinds: Mapping[str, ConnectorKind]) -> None:
        self.crm_of = dict(crm_of)
        self.kinds = dict(kinds)

    def target(self, origin: str, conversation: str = "") -> str:
        """Where a message from `origin` would go, unchecked: a messenger's CRM, else the instance of
        the conversation it answers (`destination` validates)."""
        return self.crm_of.get(origin) or conversation

    def destination(self, message: Message) -> str:
        """The instance that should receive `message`; DeliveryError if it has nowhere to go."""
        origin_kind = self.kinds.get(message.origin)
        if origin_kind is None:
            raise DeliveryError(Reason.UNKNOWN_ORIGIN)
        if origin_kind is ConnectorKind.MESSENGER:
            crm = self.crm_of.get(message.origin)
            if crm is None:
                raise DeliveryError(Reason.NO_ROUTE)
            return crm
        target = message.conversation.instance
        if self.crm_of.get(target) != message.origin:
            raise DeliveryError(Reason.NOT_ROUTED_HERE)
        if target == message.origin:
            raise DeliveryError(Reason.LOOP)
        return target

    def messenger(self, crm: str, channel: str) -> str:
        """The messenger instance `channel`, if it is routed to `crm` (which may then act on it)."""
        if self.kinds.get(channel) is not ConnectorKind.MESSENGER or self.crm_of.get(channel) != crm:
            raise DeliveryError(Reason.NOT_ROUTED_HERE)
        return channel
