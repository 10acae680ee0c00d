/* libFuzzer target for the options parser (BUFSAN_OPTIONS) and the
 * suppressions parser; see fuzz_options_body.h for the input layout.
 * Build: CC=clang cmake -S . -B build-fuzz -DBUFSAN_FUZZ=ON
 *        cmake --build build-fuzz --target fuzz_options
 * Run:   build-fuzz/lib/fuzz_options -max_total_time=60 CORPUS_DIR tests/options_corpus */
#include "fuzz_options_body.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_options_one(data, size);
    return 0;
}
