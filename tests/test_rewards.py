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
