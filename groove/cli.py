"""The `groove` command line. It parses arguments and calls the Python API.

Heavy imports (symusic, miditok, music21, TensorFlow) happen inside the commands
that need them, so `groove --help` answers at once.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

from groove import __version__
from groove.errors import GrooveError, GrooveWarning, TokenError

TOKENIZER_HELP = (
    "performance (10 ms events), beat (1/12-beat grid, drum tokens), miditok:NAME "
    "(e.g. miditok:MIDILike, miditok:REMI), or a tokenizer .json saved by groove"
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 ok, 2 bad input or usage)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    warnings.showwarning = _show_warning
    try:
        return args.run(args) or 0
    except GrooveError as e:
        print(f"groove: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"groove: error: {e.filename or ''}: {e.strerror or e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("groove: interrupted", file=sys.stderr)
        return 130


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    if issubclass(category, GrooveWarning):
        print(f"groove: warning: {message}", file=sys.stderr)
    else:
        sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="groove",
        description="Symbolic music generation and one-shot style transfer.",
        epilog="Run 'groove COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"groove {__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    p = sub.add_parser(
        "demo",
        help="tokenize and round-trip the bundled examples, and say what happened",
        description="Load the MIDI files bundled with groove (or yours), encode them with each "
        "tokenizer, decode them again, and print how faithfully the notes came back.",
    )
    p.add_argument("midi", nargs="*", help="MIDI files to use instead of the bundled examples")
    p.add_argument(
        "-o",
        "--out",
        default="groove-demo",
        help="folder for the decoded MIDI files (default: %(default)s)",
    )
    p.set_defaults(run=_demo)

    p = sub.add_parser(
        "tokenize",
        help="MIDI files to token ids and names (JSON lines)",
        description="Encode MIDI files. Each output line is a JSON object "
        '{"file", "track", "ids", "tokens"}; the tokenizer is saved beside the output '
        "as OUT.tokenizer.json so that 'groove detokenize' can read the ids back. "
        "A file that cannot be read is reported and skipped.",
    )
    p.add_argument("midi", nargs="+", help="MIDI files")
    p.add_argument("-t", "--tokenizer", default="performance", help=TOKENIZER_HELP)
    p.add_argument("-o", "--out", required=True, help="output .jsonl file")
    p.add_argument(
        "--per-track",
        action="store_true",
        help="one line per track (keeps programs) instead of one merged stream",
    )
    p.add_argument("-j", "--workers", type=int, default=1, help="parallel processes")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=_tokenize)

    p = sub.add_parser(
        "detokenize",
        help="token ids (JSON lines from 'groove tokenize') back to MIDI",
        description="Decode the lines of a .jsonl file written by 'groove tokenize' into one "
        "MIDI file per input file. Lines may hold 'ids' or 'tokens' (names).",
    )
    p.add_argument("jsonl", help="input .jsonl")
    p.add_argument(
        "-o",
        "--out",
        required=True,
        help="output folder, or a .mid path when the input holds one file",
    )
    p.add_argument(
        "-t",
        "--tokenizer",
        help=f"{TOKENIZER_HELP} (default: the .tokenizer.json beside the input)",
    )
    p.add_argument(
        "--tempo",
        type=float,
        default=120.0,
        help="quarter notes per minute, for the beat tokenizer (default: 120)",
    )
    p.set_defaults(run=_detokenize)

    p = sub.add_parser(
        "render",
        help="MIDI files to audio (WAV, or FLAC with soundfile) through FluidSynth",
        description="Render MIDI to audio. Drums play on the drum channel; the peak is "
        "normalised to -1 dBFS. The SoundFont is, in order: --soundfont, $GROOVE_SOUNDFONT, "
        "a system General MIDI font, the small font pretty_midi ships.",
    )
    p.add_argument("midi", nargs="+", help="MIDI files")
    p.add_argument(
        "-o",
        "--out",
        required=True,
        help="output .wav/.flac for one input, or a folder for several",
    )
    p.add_argument("--soundfont", help="a .sf2 SoundFont")
    p.add_argument("--sample-rate", type=int, default=44100, help="default: %(default)s")
    p.add_argument(
        "--synth",
        choices=["fluidsynth", "sine"],
        default="fluidsynth",
        help="sine needs no library: a rough sketch of the music",
    )
    p.add_argument(
        "--format",
        choices=["wav", "flac"],
        default="wav",
        help="file type when --out is a folder (default: %(default)s)",
    )
    p.set_defaults(run=_render)

    _add_transfer(sub)
    _add_generate(sub)
    _add_eval(sub)
    _add_data(sub)
    _add_train(sub)
    return parser


def _add_sampling_args(p: argparse.ArgumentParser) -> None:
    """The sampler's options, shared by the commands that generate."""
    p.add_argument("--seed", type=int, help="sampling seed (same seed, same output)")
    p.add_argument("--temperature", type=float, default=1.0, help="0 is greedy (default: 1)")
    p.add_argument("--top-k", type=int, help="sample among the k most likely tokens")
    p.add_argument("--top-p", type=float, help="nucleus sampling with this mass")


def _add_transfer(sub) -> None:
    p = sub.add_parser(
        "transfer",
        help="play a song again in the style of an example (one-shot style transfer)",
        description="Re-play CONTENT (a song, chords, an accompaniment) in the style of STYLE "
        "(a short example): each role (bass, keys, guitar, strings, drums) is generated from "
        "the example's track of that role, over the content's harmony, tempo map and bars.",
    )
    p.add_argument("content", help="the song (MIDI)")
    p.add_argument("style", help="an example of the style (MIDI)")
    p.add_argument("-o", "--out", required=True, help="output MIDI file")
    p.add_argument("--model", help="a .keras style-transfer model (default: the shipped one)")
    p.add_argument(
        "--roles", help="comma-separated roles, e.g. bass,piano,drums (default: all the style has)"
    )
    p.add_argument("--render", metavar="WAV", help="also render the output to this audio file")
    _add_sampling_args(p)
    p.add_argument(
        "--keep-melody", action="store_true", help="copy the content's melody track unchanged"
    )
    p.set_defaults(run=_transfer)


def _transfer(args: argparse.Namespace) -> int:
    from groove import midi
    from groove.style_transfer import transfer_score

    out = Path(args.out)
    if out.suffix.lower() not in (".mid", ".midi"):
        raise GrooveError(f"{args.out}: the output must be a .mid file")
    if args.render and not args.render.lower().endswith((".wav", ".flac")):
        raise GrooveError(f"{args.render}: --render writes .wav or .flac")
    score = transfer_score(
        args.content,
        args.style,
        args.model,
        roles=_csv(args.roles) if args.roles else None,
        temperature=args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        seed=args.seed,
        keep_melody=args.keep_melody,
    )
    midi.save(score, out)
    print(
        f"groove: wrote {out} ({len(score.notes)} notes, {len(score.tracks)} tracks)",
        file=sys.stderr,
    )
    if args.render:
        from groove.render import render_to_file

        render_to_file(score, args.render)
        print(f"groove: wrote {args.render}", file=sys.stderr)
    return 0


def _add_generate(sub) -> None:
    p = sub.add_parser(
        "generate",
        help="compose, or continue a primer, with the Music Transformer",
        description="Sample new music from a Music Transformer (default: the shipped one, "
        "trained on Bach chorales). With --primer the output starts with the primer (its "
        "notes as the model hears them, on one track), then the continuation. Every sample "
        "ends: notes are released at --seconds, and --max-tokens caps the length.",
    )
    p.add_argument("-o", "--out", required=True, help="output MIDI file (OUT-1.mid, ... for many)")
    p.add_argument("--primer", metavar="MIDI", help="music to continue")
    p.add_argument(
        "--seconds", type=float, default=30.0, help="seconds of new music (default: %(default)s)"
    )
    p.add_argument("--max-tokens", type=int, help="new tokens per sample, at most")
    p.add_argument("--num-samples", type=int, default=1, help="samples, drawn as one batch")
    p.add_argument("--model", help="a .keras Music Transformer (default: the shipped one)")
    p.add_argument(
        "--render",
        nargs="?",
        const=True,
        metavar="WAV",
        help="also render to audio: OUT.wav beside each MIDI file, or this file",
    )
    _add_sampling_args(p)
    p.set_defaults(run=_generate)


def _generate(args: argparse.Namespace) -> int:
    from groove import midi
    from groove.generation import generate

    out = Path(args.out)
    if out.suffix.lower() not in (".mid", ".midi"):
        raise GrooveError(f"{args.out}: the output must be a .mid file")
    if args.num_samples < 1:
        raise GrooveError(f"--num-samples must be at least 1, got {args.num_samples}")
    render = args.render
    if isinstance(render, str):
        if not render.lower().endswith((".wav", ".flac")):
            raise GrooveError(f"{render}: --render writes .wav or .flac")
        if args.num_samples > 1:
            raise GrooveError("--render WAV names one file; give --render alone for many samples")
    pms = generate(
        args.primer,
        args.model,
        seconds=args.seconds,
        max_tokens=args.max_tokens,
        temperature=args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        seed=args.seed,
        num_samples=args.num_samples,
    )
    pms = pms if isinstance(pms, list) else [pms]
    for k, pm in enumerate(pms, 1):
        path = out if len(pms) == 1 else out.with_name(f"{out.stem}-{k}{out.suffix}")
        midi.save(pm, path)
        notes = sum(len(i.notes) for i in pm.instruments)
        print(f"groove: wrote {path} ({notes} notes, {pm.get_end_time():.1f} s)", file=sys.stderr)
        if render:
            from groove.render import render_to_file

            wav = Path(render) if isinstance(render, str) else path.with_suffix(".wav")
            render_to_file(pm, wav)
            print(f"groove: wrote {wav}", file=sys.stderr)
    return 0


def _add_train(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train a model (style transfer, Music Transformer)",
        description="Train a model. Runs keep checkpoints, TensorBoard logs and a history; "
        "a killed run continues with --resume.",
    )
    train_sub = p.add_subparsers(title="models", metavar="MODEL")
    p.set_defaults(run=lambda args: p.print_help() or 2)
    t = train_sub.add_parser(
        "transfer",
        help="the one-shot style-transfer model, on 'groove data triplets' output",
        description="Teacher-forced cross-entropy (padding ignored) with Adam, gradient "
        "clipping, warmup and cosine decay. Every eval_every steps: validation loss, "
        "OUT/model.keras (best so far, the file 'groove transfer --model' takes) and "
        "OUT/last.keras (for --resume). A NaN loss stops the run and keeps the last good "
        "checkpoint.",
    )
    _add_train_args(t, "folder of triplets ('groove data triplets')")
    t.set_defaults(run=_train, train="transfer")

    t = train_sub.add_parser(
        "lm",
        help="the Music Transformer, on 'groove data corpus' output",
        description="Next-token cross-entropy (padding ignored) on windows of the model's "
        "context, cut at random and transposed / time-stretched afresh each time, with Adam, "
        "gradient clipping, warmup and cosine decay. Every eval_every steps: validation loss "
        "on the unaugmented val split, OUT/model.keras (best so far, the file 'groove "
        "generate --model' takes) and OUT/last.keras (for --resume). A NaN loss stops the run "
        "and keeps the last good checkpoint.",
    )
    _add_train_args(t, "language-model data folder ('groove data corpus')")
    t.set_defaults(run=_train, train="lm")


def _add_train_args(t: argparse.ArgumentParser, data_help: str) -> None:
    t.add_argument("--data", required=True, metavar="DIR", help=data_help)
    t.add_argument(
        "--config",
        default="small",
        metavar="PRESET|TOML",
        help="tiny, small, base, or a TOML file with [model] and [train] (default: small)",
    )
    t.add_argument("--out", required=True, metavar="RUN_DIR", help="run folder")
    t.add_argument(
        "--strategy",
        default="auto",
        choices=("auto", "cpu", "mirrored", "multiworker", "tpu"),
        help="distribution: tf.distribute under TensorFlow, DataParallel under JAX",
    )
    t.add_argument(
        "--mixed-precision", action="store_true", help="float16 compute on a GPU (bfloat16 else)"
    )
    t.add_argument("--resume", action="store_true", help="continue the run in RUN_DIR")
    t.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def _train(args: argparse.Namespace) -> int:
    from groove import training

    run = training.train_transfer if args.train == "transfer" else training.train_lm
    _, state = run(
        args.data,
        args.config,
        args.out,
        strategy=args.strategy,
        mixed_precision=args.mixed_precision,
        resume=args.resume,
        # A progress bar on a terminal, one line per evaluation in a log.
        verbose=0 if args.quiet else 1 if sys.stdout.isatty() else 2,
    )
    best = state.get("best_val_loss")
    best = f", best validation loss {best:.4f} at step {state['best_step']}" if best else ""
    print(f"groove: {state['step']} steps{best}; model in {Path(args.out) / 'model.keras'}")
    return 0


def _add_data(sub) -> None:
    p = sub.add_parser(
        "data",
        help="build training data: synthetic corpus, transfer triplets, language-model data",
        description="Build training data.",
    )
    data_sub = p.add_subparsers(title="data commands", metavar="COMMAND")
    p.set_defaults(run=lambda args: p.print_help() or 2)
    s = data_sub.add_parser(
        "synth",
        help="render random chord charts in random styles to MIDI, split by style and chart",
        description="Render a synthetic parallel corpus: each chart in several styles of its "
        "meter. Styles and charts are split train/val/test disjointly, plus itest (test charts "
        "in training styles). The run resumes after an interruption; manifest.json records "
        "every seed, so the corpus rebuilds byte for byte.",
    )
    s.add_argument("--styles", type=int, required=True, help="number of styles")
    s.add_argument("--charts", type=int, required=True, help="number of chord charts")
    s.add_argument("--out", required=True, help="output folder")
    s.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes")
    s.add_argument("--seed", type=int, default=0, help="corpus seed (default: %(default)s)")
    s.add_argument(
        "--styles-per-chart", type=int, default=4, help="styles per chart (default: %(default)s)"
    )
    s.add_argument("--shard-size", type=int, default=64, help="files per shard")
    s.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    s.set_defaults(run=_data_synth)

    t = data_sub.add_parser(
        "triplets",
        help="cut a synthetic corpus into style-transfer triplets (TFRecord)",
        description="Cut a corpus from 'groove data synth' into one-shot style-transfer "
        "triplets: content (a segment in style A, as a piano roll), style example (another "
        "chart in style B, one role) and target (the segment in style B, that role), "
        "tokenized with the beat tokenizer and written as GZIP TFRecord shards per split.",
    )
    t.add_argument("corpus", help="corpus folder (with manifest.json)")
    t.add_argument("--out", required=True, help="output folder")
    t.add_argument("--bars", type=int, default=8, help="bars per segment (default: %(default)s)")
    t.add_argument(
        "--roles",
        default="bass,keys,guitar,strings,drums",
        help="comma-separated roles to make targets for (default: %(default)s; piano = keys)",
    )
    t.add_argument(
        "--splits", default="train,val,test,itest", help="splits to write (default: %(default)s)"
    )
    t.add_argument("--seed", type=int, default=0, help="seed for the style examples")
    t.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    t.set_defaults(run=_data_triplets)

    c = data_sub.add_parser(
        "corpus",
        help="language-model data from MIDI folders or the music21 corpus",
        description="Collect language-model training data: MIDI files, folders of them "
        "(searched recursively) or music21 corpus names (music21:bach, music21:palestrina, "
        "music21:bach/bwv66.6), split train/val/test by file. Notes are stored, not tokens, "
        "so training transposes and time-stretches them afresh each time.",
    )
    c.add_argument("sources", nargs="+", help="MIDI files, folders, or music21:NAME")
    c.add_argument("--out", required=True, help="output folder")
    c.add_argument(
        "--tokenizer", default="performance", help=f"{TOKENIZER_HELP} (default: %(default)s)"
    )
    c.add_argument(
        "--splits", default="0.8,0.1,0.1", help="train,val,test fractions (default: %(default)s)"
    )
    c.add_argument("--seed", type=int, default=0, help="split seed (default: %(default)s)")
    c.add_argument("--limit", type=int, help="use only the first N files")
    c.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes")
    c.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    c.set_defaults(run=_data_corpus)


def _add_eval(sub) -> None:
    p = sub.add_parser(
        "eval",
        help="score style transfers or compare folders, with JSON and an HTML report",
        description="Evaluate music. 'transfer' scores content preservation and style fit of "
        "style-transfer outputs against two baselines; 'corpus' compares descriptive metrics "
        "of folders of MIDI files.",
    )
    eval_sub = p.add_subparsers(title="evaluations", metavar="EVALUATION")
    p.set_defaults(run=lambda args: p.print_help() or 2)

    t = eval_sub.add_parser(
        "transfer",
        help="content preservation and style fit of (content, style, output) triples",
        description="Score each output: content preservation is the chroma similarity of "
        "output and content (Lu & Su 2018); style fit compares style profiles of the output "
        "and the style example per instrument role (Groove2Groove). The baselines 'source' "
        "(content as output) and 'style' (style example as output) are scored in the same "
        "run. Without --pairs, an output A__B.mid pairs content A.mid with style B.mid, and "
        "any other output X.mid pairs X.mid in both folders. Unreadable files are reported "
        "and skipped.",
    )
    t.add_argument("--content", required=True, metavar="DIR", help="folder of content MIDI")
    t.add_argument("--style", required=True, metavar="DIR", help="folder of style examples")
    t.add_argument("--output", required=True, metavar="DIR", help="folder of outputs")
    t.add_argument(
        "--pairs",
        metavar="TSV",
        help="tab-separated lines 'content style output', paths relative to the folders",
    )
    t.add_argument(
        "--target",
        metavar="DIR",
        help="folder of ground-truth renderings named like the outputs: scored as 'target'",
    )
    _add_report_args(t, "transfer-report.html")
    t.add_argument(
        "--examples",
        type=int,
        default=6,
        help="triples shown with piano rolls, chroma and profiles (default: %(default)s)",
    )
    t.set_defaults(run=_eval_transfer)

    c = eval_sub.add_parser(
        "corpus",
        help="descriptive metrics of folders and their overlapping areas",
        description="Measure pitch range, pitch-class entropy, scale consistency, polyphony, "
        "polyphony rate, empty-beat rate, groove consistency and drum pattern consistency "
        "(muspy's definitions, in beats) of every file, and the overlapping area of each "
        "folder's distributions with the first folder's (Yang & Lerch 2020).",
    )
    c.add_argument("folders", nargs="+", metavar="DIR", help="folders; the first is the reference")
    _add_report_args(c, "corpus-report.html")
    c.set_defaults(run=_eval_corpus)


def _add_report_args(p: argparse.ArgumentParser, default: str) -> None:
    p.add_argument(
        "--report", default=default, metavar="HTML", help="HTML report (default: %(default)s)"
    )
    p.add_argument("--json", metavar="FILE", help="JSON of every number (default: beside --report)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


# -------------------------------------------------------------------------- demo


def _demo(args: argparse.Namespace) -> int:
    from groove import example_path, midi
    from groove.tokenizers import BeatTokenizer, MidiTokTokenizer, PerformanceTokenizer
    from groove.tokenizers.fidelity import compare

    paths = args.midi or [example_path("band.mid"), example_path("chorale.mid")]
    tokenizers = [
        (PerformanceTokenizer(), "seconds", "10 ms"),
        (BeatTokenizer(), "beats", "1/12 beat"),
        (MidiTokTokenizer(), "beats", "1/12 beat"),
    ]
    out = Path(args.out)
    for path in paths:
        score = midi.load(path)
        print(f"\n{path}")
        print(
            f"  {len(score.notes)} notes on {len(score.tracks)} tracks "
            f"({', '.join(t.name or f'program {t.program}' for t in score.tracks)}), "
            f"{score.duration_seconds:.1f} s, {len(score.tempos) or 1} tempo(s)"
        )
        for tok, unit, quantum in tokenizers:
            ids = tok.encode_tracks(score)
            decoded, report = tok.decode_tracks_score(ids)
            fid = compare(tok.prepare(score), decoded, unit)
            first = next(iter(ids.values()), [])
            name = type(tok).__name__
            print(
                f"  {name}: {sum(map(len, ids.values()))} tokens in {len(ids)} track(s), "
                f"e.g. {' '.join(tok.ids_to_tokens(first[:6]))} ..."
            )
            kept = "all notes kept" if fid.same_notes else f"NOTES CHANGED {fid.notes}"
            print(
                f"    decoded: {kept}; worst onset error {fid.onset_error:.4g} {unit}, "
                f"offset {fid.offset_error:.4g} {unit} (quantum {quantum}); "
                f"velocity {fid.velocity_error:.0f}; {report}"
            )
            target = out / f"{Path(path).stem}.{tok.kind}.mid"
            midi.save(decoded, target)
            print(f"    wrote {target}")
    return 0


# ------------------------------------------------------------------------ render


def _render(args: argparse.Namespace) -> int:
    from groove.render import Renderer, write_audio

    single = args.out.lower().endswith((".wav", ".flac"))
    if not single and Path(args.out).suffix:
        raise GrooveError(f"{args.out}: write .wav or .flac, or give a folder")
    if single and len(args.midi) > 1:
        raise GrooveError(f"{len(args.midi)} inputs need a folder as --out, not {args.out}")
    with Renderer(args.soundfont, args.sample_rate, args.synth) as renderer:
        for path in args.midi:
            target = (
                Path(args.out) if single else Path(args.out) / f"{Path(path).stem}.{args.format}"
            )
            audio = renderer.render(path)
            write_audio(audio, target, args.sample_rate)
            print(
                f"groove: wrote {target} ({len(audio) / args.sample_rate:.1f} s)", file=sys.stderr
            )
    return 0


# -------------------------------------------------------------------------- data


def _data_synth(args: argparse.Namespace) -> int:
    from collections import Counter

    from groove.data.corpus import build_corpus

    manifest = build_corpus(
        args.out,
        args.styles,
        args.charts,
        seed=args.seed,
        styles_per_chart=args.styles_per_chart,
        workers=args.workers,
        shard_size=args.shard_size,
        progress=not args.quiet,
    )
    counts = Counter(item["split"] for item in manifest["items"])
    print(
        f"{len(manifest['items'])} files in {args.out}: "
        + ", ".join(
            f"{split} {counts.get(split, 0)}" for split in ("train", "val", "test", "itest")
        )
    )
    return 0


def _data_triplets(args: argparse.Namespace) -> int:
    from groove.data.pipeline import write_triplets

    manifest = write_triplets(
        args.corpus,
        args.out,
        splits=_csv(args.splits),
        bars=args.bars,
        roles=_csv(args.roles),
        seed=args.seed,
        progress=not args.quiet,
    )
    print(
        f"triplets in {args.out}: "
        + ", ".join(f"{name} {split['triplets']}" for name, split in manifest["splits"].items())
    )
    return 0


def _data_corpus(args: argparse.Namespace) -> int:
    from groove.data.lm import build_lm_corpus

    try:
        splits = [float(x) for x in _csv(args.splits)]
    except ValueError:
        raise GrooveError(f"--splits must be three numbers, got {args.splits!r}") from None
    manifest = build_lm_corpus(
        args.sources,
        args.out,
        tokenizer=args.tokenizer,
        splits=splits,
        seed=args.seed,
        limit=args.limit,
        workers=args.workers,
        progress=not args.quiet,
    )
    counts = manifest["counts"]
    print(
        f"{sum(c['files'] for c in counts.values())} files in {args.out} "
        f"({len(manifest['skipped'])} skipped): "
        + ", ".join(
            f"{split} {c['files']} files / {c['tokens']:,} tokens" for split, c in counts.items()
        )
    )
    return 0


def _csv(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


# -------------------------------------------------------------------------- eval


def _json_path(args: argparse.Namespace) -> Path:
    return Path(args.json) if args.json else Path(args.report).with_suffix(".json")


def _eval_transfer(args: argparse.Namespace) -> int:
    from groove.eval.report import transfer_report, write_json
    from groove.eval.runs import evaluate_transfer

    results = evaluate_transfer(
        args.content,
        args.style,
        args.output,
        args.pairs,
        target_dir=args.target,
        progress=not args.quiet,
    )
    write_json(results, _json_path(args))
    transfer_report(results, args.report, examples=args.examples)
    print(f"{len(results['triples'])} triples, {len(results['skipped'])} file(s) skipped")
    print(f"{'system':8}  {'content preservation':>22}  {'style fit':>15}  {'macro style':>11}")
    summary = results["summary"]
    for system, s in summary.items():
        cp, sf, macro = s["content_preservation"], s["style_fit"], s["macro_style_fit"]
        print(
            f"{system:8}  {cp['mean']:>14.3f} ± {cp['std']:.3f}  "
            f"{sf['mean']:>7.3f} ± {sf['std']:.3f}  {macro['mean']:>11.3f}"
        )
    for key, title in (("content_preservation_by_role", "content preservation"),
                       ("style_fit_by_role", "style fit")):  # fmt: skip
        roles = sorted({r for s in summary.values() for r in s[key]})
        if roles:
            print(f"{title} by role:\n{'system':8}" + "".join(f"  {r:>8}" for r in roles))
            for system, s in summary.items():
                cells = (s[key].get(r, {"mean": math.nan})["mean"] for r in roles)
                print(f"{system:8}" + "".join(f"  {v:>8.3f}" for v in cells))
    print(f"groove: wrote {args.report} and {_json_path(args)}", file=sys.stderr)
    return 0


def _eval_corpus(args: argparse.Namespace) -> int:
    from groove.eval.report import corpus_report, write_json
    from groove.eval.runs import evaluate_corpus

    results = evaluate_corpus(args.folders, progress=not args.quiet)
    write_json(results, _json_path(args))
    corpus_report(results, args.report)
    reference = results["config"]["reference"]
    others = [f for f in results["summary"] if f != reference]
    print(f"{'metric':26}" + "".join(f"{Path(f).name[:14]:>16}" for f in results["summary"]))
    for name in next(iter(results["summary"].values())):
        row = "".join(f"{results['summary'][f][name]['mean']:>16.3f}" for f in results["summary"])
        overlap = "".join(
            f"  OA {results['overlap'][f][name]['overlapping_area']:.3f}" for f in others
        )
        print(f"{name:26}{row}{overlap}")
    print(f"groove: wrote {args.report} and {_json_path(args)}", file=sys.stderr)
    return 0


# ---------------------------------------------------------------- tokenize/decode


def _sidecar(jsonl: str) -> str:
    base = jsonl[: -len(".jsonl")] if jsonl.endswith(".jsonl") else jsonl
    return base + ".tokenizer.json"


def _tokenize(args: argparse.Namespace) -> int:
    import json

    from groove.fileio import atomic_open
    from groove.tokenizers import encode_files, get_tokenizer

    tok = get_tokenizer(args.tokenizer)
    result = encode_files(
        args.midi, tok, workers=args.workers, per_track=args.per_track, progress=not args.quiet
    )
    if not result.ids:
        first = next(iter(result.failed.values()))
        more = f" (and {len(result.failed) - 1} more unreadable)" if len(result.failed) > 1 else ""
        raise GrooveError(f"{first}{more}")
    for reason in result.failed.values():
        print(f"groove: skipped {reason}", file=sys.stderr)
    lines = 0
    with atomic_open(args.out, "w", encoding="utf-8") as f:
        for path, encoded in result.ids.items():
            items = encoded.items() if args.per_track else [(None, encoded)]
            for track, ids in items:
                record = {
                    "file": path,
                    "track": None
                    if track is None
                    else {"program": track.program, "is_drum": track.is_drum, "name": track.name},
                    "ids": ids.tolist(),
                    "tokens": tok.ids_to_tokens(ids),
                }
                f.write(json.dumps(record) + "\n")
                lines += 1
    tok.save(_sidecar(args.out))
    print(
        f"groove: wrote {lines} line(s) from {len(result.ids)} file(s) to {args.out} "
        f"({len(result.failed)} skipped); tokenizer in {_sidecar(args.out)}",
        file=sys.stderr,
    )
    return 0


def _detokenize(args: argparse.Namespace) -> int:
    import json

    from groove import midi
    from groove.midi import Track
    from groove.tokenizers import get_tokenizer

    spec = args.tokenizer or _sidecar(args.jsonl)
    if args.tokenizer is None and not os.path.exists(spec):
        raise GrooveError(f"{args.jsonl}: no {spec} beside it; pass --tokenizer")
    tok = get_tokenizer(spec)
    files: dict[str, dict] = {}
    with open(args.jsonl, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                ids = record["ids"] if "ids" in record else tok.tokens_to_ids(record["tokens"])
                track = record.get("track")
                key = (
                    None
                    if track is None
                    else Track(int(track["program"]), bool(track["is_drum"]), str(track["name"]))
                )
                name = str(record.get("file") or f"line{n}")
            except (ValueError, KeyError, TypeError) as e:
                raise TokenError(f"{args.jsonl}, line {n}: not a groove token record ({e})") from e
            files.setdefault(name, {})[key] = tok.check_ids(ids)

    kwargs = {"tempo": args.tempo} if tok.kind == "beat" else {}
    single = args.out.lower().endswith((".mid", ".midi"))
    if single and len(files) > 1:
        raise GrooveError(f"{args.jsonl} holds {len(files)} files; give a folder as --out")
    for name, tracks in files.items():
        if None in tracks:
            score, report = tok.decode_score(tracks[None], **kwargs)
        else:
            score, report = tok.decode_tracks_score(tracks, **kwargs)
        target = Path(args.out) if single else Path(args.out) / (Path(name).stem + ".mid")
        midi.save(score, target)
        print(f"groove: {target}: {report}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
