"""Realistic reader comments for the benchmarks, and a tokenizer vocabulary that splits them the way
bert-base-uncased would.

The comments are varied news-comment sentences, 20 to 80 words each (uniformly random lengths, a
fixed seed), so a run always scores the same texts.

Why a vocabulary: ``workers/scorers/synthetic.py`` builds a checkpoint with Detoxify ``original``'s
architecture, but its vocabulary is about 100 real entries padded with placeholders. With it, any
word it lacks is spelt out letter by letter ("exchange" becomes 8 tokens), so a 50-word comment
turns into 150 to 250 tokens instead of the 60 to 70 that bert-base-uncased's 30,522 wordpieces
give. BERT's cost grows with the token count, so that would overstate the real model's cost about
threefold. ``write_wordpiece_vocab`` rewrites the checkpoint's ``vocab.txt`` (same 30,522 entries,
the embedding size is unchanged) so that every word of these comments is one token and punctuation
is a token of its own: what bert-base-uncased does with everyday English.
"""

from __future__ import annotations

import random
import re
import string
from pathlib import Path

_SUBJECTS = [
    "The minister", "This government", "The council", "The mayor", "Our local MP", "The opposition",
    "The central bank", "The police", "The health service", "The school board", "The company",
    "The union", "The prime minister", "The report", "The author", "Your reporter", "The editor",
    "My neighbour", "Everyone I know", "Most people here", "The committee", "The court",
    "The regulator", "Local businesses", "The hospital trust", "The energy firm", "The club",
]
_VERBS = [
    "has completely ignored", "should explain", "keeps talking about", "clearly misunderstands",
    "deserves credit for", "was right about", "has been silent on", "promised to fix",
    "needs to answer questions about", "got it wrong on", "is finally dealing with",
    "cannot keep avoiding", "made a mess of", "handled", "quietly dropped", "will never admit the truth about",
]
_OBJECTS = [
    "the housing crisis", "rising energy bills", "the new bypass", "the hospital waiting lists",
    "the teachers' strike", "the budget shortfall", "the flooding last winter", "the bus timetable",
    "the price of food", "the refugee camps", "the prisoner exchange", "the tax on fuel",
    "the closure of the library", "the new stadium", "interest rates", "the water company",
    "climate targets", "the election results", "the trade deal", "the ceasefire talks",
    "crime in the city centre", "potholes on every road", "the cost of childcare", "pension reform",
]
_OPENERS = [
    "Honestly,", "Frankly,", "To be fair,", "Let's be clear:", "As usual,", "Once again,", "Sadly,",
    "In my view,", "Thanks for this article.", "Great reporting.", "I disagree.", "Well said.",
    "Interesting piece.", "Another day, another scandal.", "Read the whole thing before commenting.",
]
_TAILS = [
    "and nobody seems to care.", "which is exactly what they promised not to do.",
    "but the article leaves out the most important part.", "and we are the ones who pay for it.",
    "so why is this only news now?", "and I have lived here for thirty years.",
    "because the numbers simply do not add up.", "while ordinary families struggle.",
    "and the comments here prove my point.", "yet nothing ever changes.",
    "if you read the figures carefully.", "and frankly it is embarrassing.",
    "but at least someone is asking the right questions.", "and that should worry all of us.",
]
_EXTRAS = [
    "Where is the accountability?", "I wrote to them twice and never heard back.",
    "My daughter waited eight months for an appointment.", "The data in the second chart is misleading.",
    "Good journalism costs money, so I am happy to subscribe.", "Please follow up on this story next week.",
    "Some of the replies below are just rude.", "Anyone who thinks this is fine should visit the town.",
    "It is a disgrace and they should resign.", "They are all idiots, every single one of them.",
    "Stop blaming immigrants for everything.", "I hope the journalist keeps digging.",
    "My grandfather would have been furious about this.", "What a stupid decision, honestly.",
    "I don't trust a word they say any more.", "This is the best explanation I have read so far.",
    "Can somebody explain why the figures changed since March?", "We need more reporting like this.",
]


def _sentence(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.55:
        s = f"{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)} {rng.choice(_TAILS)}"
        if rng.random() < 0.35:
            opener = rng.choice(_OPENERS)
            s = f"{opener} {s[0].lower() + s[1:]}" if opener.endswith(",") or opener.endswith(":") else f"{opener} {s}"
        return s
    if kind < 0.85:
        return rng.choice(_EXTRAS)
    return rng.choice([o for o in _OPENERS if o.endswith(".")])


def realistic_comments(n: int, seed: int = 7, min_words: int = 20, max_words: int = 80) -> list[str]:
    """``n`` distinct comments of ``min_words`` to ``max_words`` words, the same for the same seed."""
    rng = random.Random(seed)
    comments: list[str] = []
    seen: set[str] = set()
    while len(comments) < n:
        target = rng.randint(min_words, max_words)
        words: list[str] = []
        while len(words) < target:
            words += _sentence(rng).split()
        words = words[:target]
        text = " ".join(words)
        if text[-1] not in ".?!":
            text = text.rstrip(",:;") + "."
        if text not in seen:
            seen.add(text)
            comments.append(text)
    return comments


def corpus_words() -> list[str]:
    """Every lower-cased word of the sentence bank, as bert's basic tokenizer splits it."""
    words: set[str] = set()
    for part in _SUBJECTS + _VERBS + _OBJECTS + _OPENERS + _TAILS + _EXTRAS:
        words.update(re.findall(r"[a-z0-9]+", part.lower()))
    return sorted(words)


def write_wordpiece_vocab(hf_dir: str | Path, vocab_size: int = 30522) -> None:
    """Rewrite ``hf_dir/vocab.txt`` with ``vocab_size`` entries in which every corpus word is one token."""
    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    chars = list(string.ascii_lowercase + string.digits + string.punctuation)
    pieces = [f"##{c}" for c in string.ascii_lowercase + string.digits]
    vocab: list[str] = []
    for token in special + chars + corpus_words() + pieces:
        if token not in vocab:
            vocab.append(token)
    vocab += [f"tok{i}" for i in range(vocab_size - len(vocab))]
    (Path(hf_dir) / "vocab.txt").write_text("\n".join(vocab) + "\n")


if __name__ == "__main__":
    for text in realistic_comments(5):
        print(len(text.split()), text, "\n")
