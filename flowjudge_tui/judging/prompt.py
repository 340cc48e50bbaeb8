"""The exact Flow-Judge prompt.

Flow-Judge-v0.1 was trained on these templates: every byte matters, the ``criterion,decide``
typo included. The output is checked byte for byte against the official ``flow-judge`` 0.1.2
library in the tests.
"""

from __future__ import annotations

from flowjudge_tui.judging.rubric import Item, Rubric

_INSTRUCTIONS_HEAD = """# INSTRUCTIONS FOR THE EVALUATION
1. Understand the task and criteria: Familiarize yourself with the task to be evaluated. \
Review the evaluation criteria and scoring rubric to understand the different levels of \
performance and the descriptions for each score.
"""

_INSTRUCTIONS_TAIL = """\
3. Compare output to score descriptions: Compare the output against the criteria and score \
descriptions in the scoring rubric. For each criterion,decide which description best matches the \
output.
4. After comparing the output to the score descriptions, pay attention to the small details that \
might impact the final score that you assign. Sometimes a small difference can dictate the final \
score.
5. Write verbal feedback justifying your evaluation that includes a detailed rationale, referring \
to specific aspects of the output and comparing them to the rubric.
6. Assign a final score based on the scoring rubric.

## FORMAT FOR THE EVALUATION
- Write the verbal feedback inside <feedback> tags without any additional surrounding text.
- Write the numeric score inside <score> tags, without any additional surrounding text and always \
after the feedback.

Please accurately evaluate the task. Strictly adhere to the evaluation criteria and rubric."""

_CRITERIA_HEAD = """# EVALUATION CRITERIA AND SCORING RUBRIC
Here are the evaluation criteria and the rubric that you need to use for evaluating the task:
<evaluation_criteria>
"""

_OUTPUT_HEAD = """# OUTPUT
Below is the output of the task:
<output>
"""

_GOAL_WITH_INPUTS = """# GOAL
Your job is to evaluate a task carried out by an AI system powered by a large language model.

You will be provided with the inputs and output of the task, as well as the evaluation criteria \
and scoring rubric. Your task is to evaluate the output of the AI system based on the evaluation \
criteria and scoring rubric provided.

# INPUT
Below are the inputs required for performing the task:
<inputs>
"""

_GOAL_WITHOUT_INPUTS = """# GOAL
Your job is to evaluate a task carried out by an AI system powered by a large language model.

You will be provided the output of the task, as well as the evaluation criteria \
and scoring rubric. Your task is to evaluate the output of the AI system based on the evaluation \
criteria and scoring rubric provided.

"""

_STEP_2_WITH_INPUTS = (
    "2. Review the inputs and output: Look at the inputs provided for the task. Examine the output "
    "generated from completing the task.\n"
)
_STEP_2_WITHOUT_INPUTS = (
    "2. Review the output: Examine the output generated from completing the task.\n"
)


def format_fields(fields: list[tuple[str, str]]) -> str:
    """Each field as ``<tag>\\nvalue\\n</tag>``, tag lower-cased with spaces as '_'."""
    parts = []
    for name, value in fields:
        tag = name.lower().replace(" ", "_")
        parts.append(f"<{tag}>\n{value}\n</{tag}>")
    return "\n".join(parts)


def format_scores(scores: dict[int, str]) -> str:
    return "\n".join(f"- Score {score}: {scores[score]}" for score in sorted(scores))


def build_prompt(rubric: Rubric, item: Item) -> str:
    """The user message Flow-Judge expects for this rubric and item.

    Values are joined verbatim (no templating), so braces, ``%s`` and any markup inside them
    stay as they are and cannot reach another part of the prompt.
    """
    item = rubric.check_item(item)
    inputs = format_fields([(name, item.inputs[name]) for name in rubric.inputs])
    output = format_fields([(rubric.output, item.output)])
    parts: list[str] = []
    if inputs:
        parts += [_GOAL_WITH_INPUTS, inputs, "\n</inputs>\n\n"]
    else:
        parts.append(_GOAL_WITHOUT_INPUTS)
    parts += [_OUTPUT_HEAD, output, "\n</output>\n\n"]
    parts += [_CRITERIA_HEAD, rubric.criteria, "\n</evaluation_criteria>\n\n"]
    parts += ["<scoring_rubric>\n", format_scores(rubric.scores), "\n</scoring_rubric>\n\n"]
    parts += [_INSTRUCTIONS_HEAD, _STEP_2_WITH_INPUTS if inputs else _STEP_2_WITHOUT_INPUTS]
    parts.append(_INSTRUCTIONS_TAIL)
    return "".join(parts)
