"""What the end-to-end tests share: TAP-style reporting (one line per
check, details under a failure, a summary line at the end) and the
command line every script takes (--build, --backend)."""

import argparse
import fnmatch


class Report:
    def __init__(self, name):
        self.name = name
        self.count = self.failures = 0

    def check(self, ok, title, *detail):
        self.count += 1
        print(f"{'ok' if ok else 'not ok'} {self.count} - {title}")
        if not ok:
            self.failures += 1
            for d in detail:
                print(f"#   {d}")

    def run_check(self, problems, title, output, tail):
        """A check of one run: passed when `problems` (what is wrong
        with it) is empty, else the problems and the last `tail` lines of
        its output."""
        self.check(not problems, title, *problems,
                   *(f"| {line}" for line in output[-tail:]))

    def finish(self):
        print(f"# {self.name}: {self.count - self.failures} passed, "
              f"{self.failures} failed, {self.count} total")
        return 1 if self.failures else 0


def arguments(doc, backends):
    """Parses the command line of a script whose checks run on `backends`.
    --backend (repeatable, shell patterns) limits them; the result's
    `wants(name)` says whether a backend was chosen."""
    parser = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default="build",
                        help="the build directory (default: build)")
    parser.add_argument("--backend", action="append", default=[],
                        metavar="NAME",
                        help="run only the checks of this backend (may be "
                             "repeated; shell patterns such as 'nested-*'). "
                             f"Backends here: {', '.join(backends)}")
    parser.add_argument("--jobs", type=int, default=None,
                        help="runs at once, where the script runs several")
    args = parser.parse_args()
    args.wants = lambda name: not args.backend or any(
        fnmatch.fnmatchcase(name, p) for p in args.backend)
    chosen = [b for b in backends if args.wants(b)]
    if not chosen:
        print(f"# none of this script's backends ({', '.join(backends)}) "
              f"matches --backend {' '.join(args.backend)}: nothing to run")
    return args
