"""What a cluster is called and who stands for it: c-TF-IDF keywords of its members' texts (as in
BERTopic) and its representatives, the head of its member order.
"""
from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import AbstractSet, Sequence

import numpy as np

from vitrina.indexer.checks import positive_int
from vitrina.indexer.maps.cluster_methods import NOISE

__all__ = ["ClusterInfo", "ctfidf_keywords"]

NOISE_NAME = "noise"
TOP_KEYWORDS = 3

_WORD = re.compile(r"[^\W\d_]{3,}")
# Small on purpose: c-TF-IDF already discounts words common to every cluster; this only
# drops function words that would otherwise win in clusters with very short texts.
ENGLISH_STOP_WORDS: frozenset[str] = frozenset(
    """
    about above after again against all also and any are because been before being below
    between both but can could did does doing down during each few for from further had has
    have having her here hers herself him himself his how into its itself just more most
    not now off once only other our ours ourselves out over own same she should some such
    than that the their theirs them themselves then there these they this those through too
    under until very was were what when where which while who whom why will with would you
    your yours yourself yourselves
    """.split()
)


@dataclass(frozen=True)
class ClusterInfo:
    """One cluster of a Clustering; `representatives` are row numbers, most central first."""

    cluster: int
    size: int
    name: str
    keywords: tuple[str, ...]
    representatives: tuple[int, ...]


# --- describing clusters -------------------------------------------------------------------


def describe(
    labels: np.ndarray, member_rank: np.ndarray, texts: list[str] | None, representatives: int
) -> tuple[ClusterInfo, ...]:
    ids, sizes = np.unique(labels[labels >= 0], return_counts=True)
    keywords = _cluster_keywords(labels, texts, len(ids))
    # The representatives are the head of the stored order, so the API's first page of a
    # cluster's items always starts with them.
    head = np.flatnonzero((labels >= 0) & (member_rank < representatives))
    head = head[np.lexsort((member_rank[head], labels[head]))]
    starts = np.searchsorted(labels[head], ids)
    stops = np.append(starts[1:], len(head))
    infos = [
        ClusterInfo(
            cluster=int(c),
            size=int(size),
            name=", ".join(keywords[c]) if keywords[c] else f"cluster {c}",
            keywords=tuple(keywords[c]),
            representatives=tuple(int(r) for r in head[start:stop]),
        )
        for c, size, start, stop in zip(ids, sizes, starts, stops)
    ]
    noise = int((labels == NOISE).sum())
    if noise:
        infos.append(ClusterInfo(NOISE, noise, NOISE_NAME, (), ()))
    return tuple(infos)


def _cluster_keywords(labels: np.ndarray, texts: list[str] | None, n_clusters: int) -> list[list[str]]:
    if texts is None:
        return [[] for _ in range(n_clusters)]
    documents = [[] for _ in range(n_clusters)]
    for label, text in zip(labels.tolist(), texts):
        if label >= 0 and text:
            documents[label].append(text)
    return ctfidf_keywords(["\n".join(d) for d in documents])


def ctfidf_keywords(
    documents: Sequence[str], top: int = TOP_KEYWORDS, stop_words: AbstractSet[str] = ENGLISH_STOP_WORDS
) -> list[list[str]]:
    """Top keywords of each class document (a class's texts joined), by c-TF-IDF, best first.

    score(t, c) = tf(t, c) * log(1 + A / f(t)), as BERTopic's c-TF-IDF: tf is t's share
    of class c's words, f(t) is t's count over all classes and A the average number of
    words per class. A word frequent everywhere gets a small log factor, one frequent in
    a single class a large one. Words: lowercase runs of >= 3 letters, minus stop_words.
    Ties go to the alphabetically first word, so names do not depend on text order.
    """
    top = positive_int("top", top)
    counts = [Counter(w for w in _WORD.findall(d.lower()) if w not in stop_words) for d in documents]
    totals = [sum(c.values()) for c in counts]
    if not documents or not sum(totals):
        return [[] for _ in documents]
    across: Counter[str] = Counter()
    for c in counts:
        across.update(c)
    average = sum(totals) / len(documents)
    keywords = []
    for c, total in zip(counts, totals):
        scored = sorted(((-(n / total) * math.log1p(average / across[w]), w) for w, n in c.items()))
        keywords.append([w for _, w in scored[:top]])
    return keywords
