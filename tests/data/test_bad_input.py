"""Bad data gets one clear line naming the file and field, exit code 2, no traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from raytp.cli import main


def _table(tmp: Path, table_df, name="t.csv", **rename) -> Path:
    path = tmp / name
    table_df.rename(columns=rename).to_csv(path, index=False)
    return path


def _describe(*args) -> list[str]:
    return ["data", "describe", *map(str, args)]


def case_missing_file(tmp, df, tr):
    return _describe("--path", tmp / "nope.csv"), ["nope.csv: data file not found"]


def case_missing_tweets_file(tmp, df, tr):
    return _describe("--path", tr.labels, "--tweets", tmp / "gone.jsonl"), ["gone.jsonl: tweets file not found"]


def case_trecis_without_tweets(tmp, df, tr):
    return _describe("--dataset", "trecis", "--path", tr.labels), ["data.dataset.tweets"]


def case_missing_text_column(tmp, df, tr):
    return _describe("--path", _table(tmp, df, text="body")), ["t.csv: no text column 'text'", "columns: id, body"]


def case_non_binary_labels(tmp, df, tr):
    path = _table(tmp, df)
    return _describe("--path", path, "--label-columns", "a,score"), \
        ["t.csv: label column 'score' has non-binary value 0.1 (row 2)"]


def case_unknown_label_column(tmp, df, tr):
    return _describe("--path", _table(tmp, df), "--label-columns", "a,zzz"), ["t.csv: no label column 'zzz'"]


def case_no_label_columns(tmp, df, tr):
    return _describe("--path", _table(tmp, df[["text", "score"]])), ["t.csv: no 0/1 label columns"]


def case_unknown_task(tmp, df, tr):
    return _describe("--tasks", "food,fod"), ["disaster_response_messages.csv: unknown task 'fod'", "available: related"]


def case_excluded_task(tmp, df, tr):
    return _describe("--tasks", "child_alone"), ["unknown task 'child_alone' (excluded: no positives in train"]


def case_unknown_trecis_task(tmp, df, tr):
    return _describe("--path", tr.labels, "--tweets", tr.tweets, "--tasks", "Request-GoodsServices"), \
        ["labels.json: unknown task 'Request-GoodsServices'"]


def case_empty_csv(tmp, df, tr):
    (tmp / "e.csv").write_bytes(b"")
    return _describe("--path", tmp / "e.csv"), ["e.csv: data file is empty"]


def case_header_only_csv(tmp, df, tr):
    (tmp / "h.csv").write_text("text,a,b\n", encoding="utf-8")
    return _describe("--path", tmp / "h.csv"), ["h.csv: no rows"]


def case_blank_jsonl(tmp, df, tr):
    (tmp / "b.jsonl").write_text("\n  \n\n", encoding="utf-8")
    return _describe("--path", tmp / "b.jsonl"), ["b.jsonl: no records"]


def case_empty_trecis_labels(tmp, df, tr):
    tr.labels.write_text("", encoding="utf-8")
    return _describe("--path", tr.labels, "--tweets", tr.tweets), ["labels.json: TREC-IS labels file is empty"]


def case_bad_json(tmp, df, tr):
    tr.labels.write_text('{"events": [\n  {"eventid": "x",\n   "tweets": [}\n]}', encoding="utf-8")
    return _describe("--path", tr.labels, "--tweets", tr.tweets), ["labels.json: bad JSON at line 3"]


def case_bad_jsonl_line_in_table(tmp, df, tr):
    (tmp / "t.jsonl").write_text('{"text": "a", "y": 1}\n{"text": "b", "y": 0}\n{"text": "c", "y": 1,\n',
                                 encoding="utf-8")
    return _describe("--path", tmp / "t.jsonl"), ["t.jsonl: bad JSON on line 3"]


def case_jsonl_line_not_an_object(tmp, df, tr):
    (tmp / "t.jsonl").write_text('{"text": "a", "y": 1}\n[1, 2]\n', encoding="utf-8")
    return _describe("--path", tmp / "t.jsonl"), ["t.jsonl: line 2 is a JSON list, expected an object"]


def case_bad_jsonl_line_in_tweets(tmp, df, tr):
    lines = tr.tweets.read_text(encoding="utf-8").splitlines()
    lines[6] = lines[6][:-3]
    tr.tweets.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return _describe("--path", tr.labels, "--tweets", tr.tweets), ["tweets.jsonl: bad JSON on line 7"]


def case_tweet_without_id(tmp, df, tr):
    tr.tweets.write_text('{"id": 1, "text": "x"}\n{"text": "no id"}\n', encoding="utf-8")
    return _describe("--path", tr.labels, "--tweets", tr.tweets), ["tweets.jsonl: line 2 has no 'id' or 'postID'"]


def case_no_matching_tweets(tmp, df, tr):
    tr.tweets.write_text('{"id": 1, "text": "x"}\n', encoding="utf-8")
    return _describe("--path", tr.labels, "--tweets", tr.tweets), ["none of the 80 labelled tweets"]


def case_missing_post_id(tmp, df, tr):
    doc = json.loads(tr.labels.read_text(encoding="utf-8"))
    del doc["events"][1]["tweets"][2]["postID"]
    tr.labels.write_text(json.dumps(doc), encoding="utf-8")
    return _describe("--path", tr.labels, "--tweets", tr.tweets), ["labels.json: events[1].tweets[2] has no 'postID'"]


def case_categories_not_a_list(tmp, df, tr):
    doc = json.loads(tr.labels.read_text(encoding="utf-8"))
    doc["events"][0]["tweets"][0]["postCategories"] = "Report-Weather"
    tr.labels.write_text(json.dumps(doc), encoding="utf-8")
    return _describe("--path", tr.labels, "--tweets", tr.tweets), \
        ["labels.json: events[0].tweets[0] field 'postCategories' must be a list"]


def case_no_events(tmp, df, tr):
    tr.labels.write_text('[{"eventid": "x"}]', encoding="utf-8")
    return _describe("--path", tr.labels, "--tweets", tr.tweets), ["labels.json: expected a JSON object with an 'events'"]


def case_unsupported_extension(tmp, df, tr):
    (tmp / "t.xlsx").write_bytes(b"PK\x03\x04")
    return _describe("--path", tmp / "t.xlsx"), ["t.xlsx: unsupported file extension '.xlsx'"]


def case_bad_split_value(tmp, df, tr):
    df.loc[2, "split"] = "holdout"
    return _describe("--path", _table(tmp, df)), ["t.csv: column 'split' has value 'holdout' (row 3)"]


def case_csv_parse_error(tmp, df, tr):
    (tmp / "p.csv").write_text('text,a\n"x",1\n"y",0,7,8\n', encoding="utf-8")
    return _describe("--path", tmp / "p.csv"), ["p.csv: cannot parse as CSV", "line 3"]


def case_corrupt_parquet(tmp, df, tr):
    (tmp / "c.parquet").write_bytes(b"definitely not parquet")
    return _describe("--path", tmp / "c.parquet"), ["c.parquet: cannot read as PARQUET"]


def case_not_utf8(tmp, df, tr):
    (tmp / "l.csv").write_bytes("text,a\ncaf\xe9,1\n".encode("latin-1"))
    return _describe("--path", tmp / "l.csv"), ["l.csv: not UTF-8"]


def case_format_conflict(tmp, df, tr):
    return _describe("--dataset", "table", "--format", "trecis", "--path", tr.labels), ["--dataset table conflicts"]


def case_no_positives_in_a_split(tmp, df, tr):
    df["rare"] = 0
    df.loc[0, "rare"] = 1  # row 0 is in train: no positive in validation or test
    path = _table(tmp, df)
    cfg = tmp / "exp.yaml"
    cfg.write_text(yaml.safe_dump({"data": {"dataset": {"name": "table", "path": str(path),
                                                        "label_columns": ["a", "b", "rare"]},
                                            "tasks": ["a", "rare"]}}), encoding="utf-8")
    return ["data", "check", "--config", str(cfg)], \
        ["t.csv: task 'rare' has no positive examples in the validation split"]


def _multiclass(tmp, split=True, **counts):
    """The 200-row complaints table, with extra rows of new classes (name=count) in train."""
    from tests.data.conftest import multiclass_frame
    df = multiclass_frame()
    extra = [{"text": f"{cls} row {k}", "Product": cls, "split": "train"} for cls, n in counts.items() for k in range(n)]
    df = pd.concat([df, pd.DataFrame(extra)], ignore_index=True)
    return _table(tmp, df if split else df.drop(columns="split"), name="complaints.csv")


def case_multiclass_unknown_column(tmp, df, tr):
    return _describe("--path", _multiclass(tmp), "--format", "table", "--label-column", "Prodct"), \
        ["complaints.csv: no label column 'Prodct'", "columns: text, Product, split"]


def case_multiclass_rare_class(tmp, df, tr):
    return _describe("--path", _multiclass(tmp, Savings=9), "--label-column", "Product"), \
        ["complaints.csv: label column 'Product' class 'Savings' has 9 training examples; at least 10 needed"]


def case_multiclass_rare_class_after_the_split(tmp, df, tr):  # 11 rows; the stratified split keeps 9 for training
    return _describe("--path", _multiclass(tmp, split=False, Savings=11), "--label-column", "Product"), \
        ["complaints.csv: label column 'Product' class 'Savings' has 9 training examples"]


def case_multiclass_names_collide(tmp, df, tr):
    return _describe("--path", _multiclass(tmp, **{"Student, loan": 10}), "--label-column",
                     "Product"), ["complaints.csv: label column 'Product': classes 'Student loan' and 'Student, loan' "
                                  "both give task name 'Student_loan'"]


def case_multiclass_class_without_a_name(tmp, df, tr):
    return _describe("--path", _multiclass(tmp, **{"???": 10}), "--label-column", "Product"), \
        ["complaints.csv: label column 'Product' has class '???', which gives no valid task name"]


def case_multiclass_and_label_columns(tmp, df, tr):
    return _describe("--path", _multiclass(tmp), "--label-column", "Product", "--label-columns", "a"), \
        ["field 'data.dataset'", "give label_column (one multi-class column) or label_columns"]


def case_multiclass_check_rare_class(tmp, df, tr):
    cfg = tmp / "exp.yaml"
    cfg.write_text(yaml.safe_dump({"data": {"dataset": {"name": "table", "path": str(_multiclass(tmp, Savings=3)),
                                                        "label_column": "Product"},
                                            "tasks": ["Mortgage", "Savings"]}}), encoding="utf-8")
    return ["data", "check", "--config", str(cfg)], ["label column 'Product' class 'Savings' has 3 training examples"]


CASES = {name[5:]: fn for name, fn in list(globals().items()) if name.startswith("case_")}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_one_line_exit_2(name, tmp_path, table_df, trecis_files, capsys):
    argv, expected = CASES[name](tmp_path, table_df, trecis_files)
    code = main(argv)
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert code == 2, (name, captured.out[-300:], err)
    assert "Traceback" not in captured.err + captured.out
    assert err.startswith("raytp: error: ") and "\n" not in err, err
    for piece in expected:
        assert piece in err, (piece, err)


def test_real_process_exit_code_and_no_traceback(tmp_path):
    (tmp_path / "bad.jsonl").write_text('{"text": "ok", "y": 1}\n{oops}\n', encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "raytp.cli", "data", "describe", "--path", str(tmp_path / "bad.jsonl")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip() == f"raytp: error: {tmp_path / 'bad.jsonl'}: bad JSON on line 2, column 2: " \
                                  "Expecting property name enclosed in double quotes"
