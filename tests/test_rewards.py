import pytest

from scalpel_core.eval.rewards import extract_answer, has_format, is_correct


def test_extract_takes_last_answer_block():
    assert extract_answer("<answer>\n3\n</answer> then <answer>\n 7 \n</answer>") == "7"
    assert extract_answer("no tags, 42") == "no tags, 42"


@pytest.mark.parametrize("completion,gold,ok", [
    ("<think>\n2 + 2 = 4\n</think>\n<answer>\n4\n</answer>", "4", True),
    ("<think>\n2 + 2 = 4\n</think>\n<answer>\n5\n</answer>", "4", False),
    ("The answer is $\\boxed{12}$.", "12", True),
    ("So 3 + 4 = 7. The answer is 7.", "7", True),          # last number without a box
    ("So 3 + 4 = 7. The answer is 8.", "7", False),
    ("<answer>\n\\frac{1}{2}\n</answer>", "0.5", True),      # math-verify equivalence
    ("<answer>\n\\frac{2}{4}\n</answer>", "\\frac{1}{2}", True),
    ("I do not know.", "3", False),
    ("", "3", False),
])
def test_is_correct(completion, gold, ok):
    assert is_correct(completion, gold) is ok


def test_unparseable_gold_is_an_error():
    with pytest.raises(ValueError, match="gold answer"):
        is_correct("<answer>1</answer>", "")


def test_format_check():
    assert has_format("<think>\nwork\n</think>\n<answer>\n4\n</answer>")
    assert not has_format("<think>\nwork\n</think>\n4")
    assert not has_format("The answer is 4.")
    assert not has_format("<answer>\n4\n</answer>")


def test_is_correct_in_worker_thread():
    """math-verify's timeouts need the main thread; elsewhere they are switched off."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(is_correct, "<answer>\n9\n</answer>", "9").result()


# --- the authors' graders (open-r1's rewards as they ran them) ---------------------------------

from scalpel_core.eval.rewards import (authors_accuracy_reward, authors_format_reward, authors_is_correct,  # noqa: E402
                                       grader_disagreement, grader_table)

TRACE = "<think>\nadding\n</think>\n<answer>\n{}\n</answer>"


def test_authors_accuracy_takes_the_gold_from_the_solution_text():
    sol = "We get $x = 3$ and finally the answer is $\\boxed{7}$."  # a worked solution, not the answer column
    assert authors_is_correct("so $\\boxed{7}$", sol) is True
    assert authors_is_correct("so $\\boxed{3}$", sol) is False


def test_authors_accuracy_reads_the_whole_completion_boxed_first_and_needs_latex():
    sol = "$\\boxed{37}$"
    assert authors_is_correct("$\\boxed{37}$ although $5$", sol) is True  # boxed before other matches
    assert authors_is_correct(TRACE.format("37"), sol) is False  # a bare number: no anchor, no answer
    assert is_correct(TRACE.format("37"), "37")  # ours reads the <answer> block
    assert authors_is_correct(TRACE.format("$\\boxed{37}$"), sol) is True


def test_unparseable_gold_skips_the_example_with_none():
    assert authors_accuracy_reward(["$\\boxed{1}$", "$\\boxed{2}$"], ["no maths here", "$\\boxed{2}$"]) == [None, 1.0]


def test_authors_format_is_anchored_exactly():
    good = TRACE.format("3")
    assert authors_format_reward([good, " " + good, good + "x"]) == [1.0, 0.0, 0.0]
    assert authors_format_reward([good + "\nmore"]) == [1.0]  # their re.MULTILINE: `$` at any line end
    assert has_format(" " + good) and not has_format(good + "\nmore")  # ours: whitespace around, nothing else


def test_grader_disagreement_counts_each_kind():
    completions = [TRACE.format("3"), "$\\boxed{3}$", " " + TRACE.format("$\\boxed{4}$")]
    got = grader_disagreement(completions, ["3", "3", "4"], ["$\\boxed{3}$", "$\\boxed{3}$", "$\\boxed{4}$"])
    # accuracy: ours 1, 0 (no <answer> block: the last number is 3 -> correct), 1; theirs 0, 1, 1
    assert got["n"] == 3 and got["gold_unparseable"] == 0
    assert got["accuracy_ours"] == pytest.approx(1.0) and got["accuracy_authors"] == pytest.approx(2 / 3)
    assert got["accuracy_disagree"] == pytest.approx(1 / 3)
    assert (got["format_ours"], got["format_authors"]) == (pytest.approx(2 / 3), pytest.approx(1 / 3))
    table = grader_table({"m": {"math500": [{"completion": c} for c in completions]}},
                         [{"answer": a, "solution": s} for a, s in zip("334", ["$\\boxed{3}$"] * 2 + ["$\\boxed{4}$"])])
    assert table.loc[0, "model"] == "m" and table.loc[0, "accuracy_disagree"] == pytest.approx(1 / 3)
    assert grader_table(None, []).empty and "format_disagree" in grader_table(None, []).columns
