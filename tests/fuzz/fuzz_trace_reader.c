/* libFuzzer target for the trace reader (+ replay through the engine).
 * Build: CC=clang cmake -S . -B build-fuzz -DBUFSAN_FUZZ=ON
 *        cmake --build build-fuzz --target fuzz_trace_reader
 * Run:   build-fuzz/lib/fuzz_trace_reader -max_total_time=600 CORPUS_DIR tests/trace_corpus */
#include "fuzz_body.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_one(data, size);
    return 0;
}
