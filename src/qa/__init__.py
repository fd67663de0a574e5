"""qa: Chinese question answering over government documents with cited, exact spans.

Flow: documents → chunking → index → retrieval → reader → Answer with Citation,
connected by :mod:`qa.pipeline` and served by the CLI (:mod:`qa.cli`), the Gradio
app (:mod:`qa.app`, started by ``app.py``) and the evaluation (:mod:`qa.evaluation`).
"""

__version__ = "0.1.0"
