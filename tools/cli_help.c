/* `kvverify COMMAND --help` for the commands whose parsers keep no usage
 * text of their own (fuzz, ppl and mkmodel do); run's options are those of
 * the global usage (cli_run_options in tools/kvverify.c). */
#include <stdio.h>
#include <string.h>

#include "tools/cli.h"

static const struct {
    const char *name, *text;
} helps[] = {
    {"list",
     "usage: kvverify list types|cases|backends|devices\n"
     "  list types                    the type table\n"
     "  list cases [RUN OPTIONS]      the case names a run with these options would use (kvverify run --help)\n"
     "  list backends [-b L]          backends of this build; with -b L, what each stores (as kvverify probe)\n"
     "  list devices [--vk-device N]  Vulkan devices (the index for --vk-device) and what they offer\n"
     "exit status: 0; 1 when list devices finds no device; 2 on bad usage\n"},
    {"list devices",
     "usage: kvverify list devices [--vk-device N]\n"
     "  Vulkan devices (the index for --vk-device, also KVV_VK_DEVICE) and what they offer\n"
     "exit status: 0 when a device is found, 1 when none, 2 on bad usage\n"},
    {"probe",
     "usage: kvverify probe -b BACKEND[,BACKEND...]   (also kvverify list backends -b ...)\n"
     "  each backend's description and the format version it stores each cache type in (a fork's\n"
     "  TurboQuant types, read off its own dequantizer), and how it knows\n"
     "exit status: 0; 1 when a backend could not be asked; 2 on bad usage\n"},
    {"tables",
     "usage: kvverify tables\n"
     "  the shipped centroid tables against Lloyd-Max on the Beta and Gaussian densities\n"},
    {"version",
     "usage: kvverify version   (also kvverify --version)\n"
     "  the version and the commit it was built from\n"},
    {"bench",
     "usage: kvverify bench [-b BACKENDS] [--threads N] [--reps N] [--vk-device N] [--json FILE]\n"
     "  throughput of backends and the reference, each backend also relative to the first (a program,\n"
     "  not a test: README, Benchmark)\n"
     "  -b, --backend L   backends, comma-separated (default cpu; given twice, adds)\n"
     "  --threads N       threads of each backend (default 1)\n"
     "  --reps N          repetitions of each measurement (default 5)\n"
     "  --vk-device N     Vulkan device index (see kvverify list devices)\n"
     "  --json FILE       the numbers as JSON too (-: the JSON alone on stdout, the lines on stderr)\n"
     "  the backends run in a child process: what they print goes to stderr; one that crashes is named\n"
     "  with the call, and the bench runs again without it\n"
     "exit status: 0; 1 when a measurement failed or a backend crashed; 2 on bad usage, a backend that\n"
     "does not open, or a JSON report that could not be written in full\n"},
    {"compare",
     "usage: kvverify compare BASELINE CURRENT [--factor F] [--floor R] [--list N]\n"
     "  per-case error ratios of a run (ratios.tsv or results.jsonl) against a baseline\n"
     "  --factor F   a ratio that grew more than F times is a regression (default 2)\n"
     "  --floor R    ratios under R count as R (default 0.01)\n"
     "  --list N     print at most N regressions (default 50)\n"
     "exit status: 0; 1 when a ratio grew or a case newly fails; 2 on bad usage or an unreadable file\n"},
    {"replay",
     "usage: kvverify replay FILE.h5 [-b BACKENDS] [-p PATTERNS] [-j N] [--timeout S] [--no-isolate] [-v]\n"
     "                      [--guard] [--dump FILE [--dump-all]]\n"
     "  rerun the cases of a dump from their stored inputs, judged by the same rules, and say whether\n"
     "  each stored verdict is reproduced (README: HDF5 dumps, replay, diff and bisect)\n"
     "  -b, --backend L   every case on these backends (default: each on the backend it was stored from;\n"
     "                    either way each backend is opened once first, and one that cannot be is refused)\n"
     "  -p, --pattern L   only the cases whose names match (substrings or globs; given twice, adds)\n"
     "  -j, --jobs N      isolated worker processes (default: number of CPUs)\n"
     "  --timeout S       seconds per case and backend before it counts as hung (default 120)\n"
     "  --no-isolate      run in this process (for debuggers; a crash ends the replay)\n"
     "  -v, --verbose     a line per case, also for reproduced verdicts\n"
     "  --guard           a PROT_NONE page right after every buffer a backend writes (as run --guard)\n"
     "  --dump FILE       write the failing cases to a new dump (--dump-all: every case)\n"
     "exit status: as run: 0 when every case passes, 1 when any fails or the replay was interrupted,\n"
     "2 on bad usage or an unreadable dump\n"},
    {"diff",
     "usage: kvverify diff A.h5 B.h5\n"
     "  compare two dumps (two commits, backends or machines) case by case, and name the first stage\n"
     "  (inputs, quantize, dequantize, scores, softmax, output) where each case diverges\n"
     "exit status: 0 when every case agrees; 1 when a case differs or is in one file only; 2 on bad\n"
     "usage or an unreadable dump\n"},
    {"bisect",
     "usage: kvverify bisect --good REV --bad REV [--fixed] [-C DIR] [--build CMD]\n"
     "                      [--plugin LIB | -b BACKEND | --exe PATH] [--tree full|none|DIRS]\n"
     "                      [--rule R[,R]] [-p P] [-- RUN-ARGS]\n"
     "  git bisect run, in a temporary clone, over a repository (a work tree or a bare git directory)\n"
     "  whose build makes a backend; prints the first bad commit and its failing case\n"
     "  --good, --bad REV  the ends (with --fixed: the cases fail at the older --bad, pass at --good,\n"
     "                     and the commit that fixed them is found)\n"
     "  -C DIR             the repository (default .)\n"
     "  --build CMD        the build command at each commit (default: cmake, or make)\n"
     "  --plugin LIB       a library of the tree, run by this kvverify\n"
     "  -b BACKEND         a backend of this kvverify, e.g. ggml-cpu:dir=...\n"
     "  --exe PATH         the tree's own kvverify (default build/kvverify)\n"
     "  --tree full|none|DIRS  the files the temporary clone holds (default: full for a work tree,\n"
     "                     none for a bare git directory)\n"
     "  --rule R[,R]       only failures by these rules make a commit bad\n"
     "  -p P               the cases (patterns, as run -p)\n"
     "  -- RUN-ARGS        more options of kvverify run\n"
     "exit status: 0 when a first bad (or fixed) commit is found; 1 when not; 2 on bad usage\n"},
};

int cli_help(const char *name, FILE *out)
{
    if (!strcmp(name, "run") || !strcmp(name, "list cases")) {
        fprintf(out,
                "usage: kvverify %s [--gate|--full|--cases FILE|--rerun-failed FILE] [-o OPS] [-b BACKENDS]\n"
                "       [-p PATTERNS] [--head-dim LIST] [--kv K/V,...] [--toggle k=v,...] [--set k=v,...] ...\n"
                "  %s\n\n",
                name,
                !strcmp(name, "run") ? "run cases against the reference (default list: the gate)"
                                     : "the case names a run with these options would use, one a line");
        cli_run_options(out);
        return 0;
    }
    for (size_t i = 0; i < sizeof helps / sizeof *helps; i++)
        if (!strcmp(name, helps[i].name)) {
            fputs(helps[i].text, out);
            return 0;
        }
    return -1;
}

int cli_wants_help(int argc, char **argv)
{
    return argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"));
}
