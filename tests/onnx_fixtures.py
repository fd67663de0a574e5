"""Small models and graph helpers shared by the onnx export tests."""

from __future__ import annotations


def graph_ops(path) -> list[str]:
    """Operator types of the nodes of the ONNX graph at ``path``, in graph order."""
    import onnx

    return [node.op_type for node in onnx.load(str(path)).graph.node]


def tiny_bert():
    """A 2-layer BERT, hidden 32, 4 heads, feed-forward 64, seeded: exports in a second."""
    import torch
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    config = BertConfig(vocab_size=50, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=64, max_position_embeddings=32, attn_implementation="eager")
    return BertModel(config).eval()


def tiny_reader(model):
    """``model``'s layers and a start/end head as one module: ``(hidden, attention_mask)`` → logits."""
    import torch

    from qa.onnx_build import _layers_forward

    class Reader(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.layers, self.qa_outputs = model.encoder.layer, torch.nn.Linear(32, 2)

        def forward(self, hidden, attention_mask):
            return self.qa_outputs(_layers_forward(self.layers, hidden, attention_mask))

    return Reader().eval()
