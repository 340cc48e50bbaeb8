"""Typed messages that thread workers post to the screen (or app) that started them.

Workers never touch widgets: they post one of these, and the handler, on the UI thread,
updates what is shown. None of them bubbles: each is meant for the node that posted it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from textual.message import Message

from flowjudge_tui.judging.backend import SamplingSettings

if TYPE_CHECKING:
    from flowjudge_tui.datasets import DatasetPreview
    from flowjudge_tui.judging.backend import JudgeEngine, LoadSettings
    from flowjudge_tui.judging.rubric import Item, Rubric
    from flowjudge_tui.judging.verdict import Verdict
    from flowjudge_tui.models.in_use import ModelChoice
    from flowjudge_tui.models.removal import Removable, Removal
    from flowjudge_tui.models.servers import SavedServer
    from flowjudge_tui.progress import Progress
    from flowjudge_tui.reports.agreement import Comparison, ItemPair, RunStats
    from flowjudge_tui.runs.execute import RunSummary
    from flowjudge_tui.store import DatasetRecord, JudgedItem, LabelRecord, RunRecord
    from flowjudge_tui.tui.model_scan import ModelScan


class FeedbackStreamed(Message, bubble=False):
    """Feedback written since the last update (at most ten a second), and the token count."""

    def __init__(self, text: str, job: int, tokens: int = 0,
                 tokens_per_second: float = 0.0) -> None:
        super().__init__()
        self.text = text
        self.job = job
        self.tokens = tokens
        self.tokens_per_second = tokens_per_second


class VerdictReady(Message, bubble=False):
    """A spot-check judgment finished."""

    def __init__(
        self, rubric: Rubric, item: Item, verdict: Verdict, job: int, load: LoadSettings,
        sampling: SamplingSettings | None = None,
    ) -> None:
        super().__init__()
        self.rubric = rubric
        self.item = item
        self.verdict = verdict
        self.job = job
        self.load = load
        self.sampling = sampling or SamplingSettings()


class ProgressChanged(Message, bubble=False):
    """Where a long task stands; a newer event replaces one not yet handled."""

    def __init__(self, progress: Progress) -> None:
        super().__init__()
        self.progress = progress

    def can_replace(self, message: Message) -> bool:
        return (
            isinstance(message, ProgressChanged)
            and message.progress.task == self.progress.task
            and not message.progress.finished
        )


class ModelChosen(Message, bubble=False):
    """The app settled which model file it will use (or that there is none)."""

    def __init__(self, choice: ModelChoice) -> None:
        super().__init__()
        self.choice = choice


class ModelAdded(Message, bubble=False):
    """A local model file was checked and registered; ``warning`` if it may not be
    Flow-Judge (another architecture, no chat template)."""

    def __init__(self, path: Path, warning: str = "") -> None:
        super().__init__()
        self.path = path
        self.warning = warning


class PlanDescribed(Message, bubble=False):
    """How the model file would be loaded on this machine."""

    def __init__(self, path: Path, plan: str) -> None:
        super().__init__()
        self.path = path
        self.plan = plan


class EngineLoading(Message, bubble=False):
    """A model started loading (or the app started connecting to a server: ``server``)."""

    def __init__(self, path: Path | None, server: SavedServer | None = None) -> None:
        super().__init__()
        self.path = path
        self.server = server


class EngineLoaded(Message, bubble=False):
    """A model is in memory and ready to judge. ``for_run``: loaded to resume a run with its
    own model, which then becomes the model in use for this session."""

    def __init__(self, engine: JudgeEngine, path: Path | None, plan: str,
                 for_run: bool = False, server: SavedServer | None = None) -> None:
        super().__init__()
        self.engine = engine
        self.path = path
        self.plan = plan
        self.for_run = for_run
        self.server = server


class ReviewRequested(Message, bubble=False):
    """Show this run on the Review screen."""

    def __init__(self, run_id: int) -> None:
        super().__init__()
        self.run_id = run_id


class SpotCheckRequested(Message, bubble=False):
    """Spot check with this rubric."""

    def __init__(self, rubric_name: str) -> None:
        super().__init__()
        self.rubric_name = rubric_name


class EngineNotice(Message, bubble=False):
    """Something the loader wants the user told (a fallback plan, a missing template)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class ModelMismatchRead(Message, bubble=False):
    """Whether a model file is Flow-Judge's kind, read from its header: ``text`` is the
    warning to show (``GGUFInfo.flow_judge_mismatch``), empty when it is."""

    def __init__(self, path: Path, text: str) -> None:
        super().__init__()
        self.path = path
        self.text = text


class TokensCounted(Message, bubble=False):
    """The token count of a prompt preview, for the model in memory."""

    def __init__(self, tokens: int, n_ctx: int) -> None:
        super().__init__()
        self.tokens = tokens
        self.n_ctx = n_ctx


class TaskFinished(Message, bubble=False):
    """A long task ended; ``outcome`` is one sentence for the user, ``path`` a file it made."""

    def __init__(
        self, task: str, outcome: str, cancelled: bool = False, path: Path | None = None
    ) -> None:
        super().__init__()
        self.task = task
        self.outcome = outcome
        self.cancelled = cancelled
        self.path = path


class ModelsScanned(Message, bubble=False):
    def __init__(self, scan: ModelScan) -> None:
        super().__init__()
        self.scan = scan


class RemovalFound(Message, bubble=False):
    """What deleting the selected model would remove (asked about before it happens)."""

    def __init__(self, target: Removable) -> None:
        super().__init__()
        self.target = target


class ModelRemoved(Message, bubble=False):
    """A model was forgotten, deleted from the cache, or a saved server removed."""

    def __init__(self, removal: Removal) -> None:
        super().__init__()
        self.removal = removal


class PreviewReady(Message, bubble=False):
    """The first rows of a dataset file and the guessed column mapping."""

    def __init__(self, preview: DatasetPreview) -> None:
        super().__init__()
        self.preview = preview


class RunsListed(Message, bubble=False):
    """The runs in the store, newest first."""

    def __init__(self, runs: list[RunRecord]) -> None:
        super().__init__()
        self.runs = runs


class DatasetsListed(Message, bubble=False):
    """Datasets imported before, newest first (the Runs screen offers them again)."""

    def __init__(self, datasets: list[DatasetRecord]) -> None:
        super().__init__()
        self.datasets = datasets


class RunStarted(Message, bubble=False):
    """A run was created (its dataset imported) and its judging begins."""

    def __init__(self, run: RunRecord) -> None:
        super().__init__()
        self.run = run


class RunEnded(Message, bubble=False):
    """A run stopped: finished, cancelled (resumable) or failed."""

    def __init__(self, summary: RunSummary) -> None:
        super().__init__()
        self.summary = summary


class RunsEnded(Message, bubble=False):
    """Runs started together (one per rubric) stopped: finished, cancelled or failed."""

    def __init__(self, summaries: list[RunSummary]) -> None:
        super().__init__()
        self.summaries = summaries


class RunCounted(Message, bubble=False):
    """A verdict of one of the runs being judged was committed: ``done`` of ``total``."""

    def __init__(self, run_id: int, done: int, total: int) -> None:
        super().__init__()
        self.run_id = run_id
        self.done = done
        self.total = total


class RunRenamed(Message, bubble=False):
    """A run was given a name (or its name was taken away)."""

    def __init__(self, run: RunRecord) -> None:
        super().__init__()
        self.run = run


class RunLoaded(Message, bubble=False):
    """A run's verdicts with their items and labels, and its statistics, ready to review."""

    def __init__(
        self, run: RunRecord, rubric: Rubric, entries: list[JudgedItem], stats: RunStats
    ) -> None:
        super().__init__()
        self.run = run
        self.rubric = rubric
        self.entries = entries
        self.stats = stats


class LabelSaved(Message, bubble=False):
    """A person's label or comment was written to the store."""

    def __init__(self, verdict_id: int, label: LabelRecord) -> None:
        super().__init__()
        self.verdict_id = verdict_id
        self.label = label


class StatsReady(Message, bubble=False):
    """A run's statistics recomputed (after a label changed)."""

    def __init__(self, stats: RunStats) -> None:
        super().__init__()
        self.stats = stats


class ComparisonReady(Message, bubble=False):
    """Two runs compared: the figures, each run's statistics, the runs and their pairs."""

    def __init__(self, comparison: Comparison, left: RunStats, right: RunStats,
                 runs: tuple[RunRecord, RunRecord], items: list[ItemPair]) -> None:
        super().__init__()
        self.comparison = comparison
        self.left = left
        self.right = right
        self.runs = runs
        self.items = items


class ComparableRuns(Message, bubble=False):
    """The runs that compare with the picker's run, and those left out (other items or
    another rubric)."""

    def __init__(self, fits: list[RunRecord], misfits: list[RunRecord]) -> None:
        super().__init__()
        self.fits = fits
        self.misfits = misfits


class VerdictKept(Message, bubble=False):
    """A spot-check verdict was stored as a run of its own."""

    def __init__(self, run: RunRecord) -> None:
        super().__init__()
        self.run = run


class RubricDeleted(Message, bubble=False):
    """A user rubric's file was deleted."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
