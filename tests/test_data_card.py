"""Cleaning rules, artefact detectors and the data card: known answers on small fixtures written to show each
artefact, a clean fixture that stays as it is, coverage against a tiny embedding file, and same input, same bytes."""

import json
import logging

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from helpers import write_tar
from rnn_dynamics.data import datasets, embeddings
from rnn_dynamics.data.datasets import cleaning
from rnn_dynamics.data.text import Vocabulary, tokenize
from rnn_dynamics.outputs import catalogue, results_page, tables
from rnn_dynamics.outputs.figures.data import length_histogram

# Each text shows artefacts of the kinds named after it, the way Zhang et al.'s CSV files hold them.
ARTEFACTS = [
    ("a second\\team of rocketeers", {"backslashes"}),
    ("line one.\\nline two\\n\\nthe end", {"backslashes"}),
    ("it #39;s #36;10 million #151; for sure", {"entities"}),
    ("Google &lt;b&gt;shares&lt;/b&gt; rise", {"entities", "markup"}),
    ('see <a href="http://www.example.com/x?y=1">the story</a> here', {"markup", "urls"}),
    ("a quot;quoted quot; word &amp; more", {"entities"}),
    ("visit www.example.org today", {"urls"}),
    ("rated ***** ====== yes", {"non_letters"}),
]
# Texts with none of them: what the detectors must not take for one, and what the cleaning must leave as it is.
CLEAN = [
    "A plain review, with 3 numbers & a #1 hit; if a < b and c > d it's fine.",
    "Great film!!! Really... (truly) -- 10/10 :) AT&T R&D",
    "Breaks the tokenizer removes.<br /><br />Then more <BR> and <br/>",
    "Ünïcödé wörds, $5.99 and 50% off",
]


def counts(texts):
    return {
        name: entry["texts"] for name, entry in datasets.artefacts([str(i) for i in range(len(texts))], texts).items()
    }


def test_each_detector_counts_the_fixture_artefacts_exactly():
    texts = [text for text, _ in ARTEFACTS]
    expected = {name: sum(name in kinds for _, kinds in ARTEFACTS) for name in cleaning.DETECTORS}
    assert counts(texts) == expected
    found = datasets.artefacts([f"row{i}" for i in range(len(texts))], texts)
    for name, entry in found.items():
        assert [example["id"] for example in entry["examples"]] == [
            f"row{i}" for i, (_, kinds) in enumerate(ARTEFACTS) if name in kinds
        ][: datasets.EXAMPLES]
        assert entry["rule"] == cleaning.DETECTORS[name].rule
    assert found["entities"]["examples"][0]["match"] == "#39;s"
    assert found["backslashes"]["examples"][0]["match"] == "second\\team"


def test_a_clean_fixture_counts_zero_and_stays_byte_identical():
    assert counts(CLEAN) == dict.fromkeys(cleaning.DETECTORS, 0)
    for text in CLEAN[:2] + CLEAN[3:]:  # the third holds the line breaks the markup rule removes too
        cleaned = datasets.clean(text, list(cleaning.RULES))
        assert cleaned.encode() == text.encode()
    assert datasets.clean_texts(CLEAN, []) == CLEAN


@pytest.mark.parametrize(
    ("rule", "text", "cleaned"),
    [
        ("escapes", "a second\\team", "a second team"),
        ("escapes", "one.\\ntwo", "one. two"),
        ("entities", "it #39;s #36;10 million #151;", "it 's $10 million \u2014"),
        ("entities", "&quot;x&quot; quot;y &amp; &#39;z", '"x" "y & \'z'),
        ("entities", "rank #1; then #10 more", "rank #1; then #10 more"),
        ("markup", '&lt;b&gt;bold&lt;/b&gt; <a href="http://x.org">link</a>', " bold   link "),
        ("markup", "if a < b and c > d", "if a < b and c > d"),
    ],
)
def test_each_rule_turns_its_artefact_into_what_it_meant(rule, text, cleaned):
    assert cleaning.RULES[rule](text) == cleaned


def test_rules_apply_in_their_order_and_an_unknown_rule_is_named():
    # Entities before markup, whichever order a dataset lists them in: "&lt;b&gt;" goes.
    assert datasets.clean("&lt;b&gt;IPO&lt;/b&gt;", ["markup", "entities"]).split() == ["IPO"]
    with pytest.raises(ValueError, match=r"unknown cleaning rule \['html'\].*escapes"):
        datasets.clean("x", ["html"])


def test_the_config_schema_offers_the_cleaning_rules():
    from rnn_dynamics.ground import config

    clean = config.schema()["$defs"]["table"]["properties"]["clean"]
    assert clean["items"]["enum"] == list(cleaning.RULES) and clean["default"] == []


def write_ag_news(path, texts_by_split):
    """An archive in the layout of Zhang et al.'s ag_news_csv.tgz, each text in both fields' places."""
    members = {}
    for split, texts in texts_by_split.items():
        rows = [f'"{1 + i % 4}","Title {i}","{text.replace(chr(34), chr(34) * 2)}"\n' for i, text in enumerate(texts)]
        members[datasets.AG_NEWS_MEMBERS[split]] = "".join(rows)
    return write_tar(path, members)


def test_zhang_readers_clean_their_artefacts_and_keep_clean_text(tmp_path):
    texts = [text for text, _ in ARTEFACTS]
    archive = write_ag_news(tmp_path / "ag_news_csv.tgz", {"train": texts, "test": CLEAN[:2]})
    table = datasets.read_reviews({"kind": "ag_news"}, [archive], seed=0)
    read = dict(zip(table.column("id").to_pylist(), table.column("text").to_pylist()))
    assert read["train:0"] == "Title 0 a second team of rocketeers"
    assert read["train:2"] == "Title 2 it 's $10 million \u2014 for sure"
    assert read["train:3"].split() == ["Title", "3", "Google", "shares", "rise"]
    assert read["test:0"] == f"Title 0 {CLEAN[0]}" and read["test:1"] == f"Title 1 {CLEAN[1]}"
    found = counts(table.column("text").to_pylist())
    assert {name: n for name, n in found.items() if cleaning.DETECTORS[name].rule} == {
        "backslashes": 0,
        "entities": 0,
        "markup": 0,
    }
    assert found["non_letters"] == 1  # no rule removes "*****"
    assert datasets.cleaning_of(table) == {"rules": list(cleaning.RULES), "key": None}


def test_a_table_file_stays_as_it_is_unless_its_clean_key_names_rules(tmp_path):
    path = tmp_path / "mine.csv"
    pd.DataFrame({"text": ["it #39;s good", "a\\nbad one", "fine", "dull"], "label": [1, 0, 1, 0]}).to_csv(
        path, index=False
    )
    spec = {"kind": "table", "path": str(path), "text_column": "text", "label_column": "label"}
    as_is = datasets.read_reviews(spec, [path], seed=0)
    assert sorted(as_is.column("text").to_pylist()) == sorted(["it #39;s good", "a\\nbad one", "fine", "dull"])
    assert datasets.cleaning_of(as_is) == {"rules": [], "key": "clean"}
    cleaned = datasets.read_reviews({**spec, "clean": ["entities", "escapes"]}, [path], seed=0)
    assert sorted(cleaned.column("text").to_pylist()) == sorted(["it 's good", "a bad one", "fine", "dull"])
    assert datasets.cleaning_of(cleaned) == {"rules": ["escapes", "entities"], "key": "clean"}


def card_fixture():
    rows = [(f"train/{i}", "train", i % 2, text) for i, (text, _) in enumerate(ARTEFACTS)]
    rows += [(f"train/c{i}", "train", i % 2, text) for i, text in enumerate(CLEAN)]
    rows += [(f"test/{i}", "test", i % 2, text) for i, text in enumerate(CLEAN + ["good bad zzyzx qqq"])]
    ids, splits, labels, texts = zip(*rows)
    table = pa.table(
        [list(ids), list(splits), pa.array(labels, pa.int8()), list(texts)], schema=datasets.REVIEWS_SCHEMA
    )
    cleaning_key = {datasets.CLEANING_KEY: json.dumps({"rules": [], "key": "clean"}).encode()}
    return table.replace_schema_metadata(cleaning_key)


def prepare_card(tmp_path, reviews, **settings):
    outputs = {name: tmp_path / f"{name}.parquet" for name in ("train", "valid", "test", "vocab")}
    outputs["card"] = tmp_path / "card.json"
    datasets.prepare(reviews, outputs, datasets.PrepareSettings(valid_fraction=0.25, **settings))
    return json.loads(outputs["card"].read_text()), outputs


def test_the_card_holds_splits_vocabulary_and_artefacts_and_warns_naming_the_clean_key(tmp_path, caplog):
    reviews = card_fixture()
    with caplog.at_level(logging.WARNING):
        card, outputs = prepare_card(tmp_path, reviews, max_vocab=20)
    lengths = {
        name: pa.parquet.read_table(outputs[name]).column("length").to_numpy() for name in ("train", "valid", "test")
    }
    vocab = Vocabulary.from_table(pa.parquet.read_table(outputs["vocab"]))
    assert set(card) == {"splits", "vocabulary", "artefacts", "cleaning"}
    for name, split in card["splits"].items():
        table = pa.parquet.read_table(outputs[name])
        assert split["rows"] == table.num_rows
        assert split["labels"] == {
            "0": int((table["label"].to_numpy() == 0).sum()),
            "1": int(table["label"].to_numpy().sum()),
        }
        assert split["length_median"] == float(np.median(lengths[name]))
        assert split["length_p95"] == pytest.approx(np.percentile(lengths[name], 95))
        assert split["length_max"] == int(lengths[name].max())
        tokens = np.concatenate(table["tokens"].to_numpy(zero_copy_only=False))
        assert split["unknown_share"] == pytest.approx((tokens == 1).mean(), abs=1e-6)
    assert card["splits"]["test"]["unknown_share"] > 0  # "zzyzx" and "qqq" are in no training review
    assert card["vocabulary"]["size"] == len(vocab) == 22
    assert card["vocabulary"]["training_tokens"] == sum(vocab.counts)
    expected = {name: sum(name in kinds for _, kinds in ARTEFACTS) for name in cleaning.DETECTORS}
    assert {name: entry["texts"] for name, entry in card["artefacts"].items()} == expected
    (warning,) = [r.getMessage() for r in caplog.records if "artefacts" in r.getMessage()]
    assert str(outputs["card"]) in warning and "`clean: [entities, escapes, markup]`" in warning
    assert "no rule removes urls, non_letters" in warning


def test_a_clean_dataset_has_no_artefacts_and_no_warning(tmp_path, caplog):
    rows = [(f"train/{i}", "train", i % 2, text) for i, text in enumerate(CLEAN * 2)]
    rows += [(f"test/{i}", "test", i % 2, text) for i, text in enumerate(CLEAN)]
    ids, splits, labels, texts = zip(*rows)
    reviews = pa.table(
        [list(ids), list(splits), pa.array(labels, pa.int8()), list(texts)], schema=datasets.REVIEWS_SCHEMA
    )
    with caplog.at_level(logging.WARNING):
        card, _ = prepare_card(tmp_path, reviews)
    assert all(entry["texts"] == 0 and entry["examples"] == [] for entry in card["artefacts"].values())
    assert not [r for r in caplog.records if "artefacts" in r.getMessage()]


def test_the_card_is_deterministic(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir(), second.mkdir()
    _, outputs_a = prepare_card(first, card_fixture())
    _, outputs_b = prepare_card(second, card_fixture())
    assert outputs_a["card"].read_bytes() == outputs_b["card"].read_bytes()


def test_coverage_against_a_tiny_embedding_file(tmp_path):
    vocab = Vocabulary.build([tokenize("the the the good film zzyzx")]).to_table()  # <pad> <unk> the film good zzyzx
    glove = tmp_path / "tiny.txt"
    glove.write_text("the 0.1 0.2\ngood 0.3 0.4\nunrelated 0.5 0.6\n")
    matrix, covered = embeddings.build_with_coverage(vocab, "glove", 2, seed=0, glove_path=glove)
    assert matrix.shape == (6, 2)
    assert covered == {
        "source": "glove",
        "dim": 2,
        "size": 6,
        "entries": 2,
        "entries_share": round(2 / 6, 6),
        "tokens_share": round(4 / 6, 6),  # "the" three times and "good" once, of six training tokens
    }
    assert embeddings.coverage(vocab, {}, "random", 2)["entries_share"] is None


def test_the_data_table_page_section_and_figure_show_the_card(tmp_path):
    card, outputs = prepare_card(tmp_path, card_fixture())
    coverage = {"source": "glove", "dim": 50, "size": 22, "entries": 11, "entries_share": 0.5, "tokens_share": 0.75}
    random = {"source": "random", "dim": 8, "size": 22, "entries": 0, "entries_share": None, "tokens_share": None}
    table = tables.data_table(card, [coverage, random])
    assert list(table.columns) == catalogue.TABLES["data"].names
    value = table.set_index(["section", "name", "measure"])["value"]
    assert value["splits", "test", "rows"] == card["splits"]["test"]["rows"]
    assert value["embedding", "glove-50", "tokens_share"] == 0.75
    assert "random-8" not in set(table["name"])
    assert value["artefacts", "entities", "texts"] == card["artefacts"]["entities"]["texts"]
    assert value["artefacts", "entities", "examples"].startswith("train/2: #39;s | train/3: &lt;b&gt;shares&lt;/b&gt;")
    table.to_csv(tmp_path / "data.csv", index=False)
    shown = catalogue.read("data", tmp_path / "data.csv")
    section = "\n".join(results_page._data_section(shown, "figures/data/lengths.png"))
    assert "| split |" in section and "glove-50: entries 11" in section
    assert "| entities | 3 | entities | train/2: #39;s \\| train/3:" in section
    assert "![review length in tokens, per split](figures/data/lengths.png)" in section
    lengths = {
        name: pa.parquet.read_table(outputs[name]).column("length").to_numpy() for name in ("train", "valid", "test")
    }
    length_histogram(lengths, tmp_path / "lengths.png")
    assert (tmp_path / "lengths.png").stat().st_size > 0 and (tmp_path / "lengths.pdf").exists()
