"""Typed rows: what the store hands out. Nothing outside the store sees a raw tuple."""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from flowjudge_tui.errors import StoreError
from flowjudge_tui.judging.backend import LoadSettings, SamplingSettings
from flowjudge_tui.judging.rubric import Item

RunStatus = Literal["queued", "running", "done", "failed", "cancelled"]
RunState = Literal["queued", "running", "interrupted", "done", "failed", "cancelled"]
VerdictStatus = Literal["judged", "reused", "skipped"]
FingerprintKind = Literal["sha256", "quick-v1", "served-v1"]

# The stop reason of an item skipped because its prompt did not fit the context.
TOO_LONG = "too_long"


RUN_NAME_MAX = 80
"""Characters a run's name may have: enough to say what it is, short enough for a table."""


def check_run_name(name: str) -> str:
    """A run's name without surrounding spaces, or a ``StoreError`` saying what is wrong."""
    name = name.strip()
    if not name:
        raise StoreError("A run's name cannot be empty; give a few words, or no name at all.")
    if len(name) > RUN_NAME_MAX:
        raise StoreError(f"A run's name is at most {RUN_NAME_MAX} characters; this one has "
                         f"{len(name)}: shorten it.")
    if any(unicodedata.category(char).startswith("C") for char in name):
        raise StoreError("A run's name cannot hold control characters (tabs, line breaks, "
                         "escape sequences); type it as plain text.")
    return name


def item_content_hash(inputs: Mapping[str, str], output: str) -> str:
    """sha256 over everything of an item that reaches the prompt (field names, order, values)."""
    canonical = json.dumps([list(inputs.items()), output], ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class NewItem:
    """An item as parsed from a dataset file, before it has an id."""

    row_number: int
    inputs: dict[str, str]
    output: str
    human_label: int | None = None
    source_key: str | None = None


@dataclass(frozen=True)
class DatasetRecord:
    id: int
    name: str
    source_path: str
    format: str
    columns: list[str]
    mapping: dict[str, str]
    """Rubric field -> the file's column it was read from."""
    label_column: str | None
    id_column: str | None
    input_fields: list[str]
    output_field: str
    rubric_hash: str
    """The rubric the columns were mapped for (and the imported labels belong to)."""
    item_count: int
    created_at: str
    source_hash: str | None = None
    """What the import was made from (file bytes, mapping, rubric fields); None before."""


@dataclass(frozen=True)
class ItemRecord:
    id: int
    dataset_id: int
    row_number: int
    source_key: str | None
    inputs: dict[str, str]
    output: str
    human_label: int | None
    content_hash: str

    def to_item(self) -> Item:
        return Item(inputs=self.inputs, output=self.output)


@dataclass(frozen=True)
class RunSettings:
    """What was asked of the judge for a run (kept as JSON in ``runs.settings``)."""

    sampling: SamplingSettings = field(default_factory=SamplingSettings)
    load: LoadSettings = field(default_factory=LoadSettings)
    limit: int | None = None

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "sampling": self.sampling.__dict__.copy(),
            "load": self.load.__dict__.copy(),
            "limit": self.limit,
        }

    @classmethod
    def from_json_dict(cls, data: Mapping[str, Any]) -> RunSettings:
        return cls(
            sampling=SamplingSettings(**data.get("sampling", {})),
            load=LoadSettings(**data.get("load", {})),
            limit=data.get("limit"),
        )


@dataclass(frozen=True)
class RunRecord:
    id: int
    dataset_id: int
    dataset_name: str
    rubric_hash: str
    rubric_name: str
    model_name: str
    model_path: str
    model_fingerprint: str
    fingerprint_kind: FingerprintKind
    settings: RunSettings
    status: RunStatus
    state: RunState
    """The status, except that a 'running' run whose process is gone is 'interrupted'."""
    error: str | None
    owner_pid: int | None
    owner_host: str | None
    owner_token: str | None
    total_items: int
    created_at: str
    started_at: str | None
    finished_at: str | None
    judged: int = 0
    reused: int = 0
    skipped: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    judge_seconds: float = 0.0
    owner_heartbeat: str | None = None
    server_url: str | None = None
    """The server that judges this run; None when a model file is judged in-process."""
    skipped_too_long: int = 0
    """Of the skipped items, those too long for the context (a larger one may judge them)."""
    name: str | None = None
    """What the user called the run (``--name``, renamed later); None when unnamed."""
    retry_n_ctx: int | None = None
    """The largest context a retry of its too-long items judged with (None: not retried)."""
    started_with: int | None = None
    """The first of the runs created together with it (one per rubric over one file), its
    own id for that first one; None for a run made alone."""

    @property
    def n_ctx(self) -> int:
        """The largest context the run's items were judged with: its own, or a retry's. A
        retry of items still too long must give more than this."""
        return max(self.settings.load.n_ctx, self.retry_n_ctx or 0)

    @property
    def quoted_name(self) -> str:
        """' "baseline"' after a named run's id, or nothing."""
        return "" if self.name is None else f' "{self.name}"'

    @property
    def title(self) -> str:
        """'Run 3' or 'Run 3 "baseline"': how the run is named wherever it is described."""
        return f"Run {self.id}{self.quoted_name}"

    @property
    def done(self) -> int:
        """Items with a verdict (judged, reused or skipped)."""
        return self.judged + self.reused + self.skipped

    @property
    def pending(self) -> int:
        return max(0, self.total_items - self.done)

    @property
    def resumable(self) -> bool:
        return self.pending > 0 and self.state in ("queued", "interrupted", "failed", "cancelled")


@dataclass(frozen=True)
class NewVerdict:
    """A verdict ready to be stored (judged, reused from another run, or skipped)."""

    status: VerdictStatus
    work_key: str
    score: int | None = None
    feedback: str = ""
    distribution: dict[int, float] = field(default_factory=dict)
    expected_score: float | None = None
    confidence: float | None = None
    score_mass: float | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    raw_text: str = ""
    stop_reason: str = ""
    skip_reason: str | None = None
    reused_from: int | None = None


@dataclass(frozen=True)
class VerdictRecord(NewVerdict):
    id: int = 0
    run_id: int = 0
    item_id: int = 0
    created_at: str = ""

    @property
    def has_score(self) -> bool:
        return self.score is not None


@dataclass(frozen=True)
class LabelRecord:
    """A reviewer's judgment of an item, as seen from one rubric version; either part may be
    empty. It is stored against the item's content and the rubric's name, so the same row
    in another import, run or version of the rubric shows it too. The label imported with
    the dataset is not here: it is ``ItemRecord.human_label``, never changed."""

    item_id: int
    rubric_hash: str
    score: int | None
    comment: str
    updated_at: str


@dataclass(frozen=True)
class JudgedItem:
    """One row of a run's results: the item, its verdict and the human label if any."""

    item: ItemRecord
    verdict: VerdictRecord
    label: LabelRecord | None

    @property
    def reviewer_score(self) -> int | None:
        return self.label.score if self.label is not None else None

    @property
    def imported_label(self) -> int | None:
        return self.item.human_label

    @property
    def human_score(self) -> int | None:
        """The label metrics and exports use: the reviewer's where given, else the imported."""
        reviewer = self.reviewer_score
        return reviewer if reviewer is not None else self.item.human_label

    def label_on(self, scale: Sequence[int]) -> int | None:
        """The human label if it is on ``scale`` (the rubric version's), else None. A reviewer's
        label follows the item under the rubric's name, so one given under another version's
        scale (a 4 on 1-5, then a pass/fail version) can arrive here: it is no label for this
        version. Every figure measured against people (stats, compare, calibration) uses this."""
        label = self.human_score
        return label if label is not None and label in scale else None
