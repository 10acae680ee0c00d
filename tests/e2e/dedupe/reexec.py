# The same leaking code run three times with new code objects each time:
# exec() of one source, or one source in three subinterpreters. bufsan
# reports it once, counted three times; a different line is another finding.
import sys

SRC = "import _bufsan_testext as t\nt.leak(b'0123456789')\n"
OTHER = "import _bufsan_testext as t\n\nt.leak(b'abc')\n"

if sys.argv[1] == "exec":
    for _ in range(3):
        exec(compile(SRC, "leaker.py", "exec"), {})
    exec(compile(OTHER, "leaker.py", "exec"), {})
else:
    import _xxsubinterpreters as interpreters
    for _ in range(3):
        sid = interpreters.create()
        interpreters.run_string(sid, SRC)
    sid = interpreters.create()
    interpreters.run_string(sid, OTHER)
print("reexec done")
