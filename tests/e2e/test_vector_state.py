"""Hashing a watched export must leave the processor's vector registers clean
(src/intercept/hash.c): libxxhash's AVX-512 code returns with the upper
halves of the vector registers in use, and every legacy-SSE instruction of
the program after it (OpenSSL's SHA-256: 18% slower) pays for merging them.
A reader exports a 64 KiB bytearray (hashed whole) under bufsan; right after
the export, XGETBV(1) must show neither the YMM (bit 2) nor the ZMM (bit 6)
upper halves in use. Skipped (77) where XGETBV(1) cannot be read.

    test_vector_state.py BUILD_DIR PYTHON"""
import os
import subprocess
import sys

PROG = r'''
import _bufsan_mutators as m
b = bytearray(65536)
states = [m.vector_state_after_export(b) for _ in range(20)]
print("none" if states[0] is None else max(s & 0x44 for s in states))
'''


def main():
    build, python = sys.argv[1], sys.argv[2]
    env = dict(os.environ, PYTHONPATH=os.path.join(build, "tests", "ext"),
               LD_PRELOAD=os.path.join(build, "lib", "libbufsan.so"),
               BUFSAN_OPTIONS="exitcode=0")
    r = subprocess.run([python, "-c", PROG], env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        print(r.stdout, r.stderr)
        return 1
    out = r.stdout.strip()
    if out == "none":
        print("XGETBV(1) not available: skipped")
        return 77
    dirty = int(out)
    print("upper-half state in use after the export: %#x" % dirty)
    return 1 if dirty else 0


if __name__ == "__main__":
    sys.exit(main())
