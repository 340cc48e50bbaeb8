"""Errors a user can cause. Each carries one sentence: what is wrong and how to fix it.

The command line and the app show ``str(error)`` and nothing else; a traceback never reaches
the user for one of these.
"""


class FlowJudgeError(Exception):
    """Base class for every error caused by input, files, hardware or the network."""


class RubricError(FlowJudgeError):
    """A rubric file is missing, unreadable or invalid."""


class ItemError(FlowJudgeError):
    """An item does not give the fields its rubric asks for."""


# How every too-long sentence begins (skips stored before they were marked are found by it).
TOO_LONG_PREFIX = "The item is too long to judge"


class PromptTooLongError(FlowJudgeError):
    """The prompt does not fit the model's context window.

    The sentence says only what happened, with the sizes: it is stored as a run's skip reason
    and shown by every front end, and each says how to fix it in its own terms (the CLI's
    ``--n-ctx`` and ``runs resume --retry-skipped``, the app's judge settings and Runs key)."""

    def __init__(self, prompt_tokens: int, reserved_tokens: int, n_ctx: int) -> None:
        self.prompt_tokens = prompt_tokens
        self.reserved_tokens = reserved_tokens
        self.n_ctx = n_ctx
        super().__init__(
            f"{TOO_LONG_PREFIX}: its prompt is {prompt_tokens} tokens and the "
            f"feedback needs at least {reserved_tokens} more, but the context holds {n_ctx} "
            "tokens."
        )


class ModelError(FlowJudgeError):
    """A model file is missing, invalid, or could not be loaded."""


class InvalidLogitsError(ModelError):
    """The model computed NaN or infinite logits: its weights (or the build) are broken."""

    def __init__(self, model_name: str) -> None:
        self.model_name = model_name
        super().__init__(
            f"{model_name} computed invalid numbers (NaN or infinite logits) at the score "
            "position, so no verdict was made; the model file is probably damaged: download "
            "it again or check it with 'flowjudge models add'."
        )


class DatasetError(FlowJudgeError):
    """A dataset file cannot be read or mapped to a rubric."""


class SettingsError(FlowJudgeError):
    """A sampling or load setting is out of range (NaN, negative, too large)."""


class NetworkError(FlowJudgeError):
    """The network is needed and could not be reached."""


class StoreError(FlowJudgeError):
    """The local database refused an operation (unknown id, wrong state)."""


class ServerError(NetworkError):
    """An inference server refused a request or answered in a way we cannot use."""


class ServerUnreachableError(ServerError):
    """An inference server stayed unreachable longer than we wait."""

    def __init__(self, server: str, waited: float, problem: str) -> None:
        self.server = server
        self.waited = waited
        self.problem = problem
        super().__init__(
            f"The server at {server} has been unreachable for {waited:.0f} s ({problem}); "
            "start it (or check the URL) and try again."
        )
