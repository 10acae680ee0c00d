/* Replays the options and suppressions regression corpus
 * (tests/options_corpus) through what the fuzzer runs, under ASan/UBSan:
 * every input must give 0 or one error line, never a crash. */
#include "fuzz_options_body.h"
#include "replay_main.h"

int main(int argc, char **argv)
{
    return replay_main(argc, argv, fuzz_options_one);
}
