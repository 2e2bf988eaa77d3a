"""Loader for TREC-IS: label JSON (events -> tweets) joined with hydrated tweets (JSONL).

Labels: ``{"events": [{"eventid": ..., "tweets": [{"postID": ..., "postCategories": [...],
"postPriority": "Low|Medium|High|Critical"}]}]}``. Category names may carry the high-level
prefix or not ("Request-SearchAndRescue" or "SearchAndRescue", any case); they are normalised
to the prefixed 25-type ontology (2020 onwards). Names outside it are counted in
provenance["unknown_categories"] and ignored. A postID labelled more than once (several events
or assessors) gets the union of its categories and its highest priority.

Tweets: one JSON object per line with an id (``postID``, ``id_str`` or ``id``) and a text
(``full_text``, ``extended_tweet.full_text`` or ``text``). Labelled tweets without hydrated
text are left out and counted in provenance["missing_text"].

One task per information type with at least one positive. TREC-IS ships no split: the seeded
stratified split of ``raytp.data.splitting`` (rarest positive type per tweet) is used, pooled
over events (a tweet's event can appear in several splits); ``eventid`` and ``priority`` are
kept per tweet in ``dataset.columns``.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from raytp.data.dataset import MultiTaskDataset
from raytp.data.files import existing_file, iter_jsonl, read_json
from raytp.data.splitting import stratified_split
from raytp.errors import DataError

INFORMATION_TYPES = [
    "CallToAction-Donations", "CallToAction-MovePeople", "CallToAction-Volunteer",
    "Other-Advice", "Other-ContextualInformation", "Other-Discussion", "Other-Irrelevant", "Other-Sentiment",
    "Report-CleanUp", "Report-EmergingThreats", "Report-Factoid", "Report-FirstPartyObservation",
    "Report-Hashtags", "Report-Location", "Report-MultimediaShare", "Report-News", "Report-NewSubEvent",
    "Report-Official", "Report-OriginalEvent", "Report-ServiceAvailable", "Report-ThirdPartyObservation",
    "Report-Weather",
    "Request-GoodsServices", "Request-InformationWanted", "Request-SearchAndRescue",
]
ACTIONABLE = ["Request-GoodsServices", "Request-SearchAndRescue", "CallToAction-MovePeople",
              "Report-EmergingThreats", "Report-NewSubEvent", "Report-ServiceAvailable"]
PRIORITIES = ["Low", "Medium", "High", "Critical"]
_BY_NAME = {t.lower(): t for t in INFORMATION_TYPES}
_BY_SUFFIX = {t.split("-", 1)[1].lower(): t for t in INFORMATION_TYPES}
_RANK = {p.lower(): i for i, p in enumerate(PRIORITIES)}


def normalise_category(name: str) -> str | None:
    """The prefixed ontology name of ``name`` ("searchandrescue" -> "Request-SearchAndRescue"), or None."""
    key = str(name).strip().replace(" ", "").replace("_", "").lower()
    if key in _BY_NAME:
        return _BY_NAME[key]
    if "-" not in key:
        return _BY_SUFFIX.get(key)
    return None


def _normalise_priority(value: Any) -> str:
    if value is None:
        return "Unknown"
    p = str(value).strip()
    return PRIORITIES[_RANK[p.lower()]] if p.lower() in _RANK else p


def _read_labels(path: Path) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """postID -> {"types", "priority", "eventid"} in file order, plus counts for provenance."""
    doc = read_json(path)
    if not isinstance(doc, dict) or not isinstance(doc.get("events"), list):
        raise DataError(f"{path}: expected a JSON object with an 'events' list at the top level")
    posts: dict[str, dict[str, Any]] = {}
    unknown: Counter[str] = Counter()
    duplicates = 0
    for i, event in enumerate(doc["events"]):
        where = f"events[{i}]"
        if not isinstance(event, dict):
            raise DataError(f"{path}: {where} is not an object")
        tweets = event.get("tweets")
        if not isinstance(tweets, list):
            raise DataError(f"{path}: {where} has no 'tweets' list")
        eventid = str(event.get("eventid", f"event{i}"))
        for j, tw in enumerate(tweets):
            at = f"{where}.tweets[{j}]"
            if not isinstance(tw, dict):
                raise DataError(f"{path}: {at} is not an object")
            if tw.get("postID") in (None, ""):
                raise DataError(f"{path}: {at} has no 'postID'")
            cats = tw.get("postCategories")
            if not isinstance(cats, list):
                raise DataError(f"{path}: {at} field 'postCategories' must be a list of category names")
            types = set()
            for c in cats:
                t = normalise_category(c)
                if t is None:
                    unknown[str(c)] += 1
                else:
                    types.add(t)
            pid = str(tw["postID"]).strip()
            priority = _normalise_priority(tw.get("postPriority"))
            if pid in posts:
                duplicates += 1
                old = posts[pid]
                old["types"] |= types
                if _RANK.get(priority.lower(), -1) > _RANK.get(old["priority"].lower(), -1):
                    old["priority"] = priority
            else:
                posts[pid] = {"types": types, "priority": priority, "eventid": eventid}
    if not posts:
        raise DataError(f"{path}: no labelled tweets in 'events'")
    return posts, {"unknown_categories": dict(unknown.most_common()), "duplicate_labels": duplicates}


def _tweet_id(obj: dict[str, Any]) -> str | None:
    for key in ("postID", "id_str", "id"):
        v = obj.get(key)
        if v not in (None, ""):
            return str(v).strip()
    return None


def _tweet_text(obj: dict[str, Any]) -> str:
    ext = obj.get("extended_tweet")
    for v in (obj.get("full_text"), ext.get("full_text") if isinstance(ext, dict) else None, obj.get("text")):
        if isinstance(v, str) and v.strip():
            return v
    return ""


def _read_tweets(path: Path) -> dict[str, str]:
    texts: dict[str, str] = {}
    for lineno, obj in iter_jsonl(path):
        tid = _tweet_id(obj)
        if tid is None:
            raise DataError(f"{path}: line {lineno} has no 'id' or 'postID'")
        text = _tweet_text(obj)
        if text and tid not in texts:
            texts[tid] = text
    return texts


def load_trecis(labels_path: str | Path, tweets_path: str | Path, val_fraction: float = 0.1,
                test_fraction: float = 0.1, seed: int = 13) -> MultiTaskDataset:
    """Join TREC-IS labels with hydrated tweets; one binary task per information type present."""
    labels_path = existing_file(labels_path, "TREC-IS labels file")
    tweets_path = existing_file(tweets_path, "tweets file")
    posts, counts = _read_labels(labels_path)
    texts = _read_tweets(tweets_path)
    if not texts:
        raise DataError(f"{tweets_path}: no tweet has a 'text' or 'full_text'")

    ids = [pid for pid in posts if pid in texts]
    missing = [pid for pid in posts if pid not in texts]
    if not ids:
        raise DataError(f"{tweets_path}: none of the {len(posts)} labelled tweets in {labels_path} has hydrated text "
                        "(tweet ids must match postID)")
    present = {t for pid in ids for t in posts[pid]["types"]}
    tasks = [t for t in INFORMATION_TYPES if t in present]
    if not tasks:
        raise DataError(f"{labels_path}: no tweet with text has a known information type")
    col = {t: j for j, t in enumerate(tasks)}
    labels = np.zeros((len(ids), len(tasks)), dtype=np.int8)
    for i, pid in enumerate(ids):
        for t in posts[pid]["types"]:
            labels[i, col[t]] = 1
    split = stratified_split(labels, val_fraction, test_fraction, seed)
    eventid = np.array([posts[pid]["eventid"] for pid in ids], dtype=object)
    priority = np.array([posts[pid]["priority"] for pid in ids], dtype=object)
    labelled = set(posts)
    return MultiTaskDataset(
        texts=[texts[pid] for pid in ids],
        tasks=tasks,
        labels=labels,
        split=split,
        provenance={
            "name": "trecis", "path": str(labels_path), "tweets": str(tweets_path),
            "source": "TREC Incident Streams labels joined with user-hydrated tweets",
            "labelled_tweets": len(posts),
            "missing_text": {"count": len(missing), "examples": missing[:5]},
            "unlabelled_tweets": sum(1 for tid in texts if tid not in labelled),
            "duplicate_labels": counts["duplicate_labels"],
            "unknown_categories": counts["unknown_categories"],
            "absent_types": [t for t in INFORMATION_TYPES if t not in present],
            "events": dict(Counter(eventid.tolist())),
            "priorities": dict(Counter(priority.tolist())),
            "split": {"method": "stratified (rarest positive label), pooled over events", "seed": seed,
                      "val_fraction": val_fraction, "test_fraction": test_fraction},
        },
        corpus=np.full(len(ids), "trecis", dtype=object),
        columns={"post_id": np.array(ids, dtype=object), "eventid": eventid, "priority": priority},
    )
