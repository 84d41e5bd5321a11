"""Realtime events of the desk: the pub/sub channels and how a message is shown on them."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from paydesk.support import store

Event = tuple[str, dict[str, Any]]  # (channel, event): published after the transaction commits


def conversation_channel(conversation_id: UUID | str) -> str:
    return f"conv:{conversation_id}"


def agent_channel(user_id: UUID | str) -> str:
    return f"agent:{user_id}"


def team_channel(team: str) -> str:
    return f"team:{team}"


def message_view(row: store.MessageRow | store.NewMessage) -> dict[str, Any]:
    return {"type": "message", "conversation_id": str(row.conversation_id), "seq": row.seq, "kind": row.kind,
            "author": row.author_name, "body": row.body, "data": row.data, "at": row.created_at.isoformat()}
