"""Sign models on the resolution sphere (lib.phases.phase_models): a short training and its
held-out accuracy, the measurement behind the numbers in that module's docstring.

    python benchmarks/bench_phase_models.py --model triplet --seconds 300 --symbols-test 5,7
    python benchmarks/bench_phase_models.py --model phai --seconds 240
    python benchmarks/bench_phase_models.py --model mlp --seconds 60 --d-min 2.0

Trains one model on the stream of never-seen structures (:class:`lib.phases.sphere.
SphereStream`, batches of ``--batch`` structures) for ``--seconds`` of wall time, with the
origin handled by ``--origin`` (``fixed``: origin-fixed signs and plain BCE; ``raw``: the
min-over-8 loss), and every ``--every`` seconds prints the learning curve as JSON lines:
structures seen, |E|-weighted origin-aware sign accuracy on all reflections of the sphere and
on the strongest 20 % of ``--test`` held-out structures (stream
:data:`lib.phases.sphere.STREAM_SPHERE_TEST`), each next to its measured chance level
(:func:`lib.phases.phase_models.evaluate_sphere_model`).  The triplet model is trained with
``--symbols`` symbols and evaluated with each of ``--symbols-test`` (its weights do not
depend on the number of symbols).
"""

from __future__ import annotations

import argparse
import json
import time

from lib.phases import model_study, phase_models, sphere
from lib.phases.structures import GeneratorParameters


def build(name: str, hkl, n_strong: int, symbols: int):
    """The model ``name`` (triplet, phai or mlp) on grid ``hkl``
    (:func:`lib.phases.model_study.build_model`)."""
    return model_study.build_model(name, hkl, n_strong, symbols)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="triplet", choices=("triplet", "phai", "mlp"))
    parser.add_argument("--d-min", type=float, default=1.0)
    parser.add_argument("--origin", default="fixed", choices=sphere.ORIGIN_MODES)
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--every", type=float, default=90.0)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--test", type=int, default=32)
    parser.add_argument("--n-strong", type=int, default=400)
    parser.add_argument("--max-edges", type=int, default=8192)
    parser.add_argument("--symbols", type=int, default=4)
    parser.add_argument("--symbols-test", default="5")
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    import keras

    keras.utils.set_random_seed(args.seed)
    params = GeneratorParameters()
    triplet = args.model == "triplet"
    options = dict(d_min=args.d_min, origin=args.origin,
                   n_strong=args.n_strong if triplet else None, max_edges=args.max_edges)
    train = sphere.SphereStream(params, args.seed, args.batch, 10 ** 6, n_symbols=args.symbols,
                                **options)
    model = build(args.model, train.hkl, args.n_strong, args.symbols)
    model.compile(optimizer=keras.optimizers.Adam(args.learning_rate),
                  loss=sphere.sphere_sign_loss(train.hkl, args.origin == "raw"),
                  metrics=[sphere.sphere_accuracy_metric(train.hkl)])
    testers = {}
    for s in ([int(v) for v in args.symbols_test.split(",")] if triplet else [0]):
        stream = sphere.SphereStream(params, args.seed, args.test, 1, n_symbols=max(s, 1),
                                     stream=sphere.STREAM_SPHERE_TEST, **options)
        testers[s] = (stream, build(args.model, train.hkl, args.n_strong, s) if triplet
                      else model)
    curve: list[dict] = []
    started, seen, step = time.perf_counter(), 0, 0

    def record() -> None:
        for s, (stream, tester) in testers.items():
            if tester is not model:
                tester.set_weights(model.get_weights())
            row = phase_models.evaluate_sphere_model(tester, stream, 1, chance_draws=5)
            row.update(model=args.model, origin=args.origin, d_min=args.d_min,
                       structures_seen=seen, symbols=s or None,
                       seconds=round(time.perf_counter() - started, 1))
            curve.append(row)
            print(json.dumps(row), flush=True)

    record()
    next_record = args.every
    while time.perf_counter() - started < args.seconds:
        x, y = train[step]
        model.train_on_batch(x, y)
        step += 1
        seen += args.batch
        if time.perf_counter() - started > next_record:
            record()
            next_record = time.perf_counter() - started + args.every
    record()
    return curve


if __name__ == "__main__":
    main()
