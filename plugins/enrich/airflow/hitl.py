"""The question a person answers in the Airflow UI: Airflow's own human-in-the-loop operator.

One ``LabelQuestionOperator`` task (mapped, one per question) shows a log line, its source
fields and the model's guess, with a form of three choices from the taxonomy, pre-set to the
guess, and two buttons: ``Save label`` and ``Skip``. Unanswered past ``response_timeout``, it
resolves to ``Skip`` (the item stays queued). An answer outside the taxonomy is refused when
the task resumes, with a message naming the field and the allowed values.

The engine (``enrich.engine.review``, which pulls in scikit-learn) is imported only when a
task runs, never when the DAG file is parsed. The log line is untrusted data: the subject
and body are never rendered as Jinja templates (``template_fields`` is empty) and the body
quotes the line in a code fence.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

from airflow.providers.standard.operators.hitl import HITLOperator
from airflow.sdk import Param

from enrich.core.labels import Taxonomy


class LabelQuestionOperator(HITLOperator):
    """Ask a person to label one queued log line; returns the question with the answer."""

    template_fields: Collection[str] = ()  # log lines are data, not templates
    ui_color = "#fde68a"

    def __init__(
        self, *, question: Mapping[str, Any], taxonomy: Taxonomy | None = None, **kwargs: Any
    ) -> None:
        from enrich.airflow.runtime import Runtime
        from enrich.engine import review

        self.question = dict(question)
        self.taxonomy = taxonomy or Runtime.current().taxonomy()
        spec = review.form_params(self.question, self.taxonomy)
        kwargs.pop("params", None)  # a mapped task passes the DAG's; the form is ours alone
        super().__init__(
            subject=review.subject(self.question),
            body=review.body(self.question),
            options=list(review.OPTIONS),
            defaults=[review.SKIP],
            multiple=False,
            params={axis: Param(**field) for axis, field in spec.items()},
            **kwargs,
        )

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        from enrich.engine import review

        # refuse values outside the taxonomy first, with a message listing the allowed ones
        if review.SAVE in (event.get("chosen_options") or []):
            review.answer_label(event.get("params_input") or {}, self.taxonomy)
        payload = super().execute_complete(context, event)
        responded_at = payload.get("responded_at")
        user = payload.get("responded_by_user") or {}
        return {
            "question": self.question,
            "chosen": list(payload.get("chosen_options") or []),
            "answer": dict(payload.get("params_input") or {}),
            "by": user.get("name") or user.get("id"),  # None: nobody (timed out)
            "answered_at": responded_at.isoformat()
            if isinstance(responded_at, datetime)
            else responded_at,
        }
