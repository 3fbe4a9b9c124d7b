"""Synthetic Hong Kong identity cards with exact ground truth.

Pipeline: :mod:`.identities` draws a valid synthetic identity, :mod:`.render`
prints it onto a blank card (:mod:`.background`: erased specimen scans or fully
drawn cards; :mod:`.layout`: where each field goes; :mod:`.portrait`: a drawn
face), :mod:`.degrade` turns the flat card into a scan or photo, and
:mod:`.corpus` writes images and truth, deterministically for a seed.

Example:
    >>> from benchmarks.synth import generate_card  # doctest: +SKIP
    >>> card = generate_card(seed=0, index=0, count=600)  # doctest: +SKIP
    >>> card.truth["data"]["idNumber"]  # doctest: +SKIP
    'K123456(7)'
"""

from .corpus import GENERATOR_VERSION, CardPlan, GeneratedCard, build_corpus, generate_card, plan_corpus

__all__ = ["GENERATOR_VERSION", "CardPlan", "GeneratedCard", "build_corpus", "generate_card",
           "plan_corpus"]
