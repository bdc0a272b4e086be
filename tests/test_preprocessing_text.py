"""Tokenizer and text helpers against tf.keras 2 behaviour worked out by hand (and keras-preprocessing if installed)."""
import json
import math

import numpy as np
import pytest

from rnnkit.preprocessing.text import Tokenizer, hashing_trick, one_hot, text_to_word_sequence, tokenizer_from_json

TEXTS = ["The cat sat on the mat.", "The dog ate my homework!", "cat, cat & dog"]
# counts: the 3, cat 3, sat 1, on 1, mat 1, dog 2, ate 1, my 1, homework 1 -> by frequency, ties first-seen
EXPECTED_WORD_INDEX = {"the": 1, "cat": 2, "dog": 3, "sat": 4, "on": 5, "mat": 6, "ate": 7, "my": 8, "homework": 9}
HANGUL = ["나는 학교에 갑니다.", "학교에 친구가 있습니다!", "나는 친구가 좋아요"]


def fitted(texts=TEXTS, **options):
    tokenizer = Tokenizer(**options)
    tokenizer.fit_on_texts(texts)
    return tokenizer


def test_text_to_word_sequence_lowers_filters_and_splits():
    assert text_to_word_sequence("Hello, World!  Again") == ["hello", "world", "again"]
    assert text_to_word_sequence("A-b_c", filters="-", lower=False) == ["A", "b_c"]
    assert text_to_word_sequence("a;b;;c", split=";") == ["a", "b", "c"]


def test_text_to_word_sequence_rejects_non_strings():
    with pytest.raises(TypeError, match="text_to_word_sequence.*str.*list"):
        text_to_word_sequence(["a"])


def test_word_index_is_by_descending_frequency_with_first_seen_ties():
    tokenizer = fitted()
    assert tokenizer.word_index == EXPECTED_WORD_INDEX
    assert tokenizer.index_word == {i: w for w, i in EXPECTED_WORD_INDEX.items()}
    assert list(tokenizer.word_counts.items())[:3] == [("the", 3), ("cat", 3), ("sat", 1)]
    assert tokenizer.document_count == 3
    assert tokenizer.word_docs["the"] == 2 and tokenizer.word_docs["cat"] == 2 and tokenizer.word_docs["dog"] == 2
    assert tokenizer.index_docs[1] == 2 and tokenizer.index_docs[9] == 1


def test_fitting_twice_accumulates_counts():
    tokenizer = fitted(["b b a"])
    tokenizer.fit_on_texts(["a a c"])
    assert tokenizer.word_counts == {"b": 2, "a": 3, "c": 1}
    assert tokenizer.word_index == {"a": 1, "b": 2, "c": 3}
    assert tokenizer.document_count == 2


def test_texts_to_sequences_drops_unknown_words_without_oov():
    tokenizer = fitted()
    assert tokenizer.texts_to_sequences(["the unknown cat", ""]) == [[1, 2], []]
    assert list(tokenizer.texts_to_sequences_generator(["dog mat"])) == [[3, 6]]


def test_oov_token_takes_index_one():
    tokenizer = fitted(oov_token="<OOV>")
    assert tokenizer.word_index["<OOV>"] == 1 and tokenizer.word_index["the"] == 2
    assert tokenizer.texts_to_sequences(["the zebra cat"]) == [[2, 1, 3]]


def test_num_words_limits_outputs_but_not_word_index():
    tokenizer = fitted(num_words=3)
    assert len(tokenizer.word_index) == 9
    # only indices 1 and 2 (< num_words) survive
    assert tokenizer.texts_to_sequences(["the dog cat mat"]) == [[1, 2]]
    assert tokenizer.sequences_to_texts([[1, 3, 2, 9]]) == ["the cat"]


def test_num_words_with_oov_maps_rare_words_to_oov():
    tokenizer = fitted(num_words=4, oov_token="<OOV>")
    # oov 1, the 2, cat 3, dog 4 (>= num_words -> oov), zebra unknown -> oov
    assert tokenizer.texts_to_sequences(["the dog cat zebra"]) == [[2, 1, 3, 1]]
    assert tokenizer.sequences_to_texts([[2, 4, 3, 99]]) == ["the <OOV> cat <OOV>"]


def test_sequences_to_texts_round_trips_known_words():
    tokenizer = fitted()
    sequences = tokenizer.texts_to_sequences(TEXTS)
    assert tokenizer.sequences_to_texts(sequences) == [
        "the cat sat on the mat", "the dog ate my homework", "cat cat dog"]
    assert list(tokenizer.sequences_to_texts_generator([[3]])) == ["dog"]


def test_lists_of_tokens_are_used_as_given():
    tokenizer = fitted([["Hello", "World"], ["hello"]])
    assert tokenizer.word_index == {"hello": 1, "world": 2}


def test_analyzer_replaces_word_splitting():
    tokenizer = fitted(["a-b c"], analyzer=lambda text: text.split("-"))
    assert tokenizer.word_index == {"a": 1, "b c": 2}


def test_hangul_words_filters_and_split():
    tokenizer = fitted(HANGUL)
    # 나는 2, 학교에 2, 친구가 2 (first seen order), then 갑니다 있습니다 좋아요; '.' and '!' filtered
    assert tokenizer.word_index == {"나는": 1, "학교에": 2, "친구가": 3, "갑니다": 4, "있습니다": 5, "좋아요": 6}
    assert tokenizer.texts_to_sequences(["친구가 학교에 갑니다"]) == [[3, 2, 4]]
    assert text_to_word_sequence("가/나/다", filters="", split="/") == ["가", "나", "다"]


def test_char_level_hangul_keeps_spaces_and_filters_nothing():
    tokenizer = fitted(["한국 한글", "한글!"], char_level=True)
    # char_level ignores filters and split: 한 3, 글 2, 국 1, ' ' 1, '!' 1
    assert tokenizer.word_index == {"한": 1, "글": 2, "국": 3, " ": 4, "!": 5}
    assert tokenizer.texts_to_sequences(["글한"]) == [[2, 1]]
    assert tokenizer.sequences_to_texts([[1, 2]]) == ["한 글"]


def test_lower_applies_to_other_scripts():
    tokenizer = fitted(["ΣΟΦΙΑ Straße ПРИВЕТ"])
    assert list(tokenizer.word_index) == ["σοφια", "straße", "привет"]
    assert list(fitted(["ПРИВЕТ"], lower=False).word_index) == ["ПРИВЕТ"]


@pytest.mark.parametrize("mode, expected_row", [
    ("binary", [0, 1, 1, 0, 1]),
    ("count", [0, 2, 1, 0, 1]),
    ("freq", [0, 0.5, 0.25, 0, 0.25]),
])
def test_texts_to_matrix_modes(mode, expected_row):
    tokenizer = fitted(["a a b c", "a d"])  # a 1, b 2, c 3, d 4
    matrix = tokenizer.texts_to_matrix(["a b a d"], mode=mode)
    assert matrix.shape == (1, 5) and matrix.dtype == np.float64
    np.testing.assert_allclose(matrix[0], expected_row)


def test_tfidf_matches_the_tf_keras_formula():
    tokenizer = fitted(["a a b c", "a d", "b"])  # docs containing: a 2, b 2, c 1, d 1; 3 documents
    matrix = tokenizer.texts_to_matrix(["a a a d"], mode="tfidf")

    def tfidf(count, doc_freq):
        return (1 + math.log(count)) * math.log(1 + 3 / (1 + doc_freq))

    np.testing.assert_allclose(matrix[0], [0, tfidf(3, 2), 0, 0, tfidf(1, 1)])


def test_sequences_to_matrix_with_num_words_ignores_larger_indices():
    tokenizer = Tokenizer(num_words=3)
    np.testing.assert_array_equal(tokenizer.sequences_to_matrix([[1, 2, 5], []], mode="count"),
                                  [[0, 1, 1], [0, 0, 0]])


def test_fit_on_sequences_feeds_tfidf():
    tokenizer = Tokenizer(num_words=3)
    tokenizer.fit_on_sequences([[1, 1, 2], [2]])
    assert tokenizer.document_count == 2 and tokenizer.index_docs == {1: 1, 2: 2}
    expected = math.log(1 + 2 / (1 + 1))  # index 1: count 1, in 1 document
    np.testing.assert_allclose(tokenizer.sequences_to_matrix([[1]], mode="tfidf"), [[0, expected, 0]])


def test_matrix_errors_name_the_problem():
    with pytest.raises(ValueError, match="sequences_to_matrix.*num_words"):
        Tokenizer().sequences_to_matrix([[1]])
    with pytest.raises(ValueError, match="sequences_to_matrix.*tfidf"):
        Tokenizer(num_words=3).sequences_to_matrix([[1]], mode="tfidf")
    with pytest.raises(ValueError, match="sequences_to_matrix.*mode.*'onehot'"):
        fitted().texts_to_matrix(["the"], mode="onehot")


def test_single_string_instead_of_list_is_rejected():
    with pytest.raises(TypeError, match="fit_on_texts.*single str"):
        Tokenizer().fit_on_texts("the cat")
    with pytest.raises(TypeError, match="texts_to_sequences.*single str"):
        fitted().texts_to_sequences("the cat")


def test_unknown_constructor_argument_is_rejected():
    with pytest.raises(TypeError, match="Tokenizer.*num_word"):
        Tokenizer(num_word=3)


def test_json_round_trip_keeps_vocabulary_and_settings():
    original = fitted(HANGUL + TEXTS, num_words=5, oov_token="<OOV>", lower=False)
    restored = tokenizer_from_json(original.to_json(ensure_ascii=False))
    assert restored.word_index == original.word_index
    assert restored.index_word == original.index_word
    assert dict(restored.index_docs) == dict(original.index_docs)
    assert list(restored.word_counts.items()) == list(original.word_counts.items())
    settings = (restored.num_words, restored.oov_token, restored.lower, restored.document_count)
    assert settings == (5, "<OOV>", False, 6)
    probe = ["The cat 학교에 zebra"]
    assert restored.texts_to_sequences(probe) == original.texts_to_sequences(probe)
    np.testing.assert_array_equal(restored.texts_to_matrix(probe, "tfidf"), original.texts_to_matrix(probe, "tfidf"))


def test_to_json_has_tf_keras_layout():
    payload = json.loads(fitted().to_json())
    assert payload["class_name"] == "Tokenizer"
    assert json.loads(payload["config"]["word_index"]) == EXPECTED_WORD_INDEX
    assert set(payload["config"]) == {"num_words", "filters", "lower", "split", "char_level", "oov_token",
                                      "document_count", "word_counts", "word_docs", "index_docs", "index_word",
                                      "word_index"}


def test_tokenizer_from_json_errors():
    with pytest.raises(TypeError, match="tokenizer_from_json.*JSON str.*dict"):
        tokenizer_from_json({})
    with pytest.raises(ValueError, match="tokenizer_from_json.*'config'"):
        tokenizer_from_json("[1, 2]")


def test_hashing_trick_md5_is_stable_and_in_range():
    expected = [int(__import__("hashlib").md5(w.encode()).hexdigest(), 16) % 9 + 1 for w in ["hello", "world"]]
    assert hashing_trick("Hello, world", 10, hash_function="md5") == expected
    indices = hashing_trick("a b c d e f g h", 4)
    assert all(1 <= i < 4 for i in indices)


def test_one_hot_uses_python_hash_like_tf_keras():
    assert one_hot("Cat dog cat", 7) == [hash(w) % 6 + 1 for w in ["cat", "dog", "cat"]]


def test_hashing_trick_errors():
    with pytest.raises(ValueError, match="hashing_trick.*n.*>= 2.*1"):
        hashing_trick("a", 1)
    with pytest.raises(ValueError, match="hashing_trick.*hash_function.*'sha1'"):
        hashing_trick("a", 5, hash_function="sha1")


@pytest.mark.oracle
def test_matches_keras_preprocessing_tokenizer():
    keras_text = pytest.importorskip(
        "keras_preprocessing.text", reason="keras-preprocessing (tf.keras 2 Tokenizer) not installed")
    texts = TEXTS + HANGUL + ["", "Unseen WORDS here"]
    for options in [{}, {"num_words": 4, "oov_token": "<OOV>"}, {"char_level": True}, {"num_words": 3},
                    {"lower": False, "oov_token": "x"}]:
        ours, theirs = Tokenizer(**options), keras_text.Tokenizer(**options)
        ours.fit_on_texts(texts[:6])
        theirs.fit_on_texts(texts[:6])
        assert ours.word_index == theirs.word_index
        assert list(ours.word_counts.items()) == list(theirs.word_counts.items())
        assert dict(ours.index_docs) == dict(theirs.index_docs)
        assert ours.texts_to_sequences(texts) == theirs.texts_to_sequences(texts)
        sequences = theirs.texts_to_sequences(texts)
        assert ours.sequences_to_texts(sequences) == theirs.sequences_to_texts(sequences)
        for mode in ("binary", "count", "tfidf", "freq"):
            np.testing.assert_allclose(ours.texts_to_matrix(texts, mode), theirs.texts_to_matrix(texts, mode))
        from_ours = keras_text.tokenizer_from_json(ours.to_json())
        assert from_ours.texts_to_sequences(texts) == theirs.texts_to_sequences(texts)
