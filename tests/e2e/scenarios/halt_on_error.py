# E2E: options=halt_on_error=1 compare_output=0 halts=1
# halt_on_error=1: the program stops at the first error, with the error exit
# status; the leak it would have made next is never reached.
import sys
import _bufsan_testext as testext

exporter = testext.Exporter(8)
testext.release_twice_via_copy(exporter)  # BUG: release-unknown native=testext_release_twice_via_copy
sys.stdout.write("after halt\n")
testext.leak(b"never reached")
