"""`groove transfer`: play a song again in the style of an example."""

from __future__ import annotations

import argparse
import sys

from groove.cli.options import (
    add_quiet_option,
    add_sampling_options,
    check_audio_output,
    csv_list,
    existing,
    midi_output,
    sampling_kwargs,
)
from groove.errors import ConfigError
from groove.fileio import check_not_inputs


def register(subparsers) -> None:
    p = subparsers.add_parser(
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
    add_sampling_options(p)
    p.add_argument(
        "--keep-melody", action="store_true", help="copy the content's melody track unchanged"
    )
    p.add_argument(
        "--harmony", type=float, default=None, metavar="NATS",
        help="strength of the harmony mask: notes off the content's harmony lose this many "
        "nats (default 6; 0 turns it off, inf forbids them)",
    )  # fmt: skip
    p.add_argument(
        "--no-register", action="store_true",
        help="let parts leave the register (and drum kit) of the style example",
    )  # fmt: skip
    p.add_argument(
        "--lengths", type=float, default=None, metavar="NATS",
        help="strength of the note-length rule: notes of a length the style example does not "
        "play lose this many nats (default 2; 0 turns it off; duration-token models only)",
    )  # fmt: skip
    p.add_argument(
        "--rhythm", type=float, default=None, metavar="NATS",
        help="strength of the rhythm rule: notes struck where the style example never "
        "strikes in its bar lose this many nats (default 8; 0 turns it off)",
    )  # fmt: skip
    p.add_argument(
        "--no-dynamics", action="store_true",
        help="play the model's coarse velocity bins as they are, not at the style example's "
        "own velocities",
    )  # fmt: skip
    p.add_argument(
        "--no-feel", action="store_true",
        help="keep every note on the model's grid, not moved and lengthened as the style "
        "example plays at that place in the bar (its swing, push, note lengths and, when "
        "sampling, their spread)",
    )  # fmt: skip
    add_quiet_option(p)
    p.set_defaults(run=run)


class _Progress:
    """`transfer_score`'s progress callback as a bar of (segment, role) rows on stderr
    (on a terminal), made at the first report."""

    def __init__(self, show: bool):
        self.show, self.bar = show, None

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="row", desc="transferring", leave=False,
                            disable=None if self.show else True)  # fmt: skip
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def run(args: argparse.Namespace) -> int:
    out = midi_output(args.out)
    if args.render:
        check_audio_output(args.render)
    sampling = sampling_kwargs(args)
    roles = None
    if args.roles is not None:
        roles = csv_list(args.roles)
        if not roles:
            raise ConfigError(f"--roles names no role ({args.roles!r}); e.g. --roles bass,drums")
    check_not_inputs([out, args.render], existing(args.content, args.style, args.model))

    # transfer_score is `groove.transfer` returning a Score: its notes and tracks are
    # counted, and it is saved as it is (no round trip through pretty_midi).
    from groove import midi
    from groove.models.transfer.task import transfer_score
    from groove.tokenizers.grammar import HARMONY_STRENGTH, LENGTHS_STRENGTH, RHYTHM_STRENGTH

    progress = _Progress(not args.quiet)
    try:
        score = transfer_score(
            args.content,
            args.style,
            args.model,
            roles=roles,
            **sampling,
            keep_melody=args.keep_melody,
            harmony=HARMONY_STRENGTH if args.harmony is None else args.harmony,
            register=not args.no_register,
            lengths=LENGTHS_STRENGTH if args.lengths is None else args.lengths,
            rhythm=RHYTHM_STRENGTH if args.rhythm is None else args.rhythm,
            dynamics=not args.no_dynamics,
            feel=not args.no_feel,
            progress=progress,
        )
    finally:
        progress.close()
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
