"""Publishing single messages from short-lived callers (the CLI, the dashboard)."""

from __future__ import annotations

from aiokafka import AIOKafkaProducer

from shared.messages import Message, encode
from shared.settings import Settings

__all__ = ["Publisher"]


class Publisher:
    """A started aiokafka producer; `async with Publisher(settings) as p: await p.send(...)`."""

    def __init__(self, settings: Settings) -> None:
        self._producer = AIOKafkaProducer(
            bootstrap_servers=settings.require_kafka(),
            enable_idempotence=settings.kafka_idempotence,
            acks="all",
        )

    async def __aenter__(self) -> Publisher:
        await self._producer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._producer.stop()

    async def send(self, topic: str, key: str, message: Message) -> None:
        await self._producer.send_and_wait(
            topic,
            encode(message),
            key=key.encode(),
            headers=[("content-type", b"application/json")],
        )
