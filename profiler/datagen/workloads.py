"""Built-in query workloads over the conversations dataset, for the query profiler.

Each is a plain function ``fn(session)`` that queries, walks relationships the way a chat application's pages
would, and returns plain data (so every loading strategy's answer can be compared). Pass one to
``profiler.queries.profile`` with an engine from ``profiler.datagen.dataset_engine``. Left lazy, each shows a
different N+1: per message (authors, reactions), per conversation (participants, messages) and per reply
(a self-referential tree).
"""

from __future__ import annotations

from typing import Any, Callable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from profiler.models.conversations import Bot, Conversation, Message

RECENT_CONVERSATIONS = 25
PROFILE_MESSAGES = 50
PAGE_MESSAGES = 20  # a conversation page shows the latest conversation with at least this many messages


def _latest_conversation(session: Session) -> Conversation:
    size = select(func.count()).where(Message.conversation_id == Conversation.id).scalar_subquery()
    latest = session.scalars(
        select(Conversation).order_by(Conversation.started_at.desc(), Conversation.id.desc())
        .where(size >= PAGE_MESSAGES).limit(1)
    ).first() or session.scalars(select(Conversation).order_by(Conversation.id).limit(1)).first()
    if latest is None:
        raise LookupError("the database holds no conversation: load the dataset first (profiler.datagen.load)")
    return latest


def conversation_page(session: Session) -> list[tuple]:
    """The page of the latest conversation of 20 messages or more: every message with its author, the
    author's persona, and who reacted with what (messages → author → persona; messages → reactions → bot)."""
    conversation = _latest_conversation(session)
    return [
        (
            message.position,
            message.author.display_name,
            message.author.persona.name,
            message.sent_at,
            message.body,
            [(reaction.bot.handle, reaction.emoji) for reaction in message.reactions],
        )
        for message in conversation.messages
    ]


def recent_conversations(session: Session) -> list[tuple]:
    """An inbox: the 25 latest conversations with their starter, participants, message count and last
    message (conversations → starter, participants, messages)."""
    conversations = session.scalars(
        select(Conversation)
        .order_by(Conversation.started_at.desc(), Conversation.id.desc())
        .limit(RECENT_CONVERSATIONS)
    )
    return [
        (
            conversation.title,
            conversation.starter.handle,
            [bot.handle for bot in conversation.participants],
            len(conversation.messages),
            conversation.messages[-1].body,
        )
        for conversation in conversations
    ]


def bot_profile(session: Session) -> list[tuple]:
    """A bot's profile: its 50 latest messages, each with the conversation's title and the message it
    answers and that message's author (messages → conversation; messages → parent → author)."""
    bot = session.scalars(select(Bot).order_by(Bot.id).limit(1)).first()
    if bot is None:
        raise LookupError("the database holds no bot: load the dataset first (profiler.datagen.load)")
    messages = session.scalars(
        select(Message)
        .where(Message.author_id == bot.id)
        .order_by(Message.sent_at.desc(), Message.id.desc())
        .limit(PROFILE_MESSAGES)
    )
    return [
        (
            message.conversation.title,
            message.body,
            None if message.parent is None else (message.parent.author.handle, message.parent.body),
        )
        for message in messages
    ]


def reply_threads(session: Session) -> list[Any]:
    """The conversation of the page above as reply trees: each thread's opening message, then its replies, recursively
    (messages → replies → replies ..., a self-referential one-to-many)."""

    def thread(message: Message) -> tuple:
        return (message.id, message.author_id, [thread(reply) for reply in message.replies])

    conversation = _latest_conversation(session)
    return [thread(message) for message in conversation.messages if message.parent_id is None]


WORKLOADS: dict[str, Callable[[Session], Any]] = {
    "conversation page → messages → author, persona, reactions": conversation_page,
    "inbox → conversations → starter, participants, messages": recent_conversations,
    "bot profile → messages → conversation, parent → author": bot_profile,
    "reply threads → replies → replies …": reply_threads,
}
