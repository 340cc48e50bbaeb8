"""The flowjudge terminal app: built by ``create_app`` (CLI and tests alike), run by ``run_app``.

Start-up is kept light: nothing here imports llama_cpp or loads a model. The model is chosen
in a worker after the first paint and loaded only when something needs it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

from textual import work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.reactive import reactive
from textual.screen import Screen
from textual.worker import get_current_worker

from flowjudge_tui.errors import FlowJudgeError, ModelError
from flowjudge_tui.judging.backend import JudgeEngine, LoadSettings
from flowjudge_tui.judging.rubric import RubricLibrary
from flowjudge_tui.models.in_use import (
    SERVER_PREFIX,
    Preferences,
    choose_model,
    load_preferences,
    save_preferences,
)
from flowjudge_tui.models.servers import SavedServer
from flowjudge_tui.settings import app_paths
from flowjudge_tui.store import RunRecord, Store, open_store
from flowjudge_tui.tui.background import JobTracker
from flowjudge_tui.tui.commands import FlowJudgeCommands, Verb
from flowjudge_tui.tui.messages import (
    EngineLoaded,
    EngineLoading,
    EngineNotice,
    ModelAdded,
    ModelChosen,
    PlanDescribed,
    ReviewRequested,
    SpotCheckRequested,
)
from flowjudge_tui.tui.model_choice import ModelState, ModelStatus
from flowjudge_tui.tui.screens.dialogs import Notice, TextPrompt
from flowjudge_tui.tui.screens.help import HelpScreen
from flowjudge_tui.tui.screens.home import HomeScreen
from flowjudge_tui.tui.screens.models import ModelsScreen
from flowjudge_tui.tui.screens.review import ReviewScreen
from flowjudge_tui.tui.screens.rubrics import RubricsScreen
from flowjudge_tui.tui.screens.runs import RunsScreen
from flowjudge_tui.tui.screens.spot_check import SpotCheckScreen
from flowjudge_tui.tui.terminal_guard import guard_displayed_text
from flowjudge_tui.tui.widgets.nav_bar import SECTIONS
from flowjudge_tui.tui.worker_errors import WorkerErrorHandler

QUIT_GRACE_SECONDS = 5.0
NO_MODEL_SENTENCE = (
    "No model is set up yet; download Flow-Judge or add a local GGUF file on the Models "
    "screen (F3)."
)


class FlowJudgeApp(App[int], WorkerErrorHandler):
    """Shared state lives here: paths, the rubric library, preferences and the model status."""

    CSS_PATH = "app.tcss"
    TITLE = "flowjudge"
    MODES: ClassVar[dict[str, str | Callable[[], Screen[Any]]]] = {
        "home": HomeScreen,
        "models": ModelsScreen,
        "rubrics": RubricsScreen,
        "spot": SpotCheckScreen,
        "runs": RunsScreen,
        "review": ReviewScreen,
    }
    DEFAULT_MODE = "home"
    # Below 100 columns the screens stack their side-by-side panels (app.tcss, "-narrow").
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]  # noqa: RUF012 (App declares it)
    COMMANDS = App.COMMANDS | {FlowJudgeCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f1", "help", "Help", priority=True, id="app.help"),
        Binding("question_mark", "help", "Help", show=False, id="app.help_alt"),
        # Priority: the screen keys work inside a TextArea or an Input too. The section bar
        # on top of every screen shows them, so the footer keeps room for the screen's keys.
        *(
            Binding(key, f"switch_mode('{mode}')", label, show=False, priority=True,
                    id=f"app.go_{mode}")
            for mode, label, key in SECTIONS
        ),
        Binding("ctrl+q", "quit", "Quit", priority=True, id="app.quit"),
    ]

    model_status: reactive[ModelStatus] = reactive(ModelStatus)

    def __init__(self, model: str | None = None, section: str = "home") -> None:
        super().__init__()
        self.given_model = model
        self.paths = app_paths()
        self.library = RubricLibrary(self.paths)
        self.preferences = load_preferences(self.paths)
        self.start_section = section
        self.engine: JudgeEngine | None = None
        self.review_run_id: int | None = None
        self.added_model: ModelAdded | None = None
        self._store: Store | None = None
        self._store_lock = threading.Lock()
        self.jobs = JobTracker()

    @property
    def store(self) -> Store:
        """The database, opened on first use; safe to use from worker threads."""
        with self._store_lock:
            if self._store is None:
                self._store = open_store(self.paths.database)
            return self._store

    async def on_unmount(self) -> None:
        """Let cancelled workers reach their next stop check (a run records that it stopped,
        a download keeps its partial file) before the database closes."""
        self.workers.cancel_all()
        await self.jobs.wait(QUIT_GRACE_SECONDS)
        if self._store is not None:
            self._store.close()

    def on_mount(self) -> None:
        if self.start_section != self.current_mode:
            self.switch_mode(self.start_section)
        self.choose_model_in_background()

    def action_help(self) -> None:
        screen = self.screen
        if isinstance(screen, HelpScreen):
            return
        keys: dict[tuple[str, str], None] = {}
        for active in screen.active_bindings.values():
            if active.binding.description and isinstance(active.node, App | Screen):
                keys[self.get_key_display(active.binding), active.binding.description] = None
        title = next((label for mode, label, _ in SECTIONS if mode == self.current_mode), "")
        self.push_screen(HelpScreen(title, screen.HELP or "", list(keys)))

    def remember(self, preferences: Preferences) -> None:
        self.preferences = preferences
        try:
            save_preferences(self.paths, preferences)
        except FlowJudgeError as exc:
            self.notify(str(exc), title="Preferences", severity="warning")

    def use_model(self, path: Path) -> None:
        """Make ``path`` the model in use (remembered for next time); loads it on demand."""
        self.remember(self.preferences.with_model(str(path)))
        self._drop_served_engine()
        self.model_status = ModelStatus("unloaded", path, "chosen")
        self.describe_plan(path)

    def use_server(self, server: SavedServer) -> None:
        """Make ``server`` the judge in use (remembered for next time); connects on demand."""
        self.remember(self.preferences.with_model(SERVER_PREFIX + server.name))
        self._drop_served_engine()
        self.model_status = ModelStatus("unloaded", None, "chosen", server=server,
                                        plan=f"served by {server.url}")

    def _drop_served_engine(self) -> None:
        engine, self.engine = self.engine, None
        if engine is not None and engine.path is None:
            engine.close()

    @work(thread=True, exclusive=True, group="choose-model", exit_on_error=False)
    def choose_model_in_background(self) -> None:
        choice = choose_model(self.given_model, self.preferences)
        self.post_message(ModelChosen(choice))

    def on_model_chosen(self, message: ModelChosen) -> None:
        choice = message.choice
        found = choice.path is not None or choice.server is not None
        state: ModelState = "unloaded" if found else "none"
        plan = f"served by {choice.server.url}" if choice.server is not None else ""
        self.model_status = ModelStatus(state, choice.path, choice.source, choice.problem,
                                        plan=plan, server=choice.server)
        if choice.path is not None:
            self.describe_plan(choice.path)

    @work(thread=True, exclusive=True, group="plan", exit_on_error=False)
    def describe_plan(self, path: Path) -> None:
        from flowjudge_tui.engine.plans import plan_for_file

        self.post_message(PlanDescribed(path, plan_for_file(path).explanation))

    def on_plan_described(self, message: PlanDescribed) -> None:
        status = self.model_status
        if status.path == message.path and status.state != "loaded":
            self.model_status = replace(status, plan=message.plan)

    @work(thread=True, exclusive=True, group="load-model", exit_on_error=False)
    def load_model(self) -> None:
        self.engine_for_worker()

    def engine_for_worker(self, n_ctx: int | None = None) -> JudgeEngine:
        """The loaded judge, loading the chosen model first if needed (again, when another
        context size is asked for). Thread workers only."""
        status = self.model_status
        if status.server is not None:
            return self._served_engine_for_worker(status.server)
        if status.path is None:
            raise ModelError(NO_MODEL_SENTENCE)
        from flowjudge_tui.engine.loader import load_engine
        from flowjudge_tui.engine.plans import load_settings_for

        if status.state != "loaded":
            self.post_message(EngineLoading(status.path))
        engine = load_engine(
            status.path,
            load_settings_for(status.path, n_ctx=n_ctx),
            on_notice=self._post_notice,
        )
        if not get_current_worker().is_cancelled:
            self.post_message(EngineLoaded(engine, status.path, engine.load.describe()))
        return engine

    def _served_engine_for_worker(self, server: SavedServer) -> JudgeEngine:
        engine = self.engine
        if engine is not None and getattr(engine, "server", None) == server.url:
            return engine
        from flowjudge_tui.runs.workflow import open_served

        self.post_message(EngineLoading(None, server))
        engine = open_served(server.url)
        if not get_current_worker().is_cancelled:
            self.post_message(EngineLoaded(engine, None, f"served by {server.url}",
                                           server=server))
        return engine

    def open_engine_for_run(self, path: Path, plans: Sequence[LoadSettings]) -> JudgeEngine:
        """The ``EngineOpener`` runs resume with in the app: the run's own model, through the
        one-model loader, and the app told which model is now in memory. Thread workers only."""
        from flowjudge_tui.engine.loader import load_engine

        engine = load_engine(path, plans, on_notice=self._post_notice)
        self.post_message(EngineLoaded(engine, path, engine.load.describe(), for_run=True))
        return engine

    def _post_notice(self, text: str) -> None:
        from flowjudge_tui.models.gguf_file import ModelMismatch

        if isinstance(text, ModelMismatch):
            return  # Spot check shows it as a line by the verdict; a toast would fade away
        self.post_message(EngineNotice(text))

    def on_engine_loading(self, message: EngineLoading) -> None:
        status = self.model_status
        if message.path == status.path and message.server == status.server:
            self.model_status = replace(status, state="loading")

    def on_engine_loaded(self, message: EngineLoaded) -> None:
        status = self.model_status
        if message.engine is self.engine and status.state == "loaded":
            return
        same = message.path == status.path and message.server == status.server
        if not same and not message.for_run:
            if message.engine.path is None:
                message.engine.close()
            return  # a load the user has since moved away from
        self.engine = message.engine
        self.model_status = ModelStatus(
            "loaded",
            message.path,
            status.source if same else "run",
            plan=message.plan,
            n_ctx=message.engine.n_ctx,
            server=message.server,
        )

    def on_engine_notice(self, message: EngineNotice) -> None:
        self.notify(message.text, title="Model")

    def on_worker_failed(self, worker: object) -> None:
        if self.model_status.state == "loading":
            self.model_status = replace(self.model_status, state="unloaded", problem="")

    def ask_for_local_model(self) -> None:
        prompt = TextPrompt(
            "Add a local GGUF file",
            "The path of a Flow-Judge GGUF file on this machine; it becomes the model in use.",
            placeholder="~/models/flow-judge-v0.1-Q4_K_M.gguf",
            check=self.add_local_model,
        )
        self.push_screen(prompt, self._local_model_answered)

    def _local_model_answered(self, answer: str | None) -> None:
        added, self.added_model = self.added_model, None
        if answer is not None and added is not None:
            self.on_model_added(added)

    def add_local_model(self, text: str) -> str | None:
        """Check and register a GGUF file (in the dialog's worker thread); a sentence if it
        cannot be used, so the dialog stays open with the path as typed."""
        from flowjudge_tui.models.catalog import register_local_model
        from flowjudge_tui.models.gguf_file import read_gguf

        if not text.strip():
            return "Give the path of a .gguf file."
        model = register_local_model(Path(text.strip()).expanduser(), paths=self.paths)
        warning = gguf_warning(read_gguf(model.path).metadata, model.path.name)
        self.added_model = ModelAdded(model.path, warning)  # shown once the dialog closes
        return None

    def on_model_added(self, message: ModelAdded) -> None:
        self.use_model(message.path)
        if message.warning:
            self.push_screen(Notice("This may not be Flow-Judge", message.warning))
        else:
            self.notify(f"{message.path.name} is now the model in use.", title="Model")

    async def download_default_model(self) -> None:
        from flowjudge_tui.models.catalog import default_entry

        await self.switch_mode("models")
        screen = self.screen
        if isinstance(screen, ModelsScreen):
            screen.action_download(default_entry().name)

    def open_review(self, run_id: int) -> None:
        """Review this run (the screen picks it up when it is shown)."""
        self.review_run_id = run_id
        if self.current_mode == "review":
            self.screen.post_message(ReviewRequested(run_id))
        else:
            self.switch_mode("review")

    def palette_verbs(self, runs: list[RunRecord]) -> list[Verb]:
        verbs = [
            Verb(f"Go to {label}", f"Open the {label} screen ({key.upper()})",
                 partial(self.switch_mode, mode))
            for mode, label, key in SECTIONS
        ]
        verbs.append(Verb("Load the model", "Load the chosen model into memory now",
                          self.load_model))
        verbs.append(Verb("Unload the model", "Free the memory the model takes",
                          self.unload_model))
        verbs.append(Verb("New rubric", "Write a rubric of your own (Rubrics, n)",
                          partial(self.run_on_screen, "rubrics", "new_rubric")))
        verbs.append(Verb("Start a run", "Judge the file set up on Runs (ctrl+r)",
                          partial(self.run_on_screen, "runs", "start_run")))
        verbs.append(Verb("Stop the run", "Stop the run in progress; it can be resumed",
                          partial(self.run_on_screen, "runs", "cancel_run")))
        verbs.append(Verb("Rename the selected run", "Give the run selected on Runs a name (n)",
                          partial(self.run_on_screen, "runs", "rename_run")))
        verbs.append(Verb("Compare two runs", "Pick a run to compare with the one in Review",
                          partial(self.run_on_screen, "review", "compare")))
        verbs.append(Verb("Export the run in Review", "JSONL, CSV or an HTML report",
                          partial(self.run_on_screen, "review", "export")))
        for run in runs:
            if run.resumable:
                verbs.append(Verb(f"Resume run {run.id}{run.quoted_name}: {run.rubric_name} on "
                                  f"{run.dataset_name}",
                                  f"{run.done} of {run.total_items} judged so far",
                                  partial(self.run_on_screen, "runs", "resume_run", run.id)))
        for run in runs:
            if run.skipped_too_long and run.server_url is None:
                verbs.append(Verb(f"Retry run {run.id}'s too-long items with a larger context",
                                  f"{run.skipped_too_long} skipped as too long for "
                                  f"{run.n_ctx} tokens (Runs, l)",
                                  partial(self.run_on_screen, "runs", "retry_too_long",
                                          run.id)))
        for entry in self.library.entries():
            name = entry.rubric.name
            verbs.append(Verb(f"Spot check with {name}", entry.rubric.title,
                              partial(self.open_spot_check, name)))
        for run in runs:
            verbs.append(Verb(f"Review run {run.id}{run.quoted_name}: {run.rubric_name} on "
                              f"{run.dataset_name}",
                              f"{run.state}, {run.done} of {run.total_items} judged",
                              partial(self.open_review, run.id)))
        verbs.append(Verb("Add a local GGUF file", "Use a model file already on this machine",
                          self.ask_for_local_model))
        verbs.append(Verb("Remove the selected model",
                          "Forget a GGUF, delete a download or remove a server (Models, delete)",
                          partial(self.run_on_screen, "models", "delete_model")))
        return verbs

    async def run_on_screen(self, mode: str, action: str, *arguments: object) -> None:
        """A palette verb: go to a section and run one of its screen's actions there."""
        if self.current_mode != mode:
            await self.switch_mode(mode)
        method = getattr(self.screen, f"action_{action}", None)
        if method is None:
            return
        result = method(*arguments)
        if hasattr(result, "__await__"):
            await result

    @property
    def model_busy(self) -> bool:
        """A judgment or a run is using the model now."""
        return self.jobs.busy or any(w.group in ("judge", "run") for w in self.workers)

    def release_judge(self) -> None:
        """Before the judge in use is removed: free it from memory (or drop the server's
        connection), without a word; the caller has checked it is not busy."""
        from flowjudge_tui.engine.loader import unload_engine

        self._drop_served_engine()
        if self.model_status.state == "loaded" and self.model_status.path is not None:
            unload_engine()
            self.engine = None
        status = self.model_status
        self.model_status = replace(status, state="unloaded", n_ctx=0)

    def judge_removed(self) -> None:
        """The judge in use was removed on Models (its preference is cleared): choose again,
        as at start-up (the downloaded default, else the GGUF added last, else none)."""
        self.given_model = None
        self.preferences = load_preferences(self.paths)
        self.model_status = ModelStatus()
        self.choose_model_in_background()

    def unload_model(self) -> None:
        """Free the model's memory (refused while a judgment or a run uses it)."""
        from flowjudge_tui.engine.loader import unload_engine

        if self.model_busy:
            self.notify("The model is busy; stop the judgment or the run first.",
                        title="Model", severity="warning")
            return
        if self.model_status.state != "loaded":
            self.notify("No model is in memory.", title="Model")
            return
        unload_engine()
        self.engine = None
        status = self.model_status
        self.model_status = ModelStatus("unloaded", status.path, status.source,
                                        plan=status.plan)
        self.notify("The model is unloaded; it loads again when something needs it.",
                    title="Model")

    def open_spot_check(self, rubric_name: str) -> None:
        """Spot check with this rubric (the screen picks it up from the preferences)."""
        self.remember(self.preferences.with_rubric(rubric_name))
        if self.current_mode == "spot":
            self.screen.post_message(SpotCheckRequested(rubric_name))
        else:
            self.switch_mode("spot")


def gguf_warning(metadata: Mapping[str, object], name: str) -> str:
    """Why a model file may not judge as Flow-Judge does (empty when it looks right)."""
    problems = []
    architecture = str(metadata.get("general.architecture", "")) or "unknown"
    if architecture != "phi3":
        problems.append(f"its architecture is {architecture}, not Flow-Judge's phi3")
    if not metadata.get("tokenizer.chat_template"):
        problems.append("it has no chat template (Flow-Judge's Phi-3 wrapper will be used)")
    if not problems:
        return ""
    return (f"{name} is now the model in use, but {' and '.join(problems)}. Its verdicts "
            "will not be Flow-Judge's; add a Flow-Judge GGUF for those.")


def create_app(model: str | None = None, section: str = "home") -> FlowJudgeApp:
    """The app as the CLI and the tests make it.

    ``model``: a catalog name, a registered local name or a .gguf path (else the remembered
    or default model); ``section``: the screen to open on (home, models, rubrics, spot, runs,
    review). State lives under ``settings.app_paths()`` (``FLOWJUDGE_HOME``).
    """
    guard_displayed_text()
    return FlowJudgeApp(model=model, section=section)


def run_app(model: str | None = None) -> int:
    app = create_app(model=model)
    app.run()
    return app.return_code or 0
