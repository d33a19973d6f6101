from manim_qwen_mlx.core.text import frame_cap, normalize, slug, split_sentences


def test_normalize_removes_bookmarks_and_folds_whitespace() -> None:
    text = "This is a <bookmark mark='A'/>triangle\n\n and   a <bookmark mark=\"B\"/>square. "
    assert normalize(text) == "This is a triangle and a square."


def test_only_bookmarks_normalize_to_nothing() -> None:
    assert normalize("<bookmark mark='A'/> \n <bookmark mark='B'/>") == ""


def test_split_sentences_keeps_quotes_and_abbreviations() -> None:
    text = 'A circle. Watch it grow! "Really?" Yes. E.g. 3.5 is fine, see Fig. 2. Done.'
    assert split_sentences(text) == [
        "A circle.",
        "Watch it grow!",
        '"Really?"',
        "Yes.",
        "E.g. 3.5 is fine, see Fig. 2.",
        "Done.",
    ]


def test_split_cjk_without_spaces() -> None:
    assert split_sentences("你好。世界！再见") == ["你好。", "世界！", "再见"]


def test_long_sentences_are_cut_at_clauses_then_words() -> None:
    long = ", ".join(["one two three four"] * 40) + "."
    pieces = split_sentences(long, max_chars=60)
    assert all(len(p) <= 60 for p in pieces)
    assert " ".join(pieces) == long
    words = split_sentences("word " * 200, max_chars=50)
    assert all(len(p) <= 50 for p in words) and " ".join(words) == ("word " * 200).strip()
    assert all(len(p) <= 10 for p in split_sentences("x" * 95, max_chars=10))


def test_frame_cap_grows_with_text_and_weighs_cjk_more() -> None:
    assert frame_cap("Hi.") < frame_cap("A much longer sentence than that one.")
    assert frame_cap("你好世界") > frame_cap("abcd")


def test_slug_is_filename_safe() -> None:
    for hostile in ["../../etc/passwd", "/abs/path", "a\0b", "x" * 500, "日本語", ""]:
        s = slug(hostile)
        assert s and len(s) <= 40 and all(c.isalnum() or c == "-" for c in s) and s.isascii()
