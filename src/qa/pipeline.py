"""Question (+ history) → :class:`~qa.reader.Answer`: the one answering path.

OWNER: lead. Contract used by the CLI, the app and the evaluation:

    assistant = Assistant(settings)          # cheap
    assistant.warm_up()                      # loads encoder + index (builds if missing)
    assistant.ask(question, history=(), doc_ids=None) -> Answer
    assistant.search(query, k=5, retriever=None, doc_ids=None) -> list[Passage]
    assistant.index                          # the loaded qa.index.Index
"""
