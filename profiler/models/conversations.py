"""The built-in conversations dataset: chat bots with personas talking to each other.

Personas -> bots -> conversations (with their participants) -> messages (a reply tree inside each
conversation) -> reactions. It is the large dataset of the workbench: a conversation page that walks
messages -> author -> persona is the classic N+1 at scale. The rows come from ``profiler.datagen``.

The module is self-contained (its own declarative base and metadata), like the bookstore, so user model
catalogs never mix with it. Every collection has an ``order_by`` so that every loading strategy returns the
same data in the same order (the query profiler compares what strategies return).

Ids are assigned by the generator, never by the database: a conversation's id is the id of its opening
message, and a batch of messages always covers the same id range, which is what lets a load resume.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime, ForeignKey, Index, Integer, String, Table, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class ConversationsBase(DeclarativeBase):
    pass


conversation_participants = Table(
    "conversation_participants",
    ConversationsBase.metadata,
    Column("conversation_id", ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True),
    Column("bot_id", ForeignKey("bots.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_conversation_participants_bot_id", "bot_id"),
)


class Persona(ConversationsBase):
    __tablename__ = "personas"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(60))
    tagline: Mapped[str] = mapped_column(String(200))

    bots: Mapped[list[Bot]] = relationship(back_populates="persona", order_by="Bot.id")

    def __repr__(self) -> str:
        return f"Persona(id={self.id}, name={self.name!r})"


class Bot(ConversationsBase):
    __tablename__ = "bots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    handle: Mapped[str] = mapped_column(String(60), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    persona_id: Mapped[int] = mapped_column(ForeignKey("personas.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)

    persona: Mapped[Persona] = relationship(back_populates="bots")
    messages: Mapped[list[Message]] = relationship(back_populates="author", order_by="Message.id")
    conversations: Mapped[list[Conversation]] = relationship(
        secondary=conversation_participants, back_populates="participants", order_by="Conversation.id"
    )
    reactions: Mapped[list[Reaction]] = relationship(back_populates="bot", order_by="Reaction.message_id")

    def __repr__(self) -> str:
        return f"Bot(id={self.id}, handle={self.handle!r})"


class Conversation(ConversationsBase):
    __tablename__ = "conversations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    starter_id: Mapped[int] = mapped_column(ForeignKey("bots.id"), index=True)

    starter: Mapped[Bot] = relationship()
    participants: Mapped[list[Bot]] = relationship(
        secondary=conversation_participants, back_populates="conversations", order_by="Bot.id"
    )
    messages: Mapped[list[Message]] = relationship(back_populates="conversation", order_by="Message.position")

    def __repr__(self) -> str:
        return f"Conversation(id={self.id}, title={self.title!r})"


class Message(ConversationsBase):
    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("bots.id"), index=True)
    # The message this one answers, always earlier in the same conversation; None opens a new thread.
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)  # 0-based order inside the conversation
    sent_at: Mapped[datetime] = mapped_column(DateTime)
    body: Mapped[str] = mapped_column(Text)

    conversation: Mapped[Conversation] = relationship(back_populates="messages")
    author: Mapped[Bot] = relationship(back_populates="messages")
    parent: Mapped[Message | None] = relationship(back_populates="replies", remote_side=[id])
    replies: Mapped[list[Message]] = relationship(back_populates="parent", order_by="Message.id")
    reactions: Mapped[list[Reaction]] = relationship(back_populates="message", order_by="Reaction.bot_id")

    def __repr__(self) -> str:
        return f"Message(id={self.id}, conversation_id={self.conversation_id}, author_id={self.author_id})"


class Reaction(ConversationsBase):
    __tablename__ = "reactions"

    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True)
    bot_id: Mapped[int] = mapped_column(ForeignKey("bots.id"), primary_key=True, index=True)
    emoji: Mapped[str] = mapped_column(String(16))

    message: Mapped[Message] = relationship(back_populates="reactions")
    bot: Mapped[Bot] = relationship(back_populates="reactions")

    def __repr__(self) -> str:
        return f"Reaction(message_id={self.message_id}, bot_id={self.bot_id}, emoji={self.emoji!r})"


MODELS = (Persona, Bot, Conversation, Message, Reaction)
