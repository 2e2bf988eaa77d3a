"""Fixtures of the backend tests: a tiny BERT on disk (2 layers, hidden 128, the MiniLM tokenizer)."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory) -> str:
    """A randomly initialised 2-layer BERT (hidden 128) with the MiniLM tokenizer, saved like a checkpoint."""
    from transformers import AutoTokenizer, BertConfig, BertModel

    from raytp.data.assets import minilm_dir
    path = tmp_path_factory.mktemp("tiny-bert")
    tok = AutoTokenizer.from_pretrained(str(minilm_dir()), local_files_only=True)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = BertModel(BertConfig(vocab_size=tok.vocab_size, hidden_size=128, num_hidden_layers=2,
                                     num_attention_heads=2, intermediate_size=256, max_position_embeddings=128))
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return str(path)


@pytest.fixture(scope="session")
def embedding_cache(tmp_path_factory) -> str:
    """One embedding cache for the session, so MiniLM encodes each text set once."""
    return str(tmp_path_factory.mktemp("embedding-cache"))


@pytest.fixture(autouse=True)
def one_torch_thread():
    """One torch thread, as a 1-CPU worker gets (on a shared 2-core machine, 2 threads spin and crawl)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
