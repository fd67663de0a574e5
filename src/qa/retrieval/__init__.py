"""Dense, BM25 and hybrid retrieval over an :class:`~qa.index.Index`.

Public interface:

    Retriever(index, encoder, settings, fusion=None)
    Retriever.search(query, k=None, retriever=None, doc_ids=None, query_vector=None)
        -> list[Passage]     # best first, at most k
    Retriever.scope(query) -> set[str] | None    # documents the query names
    Retriever.candidates(query, query_vector, rows=None) -> Candidates   # hybrid's features
    FusionModel.load(path=DEFAULT_FUSION_PATH) -> FusionModel

Retrievers:

- ``dense``: cosine similarity between the query embedding and chunk embeddings
  (inner product of L2-normalised vectors, FAISS).
- ``bm25``: Okapi BM25 over jieba words (Robertson & Zaragoza 2009; see
  :mod:`qa.index`), times the chunk's IDF-weighted coverage of the query. Only
  chunks sharing at least one token with the query are returned.
- ``hybrid``: a learned re-ranking of the union of both retrievers' top
  ``settings.fusion_depth``. Each candidate gets the features of
  :data:`FEATURES` (both scores, normalised per query, both ranks, reciprocal
  rank fusion, and products with query features: how much of the question's IDF
  mass BM25 matched at best and how much of it the index vocabulary lacks), and
  a logistic regression over them (:class:`FusionModel`, shipped in
  ``src/qa/data/retrieval/fusion.json``, refitted by ``qa retrieval fit``)
  orders them. The products make the fusion adapt to the question: when the
  question's words are the index's words BM25 leads, when they are everyday
  paraphrases (经济总量 for 地区生产总值) or English, BM25 matches little and the
  dense similarity decides. Year and kind agreement features let a question
  about 2018's actual figure prefer the report that reviews 2018 (titled 2019)
  and a section of results over one of plans, and a question about a target the
  reverse. Hierarchical features give each passage the best scores of its
  document and of its top-level section among the candidates, so a passage of
  the report (or chapter) that holds most of the evidence wins over a lone
  look-alike elsewhere.

Measurement (``python eval/fusion_lodo.py``; index of the shipped report + the
eight ``../shared/corpus-extra`` reports, 700 chunks; each question ranked by a
model fitted on the other documents' questions; hit@1 / hit@5 / MRR@10)::

    questions                    bm25            dense           fixed fusion    learned (LODO)
    extra_qa.jsonl (145)         0.69/0.91/0.79  0.57/0.81/0.66  0.79/0.97/0.86  0.86/0.98/0.91
      paraphrase (35)            0.31/0.66/0.46  0.54/0.77/0.65  0.54/0.89/0.67  0.74/0.97/0.83
    seed_qa.jsonl (55)           0.85/0.95/0.90  0.25/0.42/0.33  0.82/0.93/0.87  0.89/0.95/0.92
    seed_qa.jsonl, default report alone (shipped model)
                                 0.95/0.98/0.96  0.73/0.93/0.82  0.96/1.00/0.98  0.96/1.00/0.98

Without the hierarchical features the learned column read 0.83/0.98/0.89
(extra_qa) and 0.82/0.93/0.88 (seed_qa).
("fixed fusion" = the 0.78·BM25/max + 0.22·min-max(cosine) this replaced; the
document scope below applies to every column.) Plain reciprocal rank fusion
(Cormack et al. 2009) scored 0.62/0.90/0.74 on ``extra_qa.jsonl``: rank fusion
cannot tell a strong BM25 match from a weak one.

Document scope: a query that names a place or a year that only some documents'
titles or publishers name should search those documents (:meth:`Retriever.scope`
gives their ids for ``doc_ids``; :class:`DocumentKeys`, computed once per index,
looked up per query). A year names the reports about it (:func:`document_years`):
with the previous scope (a year named only its title's report, so 2018's results
were sought in the report that sets 2018's targets) the fixed fusion scored
0.72/0.89/0.79 on ``extra_qa.jsonl`` instead of 0.77/0.97/0.85.

Ties are broken by chunk order (document order), so results are deterministic.
"""


from qa.retrieval.fusion import (
    DEFAULT_FUSION_PATH,
    FEATURES,
    Candidates,
    FusionModel,
    candidate_features,
    default_fusion,
)
from qa.retrieval.records import Passage, Ranking
from qa.retrieval.retriever import Retriever
from qa.retrieval.scope import DocumentKeys, document_years, title_scope, title_years

__all__ = [
    "DEFAULT_FUSION_PATH", "FEATURES", "Candidates", "DocumentKeys", "FusionModel", "Passage", "Ranking",
    "Retriever", "candidate_features", "default_fusion", "document_years", "title_scope", "title_years",
]
