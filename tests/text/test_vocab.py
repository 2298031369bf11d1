"""Vocab: char and word levels, ids, dtypes, unknown tokens, JSON form."""

import json
import random

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from charlm.errors import DataError
from charlm.text.vocab import EOS, UNK, Vocab, token_dtype

MIXED = "Привет, мир!\n三國志演義 第一回\n👍🏽 and 👨‍👩‍👧 e\u0301\n"


# --------------------------------------------------------------------------- char level
def test_char_round_trip_is_exact_with_one_token_per_code_point():
    vocab = Vocab.build_char(MIXED)
    ids = vocab.encode(MIXED)
    assert ids.size == len(MIXED)  # Python's len counts code points
    assert [vocab.tokens[i] for i in ids] == list(MIXED)
    assert vocab.decode(ids) == MIXED
    assert len(vocab.encode("👍🏽")) == 2  # thumbs up + skin tone modifier
    assert vocab.id_of("\n") == ids[MIXED.index("\n")]
    assert vocab.unk_id is None and vocab.eos_id is None


@given(st.text(min_size=1))
def test_char_round_trip_any_text(text):
    vocab = Vocab.build_char(text)
    assert vocab.decode(vocab.encode(text)) == text
    assert len(vocab) == len(set(text))


def test_char_ids_follow_code_point_order_whatever_the_input_order():
    pieces = MIXED.split(" ")
    shuffled = pieces[:]
    random.Random(1).shuffle(shuffled)
    a, b = Vocab.build_char(pieces), Vocab.build_char(shuffled)
    assert a == b
    assert [ord(t) for t in a.tokens] == sorted(ord(c) for c in set(MIXED) - {" "})


@pytest.mark.parametrize(
    "n, dtype", [(1, np.uint8), (256, np.uint8), (257, np.uint16), (65536, np.uint16), (65537, np.uint32)]
)
def test_smallest_dtype_that_fits(n, dtype):
    assert token_dtype(n) == dtype
    vocab = Vocab.from_codepoints(range(0x10000, 0x10000 + n))  # astral code points: no surrogates
    last = chr(0x10000 + n - 1)
    ids = vocab.encode("\U00010000" + last)
    assert ids.dtype == dtype
    assert ids.tolist() == [0, n - 1]  # the largest id survives the narrow dtype
    assert vocab.decode(ids) == "\U00010000" + last


def test_unknown_characters_are_named_with_line_and_column():
    vocab = Vocab.build_char("abc\n")
    with pytest.raises(DataError) as info:
        vocab.encode("ab\nabé\n€a\né")
    message = str(info.value)
    assert "'é' (line 2, col 3)" in message
    assert "'€' (line 3, col 1)" in message
    assert "(3 in all)" in message  # é twice, € once
    assert message.index("'é'") < message.index("'€'")  # in order of appearance


def test_many_unknown_characters_are_summarised():
    vocab = Vocab.build_char("a")
    with pytest.raises(DataError, match=r"and 3 more") as info:
        vocab.encode("bcdefghi")  # 8 unknown, 5 listed
    assert "'b' (line 1, col 1)" in str(info.value)
    assert "'i'" not in str(info.value)


def test_char_level_has_no_unk():
    with pytest.raises(ValueError, match="no <unk>"):
        Vocab.build_char("ab").encode("abc", unknown="unk")


# --------------------------------------------------------------------------- word level
def test_word_vocab_specials_then_frequency_then_string_order():
    vocab = Vocab.build_word("b a c a\nc a b d\n")
    # a: 3; b, c: 2 (tie: string order); d: 1
    assert vocab.tokens == (UNK, EOS, "a", "b", "c", "d")
    ids = vocab.encode("b a\nd\n")
    assert ids.tolist() == [vocab.id_of("b"), vocab.id_of("a"), vocab.eos_id, vocab.id_of("d"), vocab.eos_id]


def test_word_ids_do_not_depend_on_input_order():
    lines = ["the cat sat on the mat", "a dog sat", "the end", "zebra yak xylophone"]
    a = Vocab.build_word(lines)
    b = Vocab.build_word(list(reversed(lines)))
    assert a == b and a.tokens == b.tokens


def test_min_freq_maps_rare_words_to_unk():
    text = "x x x y y z\n"
    vocab = Vocab.build_word(text, min_freq=2)
    assert "z" not in vocab and "y" in vocab
    encoded = vocab.encode_counting("x z z y\n", unknown="unk")
    assert encoded.tokens.tolist() == [vocab.id_of("x"), vocab.unk_id, vocab.unk_id, vocab.id_of("y"), vocab.eos_id]
    assert encoded.unknown == 2


def test_max_size_keeps_the_most_frequent_and_counts_the_specials():
    counts = {"a": 5, "b": 3, "c": 3, "d": 3, "e": 1}
    vocab = Vocab.from_word_counts(counts, max_size=4)
    assert len(vocab) == 4
    assert vocab.tokens[2:] == ("a", "b")  # b, c, d tie at 3: string order decides the cut


def test_a_corpus_own_unk_is_the_same_token():
    vocab = Vocab.build_word("the <unk> sat on <unk>\nthe mat\n")
    assert vocab.tokens.count(UNK) == 1
    encoded = vocab.encode_counting("<unk> the dog\n", unknown="unk")
    assert encoded.tokens[0] == vocab.unk_id == encoded.tokens[2]
    assert encoded.unknown == 1  # "dog" only: the literal <unk> is in the vocabulary


def test_unknown_words_error_names_them():
    vocab = Vocab.build_word("a b c\n")
    with pytest.raises(DataError) as info:
        vocab.encode("a b\nc zebra a yak\n")
    assert "'zebra' (line 2, word 2)" in str(info.value)
    assert "'yak' (line 2, word 4)" in str(info.value)


def test_word_decode_joins_with_spaces_and_eos_as_newline():
    vocab = Vocab.build_word("the cat sat\non the mat\n")
    text = "the cat sat\non the mat\n"
    ids = vocab.encode(text)
    assert ids.tolist().count(vocab.eos_id) == 2
    assert vocab.decode(ids) == text
    assert vocab.decode(vocab.encode("  the   cat\r\nsat ")) == "the cat\nsat"  # whitespace normalised


# --------------------------------------------------------------------------- JSON form and checks
@pytest.mark.parametrize("vocab", [Vocab.build_char(MIXED), Vocab.build_word("b a <unk>\nc a\n", min_freq=1)])
def test_json_round_trip(vocab):
    again = Vocab.from_dict(json.loads(json.dumps(vocab.to_dict())))
    assert again == vocab
    assert again.level == vocab.level and again.dtype == vocab.dtype
    sample = MIXED if vocab.level == "char" else "c a b\n"
    assert np.array_equal(again.encode(sample), vocab.encode(sample))


@pytest.mark.parametrize(
    "data, fragment",
    [
        ([], "expected an object"),
        ({"tokens": ["a"]}, "missing 'level'"),
        ({"level": "char"}, "missing 'tokens'"),
        ({"level": "byte", "tokens": ["a"]}, "level must be"),
        ({"level": "char", "tokens": "abc"}, "must be a list"),
        ({"level": "char", "tokens": []}, "no tokens"),
        ({"level": "char", "tokens": ["a", "bc"]}, "not one code point"),
        ({"level": "char", "tokens": ["a", 1]}, "is a int"),
        ({"level": "char", "tokens": ["a", "b", "a"]}, "'a' appears twice"),
        ({"level": "word", "tokens": ["<unk>", "<eos>", "a b"]}, "with whitespace"),
        ({"level": "word", "tokens": ["<eos>", "a"]}, "needs <unk>"),
    ],
)
def test_from_dict_rejects_malformed(data, fragment):
    with pytest.raises(DataError, match="vocabulary") as info:
        Vocab.from_dict(data)
    assert fragment in str(info.value)


def test_decode_rejects_ids_out_of_range():
    vocab = Vocab.build_char("ab")
    with pytest.raises(ValueError, match="token id 2 is out of range"):
        vocab.decode([0, 2])


def test_a_vocabulary_of_one_character_is_legal():
    vocab = Vocab.build_char("aaaa")
    assert len(vocab) == 1
    assert vocab.encode("aaa").tolist() == [0, 0, 0]


def test_a_classifier_vocabulary_is_the_same_class_with_unk_first_at_both_levels():
    from charlm.classify.tokens import encode_all, encode_text

    chars = Vocab.build_counted(["abba", "cab"], "char")
    assert chars.tokens == ("<unk>", "a", "b", "c") and chars.unk_id == 0 and chars.eos_id is None
    assert encode_text(chars, "abz").tolist() == [1, 2, 0]  # an unseen character is <unk>
    assert Vocab.from_dict(chars.to_dict()) == chars
    words = Vocab.build_counted(["the cat", "the dog"], "word")
    assert words.tokens[:2] == ("<unk>", "the")
    encoded, unknown, total = encode_all(words, ["the bird", "   "])
    assert [e.tolist() for e in encoded] == [[1, 0], [0]] and (unknown, total) == (2, 3)


def test_max_size_counts_every_token_specials_included_for_both_kinds():
    counts = {"a": 5, "b": 4, "c": 3}
    assert len(Vocab.from_word_counts(counts, max_size=3)) == 3  # <unk>, <eos>, a
    assert len(Vocab.build_counted(["a a a b b c"], "word", max_size=3)) == 3  # <unk>, a, b
    with pytest.raises(DataError, match="--max-vocab must be at least 2"):
        Vocab.build_counted(["a"], "word", max_size=1)


def test_a_language_model_refuses_a_character_vocabulary_with_unk(tmp_path):
    from charlm.errors import CheckpointError
    from charlm.lm.config import ModelConfig
    from charlm.lm.models.recurrent import RecurrentLanguageModel
    from charlm.lm.models.saved import load_model, save_model

    vocab = Vocab.build_counted(["ab"], "char")
    save_model(tmp_path / "m.npz", RecurrentLanguageModel(ModelConfig(vocab_size=len(vocab), hidden_size=4, layers=1)), vocab)
    with pytest.raises(CheckpointError, match="no <unk>"):
        load_model(tmp_path / "m.npz")
