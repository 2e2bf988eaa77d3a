"""Small data files in the real formats, written by the tests, plus the ground truth they encode."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest

N_POSTS = 80
NO_TEXT = {1, 2, 3, 4}  # 1-3: absent from the tweets file; 4: present with an empty text
DUPLICATE = 0  # labelled again in the second event, with an extra type and a higher priority
PRIORITIES = ["Low", "Medium", "High", "Critical", "high"]


def post_id(i: int) -> str:
    return str(1_200_000_000_000_000_000 + i)


@dataclass
class TrecisFiles:
    labels: Path
    tweets: Path
    truth: dict[str, set[str]] = field(default_factory=dict)  # postID -> canonical types
    priority: dict[str, str] = field(default_factory=dict)
    event: dict[str, str] = field(default_factory=dict)
    unknown: dict[str, int] = field(default_factory=dict)
    n_posts: int = N_POSTS
    joined: list[str] = field(default_factory=list)  # postIDs with hydrated text, in label-file order
    no_text: list[str] = field(default_factory=list)


def _categories(i: int) -> tuple[list[str], set[str]]:
    """Names as written in the file (mixed prefix/case) and the canonical types they mean."""
    written, canon = [], set()
    if i % 2 == 0:
        written.append("Report-Weather" if i < 40 else "Weather")
        canon.add("Report-Weather")
    else:
        written.append("other-irrelevant")
        canon.add("Other-Irrelevant")
    if i % 5 == 0:
        written.append("SearchAndRescue")
        canon.add("Request-SearchAndRescue")
    if i % 7 == 3:
        written.append("CallToAction-Donations")
        canon.add("CallToAction-Donations")
    if i % 11 == 0:
        written.append("Other-KnownAlready")  # 2019 name: not in the 2020 ontology
    return written, canon


def write_trecis(folder: Path) -> TrecisFiles:
    folder.mkdir(parents=True, exist_ok=True)
    events = [{"eventid": "floods2020", "type": "flood", "tweets": []},
              {"eventid": "quake2020", "type": "earthquake", "tweets": []}]
    files = TrecisFiles(folder / "labels.json", folder / "tweets.jsonl")
    for i in range(N_POSTS):
        pid = post_id(i)
        written, canon = _categories(i)
        ev = events[0] if i < N_POSTS // 2 else events[1]
        prio = PRIORITIES[i % len(PRIORITIES)]
        ev["tweets"].append({"postID": pid, "postCategories": written, "postPriority": prio,
                             "indicatorTerms": ["water"]})
        files.truth[pid] = set(canon)
        files.priority[pid] = prio.capitalize()
        files.event[pid] = ev["eventid"]
        for w in written:
            if w == "Other-KnownAlready":
                files.unknown[w] = files.unknown.get(w, 0) + 1
    files.joined = [post_id(i) for i in range(N_POSTS) if i not in NO_TEXT]
    files.no_text = [post_id(i) for i in sorted(NO_TEXT)]
    dup = post_id(DUPLICATE)
    events[1]["tweets"].append({"postID": dup, "postCategories": ["Location"], "postPriority": "Critical"})
    files.truth[dup].add("Report-Location")
    files.priority[dup] = "Critical"
    files.labels.write_text(json.dumps({"metadata": {"year": 2020}, "annotator": {"id": "t"}, "events": events},
                                       indent=1), encoding="utf-8")

    lines = []
    for i in range(N_POSTS):
        pid = post_id(i)
        if i in (1, 2, 3):
            continue
        if i == 4:
            lines.append({"id": int(pid), "text": ""})
        elif i % 3 == 0:  # full_text wins over a truncated text
            lines.append({"id_str": pid, "text": f"tweet {pid} trunc…", "full_text": f"tweet {pid} full text"})
        elif i % 3 == 1:
            lines.append({"postID": pid, "text": f"tweet {pid} full text"})
        else:
            lines.append({"id": int(pid), "text": f"tweet {pid} full text"})
    lines.insert(5, {"id": 999, "text": "an unlabelled tweet"})
    body = "\n".join(json.dumps(x) for x in lines[:10]) + "\n\n" + "\n".join(json.dumps(x) for x in lines[10:]) + "\n"
    files.tweets.write_text(body, encoding="utf-8")
    return files


@pytest.fixture
def trecis_files(tmp_path) -> TrecisFiles:
    return write_trecis(tmp_path / "trecis")


SPLIT_NAMES = ["train", "Train ", "train", "TRAIN", "train", "train", "train", "train", "val", "test"]
SPLIT_CANON = {"val": "validation", "dev": "validation"}


def table_frame(n: int = 90) -> pd.DataFrame:
    """Texts with labels a (frequent), b (rarer, co-occurs with a), a non-binary score, a free-text note."""
    rows = []
    for i in range(n):
        a = int(i % 3 == 0)
        b = int(i % 6 == 0 or i % 9 == 4)
        rows.append({"id": f"r{i}", "text": f"message number {i}", "a": a, "b": b,
                     "score": round(0.1 * (i % 10), 1), "note": "x" if i % 2 else "y",
                     "split": SPLIT_NAMES[i % 10]})
    return pd.DataFrame(rows)


@pytest.fixture
def table_df() -> pd.DataFrame:
    return table_frame()


CLASSES = {"Debt collection": 80, "Mortgage": 60, "Credit card or prepaid card": 40, "Student loan": 20}


def multiclass_frame() -> pd.DataFrame:
    """200 complaints, one ``Product`` each (4 classes, 80/60/40/20), a split column (8:1:1 within each class)."""
    rows = []
    for product, n in CLASSES.items():
        for k in range(n):
            split = "test" if k % 10 == 9 else "val" if k % 10 == 8 else "train"
            rows.append({"text": f"complaint {len(rows)} about {product.lower()}", "Product": product,
                         "split": split})
    return pd.DataFrame(rows).sample(frac=1.0, random_state=0).reset_index(drop=True)
