/* Replays the trace regression corpus (tests/trace_corpus) through what the
 * fuzzer runs, under ASan/UBSan: every file must be read without a crash. */
#include "fuzz_body.h"
#include "replay_main.h"

static void one(const uint8_t *data, size_t len)
{
    fuzz_one(data, len);
}

int main(int argc, char **argv)
{
    return replay_main(argc, argv, one);
}
