import time

import jieba

from classifier.tokenize import HotlineTokenizer, normalize, read_word_list, STOPWORDS_FILE, HOTLINE_WORDS_FILE


def test_user_words_stay_whole_without_touching_jiebas_default_tokenizer():
    word = "翠湖苑七期东门"
    tok = HotlineTokenizer(user_words=[word, "青川燃气集团"])
    assert word in tok.tokens(f"{word}的路灯坏了")
    assert "青川燃气集团" in tok.tokens("青川燃气集团上门太慢")
    # jieba's global tokenizer is not changed
    assert word not in jieba.dt.FREQ
    assert word not in jieba.lcut(f"{word}的路灯坏了")


def test_stop_words_punctuation_and_digits_are_dropped():
    toks = HotlineTokenizer().tokens("我们小区的路灯，已经坏了3天了！！请问怎么办？")
    assert "的" not in toks and "我们" not in toks and "请问" not in toks
    assert not any(t in "，！？3" for t in toks)
    assert "路灯" in toks and "小区" in toks


def test_raw_and_pre_segmented_forms_come_out_alike():
    # the teddy CSV stores most rows word-split, stop words removed, spaces taken out
    tok = HotlineTokenizer()
    raw = tok.tokens("我们小区的自来水已经停了三天了，请有关部门尽快处理。")
    seg = tok.tokens("小区自来水停三天部门尽快处理")
    assert "".join(raw).startswith("小区自来水")
    assert len(set(raw) & set(seg)) >= 4


def test_odd_inputs_never_raise_and_long_text_is_capped():
    tok = HotlineTokenizer()
    for text in (None, "", "   ", "！？。，", "😀😀🎉", "\x00\x01\x02\x1b[31m", 12345, "hello world", "\u200b\ufeff"):
        assert isinstance(tok.tokens(text), list)
    assert tok.tokens("😀😀🎉") == [] and tok.tokens("\x00\x01") == []
    assert tok.tokens("Water LEAK") == ["water", "leak"]
    t0 = time.perf_counter()
    toks = tok.tokens("路灯坏了" * 25_000)  # 100,000 characters
    assert time.perf_counter() - t0 < 1.0
    assert len("".join(toks)) <= tok.max_chars


def test_normalize_folds_full_width_and_strips_controls():
    assert normalize("ＡＢＣ１２３\x07路灯") == "abc123 路灯"


def test_shipped_word_lists_are_readable():
    assert len(read_word_list(STOPWORDS_FILE)) > 150
    assert "路灯" in read_word_list(HOTLINE_WORDS_FILE)


def test_tokenizer_pickles_without_jiebas_dictionary():
    import pickle

    tok = HotlineTokenizer(user_words=["翠湖苑"])
    tok.tokens("翠湖苑停水")
    data = pickle.dumps(tok)
    assert len(data) < 50_000
    assert "翠湖苑" in pickle.loads(data).tokens("翠湖苑停水")
