"""The Gradio web app over :class:`qa.pipeline.Assistant` (``python app.py`` starts it).

Modules, one job each:

* :mod:`qa.app.uploads`: checking uploaded files and the Markdown report of an upload;
* :mod:`qa.app.handlers`: the event handlers (:class:`~qa.app.handlers.Handlers`) and the
  chat records they keep per session;
* :mod:`qa.app.layout`: the Gradio layout (:func:`~qa.app.layout.build_app`, tabs, CSS);
* :mod:`qa.app.server`: start-up and serving (loading the assistant, the command line,
  signals, the browser-storage key).

Importing this package first sets the environment the app needs before gradio (and the
Hugging Face libraries) are imported: no analytics, no Hugging Face Hub traffic.
"""

from __future__ import annotations

import os

# Before gradio is imported: no analytics, no Hugging Face Hub traffic.
for _name, _value in (
    ("GRADIO_ANALYTICS_ENABLED", "False"),
    ("HF_HUB_OFFLINE", "1"),
    ("HF_HUB_DISABLE_TELEMETRY", "1"),
):
    os.environ.setdefault(_name, _value)
