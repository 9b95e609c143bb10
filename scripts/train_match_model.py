"""Retrain the shipped demographic model, ``healthycity/exchange/data/match_model.json``.

The online scorer's model is trained offline with Splink, exactly as batch linkage trains
(``linkage.train_and_score``), on the demo population: Synthea's ``patients_1000``
London-ised and spread over 25 nodes with typos, moves, swapped birth dates and missing
or mis-keyed NHS numbers (``healthycity.exchange.dev.demo``, seed 1). NHS numbers are left
out, because the scorer only ever sees records without a verified one, and so are email
and phone (see ``UNPRICED``). Run it after
changing ``matching.FIELD_LEVELS`` or the training, so the shipped model has a trained
m and u for every level:

    .venv/bin/python scripts/train_match_model.py PATH/TO/patients_1000.ndjson

It prints the model's pairwise precision and recall on the population it was trained
on (a sanity check, not a held-out figure).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import orjson

from healthycity.exchange.dev import demo
from healthycity.exchange.identity import linkage
from healthycity.exchange.identity.index import demographics_of
from healthycity.exchange.identity.matching import FIELD_LEVELS, comparison_values

MODEL = (
    Path(__file__).resolve().parents[1] / "healthycity" / "exchange" / "data" / "match_model.json"
)

#: Fields the demo population cannot price: it never changes a phone number between a
#: person's copies and has no email addresses, so training would learn that a different
#: number is near-proof of a different person. Left out, they count for nothing online;
#: a model trained on extracts that carry them (``link --model-output``) prices them.
UNPRICED = frozenset({"email", "phone"})

ABOUT = (
    "Default demographic model. Trained with Splink 5 (DuckDB) by "
    "scripts/train_match_model.py on the demo population: {people:,} Synthea patients "
    "(patients_1000) London-ised and spread over {nodes} nodes with typos, moves, swapped "
    "birth dates and missing or mis-keyed NHS numbers (healthycity.exchange.demo, seed "
    "{seed}), without NHS numbers, since the scorer only sees records that lack a verified "
    "one. Retrain on a city's own extracts with `healthycity exchange link ... "
    "--model-output model.json`."
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("patients", type=Path, help="Synthea Patients (NDJSON file or folder).")
    parser.add_argument("--nodes", type=int, default=25)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--output", type=Path, default=MODEL)
    args = parser.parse_args(argv)

    people = demo.load_people(args.patients)
    if not people:
        print(f"error: no Patients in {args.patients}", file=sys.stderr)
        return 2
    population = demo.build_population(people, args.nodes, seed=args.seed)
    records: list[linkage.Record] = []
    truth: list[str] = []
    for node, patient in demo.iter_patients(population.stores):
        values = comparison_values(demographics_of(patient))
        values["nhs_number"] = None
        records.append(linkage.Record(f"node-{node}", len(records) + 1, dict(values)))
        truth.append(population.truth[(node, str(patient["id"]))])
    fields = [
        name
        for name in FIELD_LEVELS
        if name not in UNPRICED and any(r.values.get(name) for r in records)
    ]
    trained = linkage.train_and_score(records, fields, seed=args.seed)
    model = trained.model.to_json()
    model["about"] = ABOUT.format(people=len(people), nodes=args.nodes, seed=args.seed)
    args.output.write_bytes(orjson.dumps(model, option=orjson.OPT_INDENT_2) + b"\n")

    clusters, _, twins = linkage.cluster(
        records, trained.pairs, match_threshold=trained.model.match_threshold
    )
    precision, recall, *_ = linkage.pairwise_scores(clusters, truth)
    print(
        f"{len(records)} records, fields {', '.join(fields)}; at "
        f"{trained.model.match_threshold}: precision {precision:.4f}, recall {recall:.4f}, "
        f"{twins} twin pair(s) kept apart -> {args.output}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
