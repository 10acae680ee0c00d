"""python3 -m bufsan run [--key=value...] [--] COMMAND [ARGS...]
(the launcher, scripts/bufsan); also report/dump/--help. A COMMAND that is
a .py file runs with this interpreter."""
import os
import sys

from . import launcher_argv

USAGE = """usage: python3 -m bufsan run [--key=value...] [--] COMMAND|SCRIPT.py [ARGS...]
       python3 -m bufsan report|dump ...   (trace files)
       python3 -m bufsan --help            (lists the options)"""


def main(argv=None):
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        if not args:
            print(USAGE, file=sys.stderr)
            return 64
        print(USAGE)
        args = ["--help"]
        cmd, env = launcher_argv(args[:1])
        cmd.remove("--")
    elif args[0] in ("report", "dump"):
        cmd, env = launcher_argv()
        cmd = cmd[:2] + args
    else:
        if args[0] == "run":
            args = args[1:]
        flags = []
        while args and args[0].startswith("--") and args[0] != "--":
            flags.append(args.pop(0))
        if args and args[0] == "--":
            args.pop(0)
        if not args:
            print(USAGE, file=sys.stderr)
            return 64
        if args[0].endswith(".py") and os.path.isfile(args[0]):
            args.insert(0, sys.executable)
        try:
            cmd, env = launcher_argv(flags, args)
        except RuntimeError as e:
            print(e, file=sys.stderr)
            return 64
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(cmd[0], cmd, env)
    return 70


if __name__ == "__main__":
    sys.exit(main())
