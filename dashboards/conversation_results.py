"""The conversations dashboard's results: the dataset's rows per table, the comparison of the strategies (table,
chart, N+1 findings, the comparison as data) and the latest conversations, one of which opens in the JSON viewer,
read back as a document of threads, authors and reactions.

:class:`ConversationResults` builds these widgets, shows a run's outcome in them, clears them when a run fails,
and opens a conversation; it is mixed into :class:`~dashboards.conversations.ConversationsDashboard`, whose form
and run produce what is shown, whose last run's dataset (``_engine``) a conversation is read from, and whose
strategies' "learn more" texts gain the SQL each one sent.
"""

from __future__ import annotations

import html
from collections import defaultdict
from typing import TYPE_CHECKING, Any, Mapping

import ipywidgets as w
from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload, selectinload

from dashboards.common import INSPECT_TITLE, NOT_YET
from dashboards.query_optimization import comparison_table, findings_html, strategy_help, summary_rows
from profiler.datagen.workloads import PAGE_MESSAGES
from profiler.models.conversations import Bot, Conversation, Message, Reaction
from profiler.queries import Comparison, collapse_in_lists
from profiler.chart_theme import template_json
from widgets import Figure, JsonViewer, ScrollTo
from widgets.data_table import DataTable
from widgets.message import Message as Notice
from widgets.message import plain_reason

if TYPE_CHECKING:  # imported when a run ends: the dashboard opens without it (dashboards/common.py)
    import pandas as pd

LATEST = 100  # conversations listed under "Inspect the data", ten to a page: the viewer below stays in sight
PAGE = 10
COUNTED = ("bots", "conversations", "messages", "reactions")


def latest_conversations(session: Session, limit: int = LATEST) -> pd.DataFrame:
    """The ``limit`` latest conversations with who started them and their size (one statement)."""
    size = select(func.count(Message.id)).where(Message.conversation_id == Conversation.id).scalar_subquery()
    rows = session.execute(
        select(Conversation.id, Conversation.title, Bot.handle.label("started_by"), Conversation.started_at,
               size.label("messages"))
        .join(Conversation.starter).order_by(Conversation.started_at.desc(), Conversation.id.desc()).limit(limit)
    ).mappings().all()
    import pandas as pd

    return pd.DataFrame(rows, columns=["id", "title", "started_by", "started_at", "messages"])


LATEST_COLUMNS = [
    {"key": "id", "label": "#", "kind": "number", "digits": 0},
    {"key": "title", "label": "Title", "wrap": True},
    {"key": "started_by", "label": "Started by"},
    {"key": "started_at", "label": "Started at", "kind": "datetime"},
    {"key": "messages", "label": "Messages", "kind": "number", "digits": 0},
]
COUNT_COLUMNS = [{"key": "table", "label": "Table"}, {"key": "rows", "label": "Rows", "kind": "number", "digits": 0}]


def latest_rows(latest: pd.DataFrame) -> list[dict[str, Any]]:
    import pandas as pd

    return [{"id": int(row.id), "title": row.title, "started_by": row.started_by,
             "started_at": pd.Timestamp(row.started_at).isoformat(), "messages": int(row.messages)}
            for row in latest.itertuples()]


def conversation_document(session: Session, conversation_id: int) -> dict[str, Any]:
    """One conversation as data: its participants and its threads, each reply under the message it answers,
    with authors, personas and reactions. Loaded in five statements (select-in and joined loads: no N+1 here)."""
    conversation = session.scalars(
        select(Conversation).where(Conversation.id == conversation_id).options(
            joinedload(Conversation.starter),
            selectinload(Conversation.participants).joinedload(Bot.persona),
            selectinload(Conversation.messages).options(
                joinedload(Message.author).joinedload(Bot.persona),
                selectinload(Message.reactions).joinedload(Reaction.bot),
            ),
        )
    ).one_or_none()
    if conversation is None:
        raise LookupError(f"there is no conversation {conversation_id} in this dataset")
    replies: dict[int | None, list[Message]] = defaultdict(list)
    for message in sorted(conversation.messages, key=lambda message: message.id):  # Message.replies' order
        replies[message.parent_id].append(message)

    def thread(message: Message) -> dict[str, Any]:  # depth is bounded: a conversation holds at most 60 messages
        return {"id": message.id, "position": message.position, "author": message.author.handle,
                "persona": message.author.persona.name, "sent_at": message.sent_at.isoformat(), "body": message.body,
                "reactions": [{"by": reaction.bot.handle, "emoji": reaction.emoji} for reaction in message.reactions],
                "replies": [thread(reply) for reply in replies[message.id]]}

    return {"id": conversation.id, "title": conversation.title, "started_at": conversation.started_at.isoformat(),
            "started_by": conversation.starter.handle, "messages": len(conversation.messages),
            "participants": [{"handle": bot.handle, "name": bot.display_name, "persona": bot.persona.name}
                             for bot in conversation.participants],
            "threads": [thread(message) for message in conversation.messages if message.parent_id is None]}


def count_rows(counts: Mapping[str, int]) -> list[dict[str, Any]]:
    return [{"table": name, "rows": counts[name]} for name in COUNTED]


class ConversationResults:
    """What a run shows and what a click on a conversation opens (:meth:`inspect` works from a cell too)."""

    def _build_results(self) -> None:
        self.source_note = w.HTML(NOT_YET)
        self.counts = DataTable(columns=COUNT_COLUMNS, row_key="table", selectable="none", label="Rows per table",
                                empty_text="")
        self.table = comparison_table()
        self.figure = Figure(height=400, dark_template=template_json(dark=True))
        self.findings = w.HTML(NOT_YET)
        # A click on a conversation opens it in the viewer below.
        self.latest = DataTable(columns=LATEST_COLUMNS, row_key="id", selectable="none", openable=True,
                                searchable=True, page_size=PAGE, label="Latest conversations",
                                empty_text="Run the comparison to list the dataset's latest conversations.")
        self.latest.observe(lambda change: self.inspect(int(change["new"])) if change["new"] else None, "activated")
        self.browse_message = Notice()
        self.viewer = JsonViewer({"note": "Run the comparison, then click a conversation to inspect it here."},
                                 root_name="conversation", height=480)
        self.viewer.add_class("workbench-conversation")
        self.comparison_viewer = JsonViewer({"note": "Run the comparison to inspect its data here."},
                                            root_name="comparison", height=360)
        self.scroller = ScrollTo()
        self.comparison: Comparison | None = None
        self.dataset_counts: dict[str, int] | None = None

    def clear_results(self) -> None:
        """Results of an earlier run must not stand under the failure of this one, as if they were its; its
        dataset may be gone or changed too, so there is nothing to open until a run succeeds."""
        self.comparison = self.dataset_counts = None
        self.progress.layout.display = "none"
        self.source_note.value = NOT_YET
        self.counts.rows = self.table.rows = self.latest.rows = []
        self.figure.show({"data": [], "layout": {}})
        self.findings.value = NOT_YET
        self.viewer.data = {"note": "Run the comparison, then click a conversation to inspect it here."}
        self.comparison_viewer.data = {"note": "Run the comparison to inspect its data here."}

    def show(self, comparison: Comparison, counts: dict[str, int], latest: pd.DataFrame, source: str) -> None:
        self.comparison, self.dataset_counts = comparison, counts
        self.source_note.value = f"<p>{html.escape(source)}</p>"
        self.counts.rows = count_rows(counts)
        self.table.rows = summary_rows(comparison)
        self.figure.show(comparison.figure())
        self.findings.value = findings_html(comparison)
        for result in comparison.results:
            if result.key in self.learn_more:
                sql = [collapse_in_lists(statement.sql) for statement in result.statements]
                self.learn_more[result.key].content = strategy_help(result.key, sql)
        self.comparison_viewer.data = comparison.to_dict(statements=True)
        self.latest.rows = latest_rows(latest)
        long_enough = latest[latest["messages"] >= PAGE_MESSAGES]  # like the conversation page workload's pick
        first = str(int((long_enough if len(long_enough) else latest)["id"].iloc[0])) if len(latest) else ""
        self.latest.activated = ""
        self.latest.activated = first  # shows it in the viewer (the observer calls inspect)
        self.scroller.scroll_to(INSPECT_TITLE)

    # --- inspecting -------------------------------------------------------------------------------------------
    def inspect(self, conversation_id: int) -> dict[str, Any] | None:
        """Show one conversation of the last run's dataset in the JSON viewer."""
        if self._engine is None:
            self.browse_message.error("Run the comparison first: it opens the dataset.")
            return None
        try:
            with Session(self._engine) as session:
                document = conversation_document(session, conversation_id)
        except Exception as error:  # noqa: BLE001 - e.g. the database went away; the page stays usable
            self.browse_message.error(plain_reason(error), title=f"Conversation {conversation_id} cannot be read:")
            return None
        self.browse_message.clear()
        self.viewer.data = document
        return document
