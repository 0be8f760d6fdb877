/* kvverify: the command-line front end.  Thin: each subcommand (tools/cmd_*.c)
 * parses its arguments, asks oracle/ to do the work and reports/ to print it. */
#include <stdio.h>
#include <string.h>

#include "tools/cli.h"

void cli_usage(FILE *out)
{
    fprintf(out,
            "usage: kvverify <command> [options]\n"
            "\n"
            "commands:\n"
            "  run              run cases against the reference (default list: the gate)\n"
            "  list types       the type table\n"
            "  list cases       the case names a run would use (takes run's filters)\n"
            "  list backends    backends of this build (with -b L: as probe)\n"
            "  probe -b L       each backend's description and the format version it stores each cache type\n"
            "                   in (a fork's TurboQuant types, read off its own dequantizer)\n"
            "  list devices     Vulkan devices (the index for --vk-device) and what they offer\n"
            "  list dims        the case parameters as dimensions: classes, which op has which, what cannot combine\n"
            "  list coverage [--gate|--full] [--device] [-v]\n"
            "                   per pair (and marked triple) of dimensions: combinations possible and covered\n"
            "  tables           shipped centroid tables against Lloyd-Max on the Beta and Gaussian densities\n"
            "  bench [-b L] [--threads N] [--reps N] [--vk-device N] [--json F]\n"
            "                   throughput of backends and the reference, each backend also relative to the\n"
            "                   first (a program, not a test)\n"
            "  compare BASELINE CURRENT [--factor F] [--floor R] [--list N]\n"
            "                   per-case error ratios of a run (ratios.tsv or results.jsonl) against a\n"
            "                   baseline: exit 1 when a ratio grew more than F times (default 2; ratios\n"
            "                   under R = 0.01 count as R) or a case newly fails\n"
            "  version          version and commit\n"
            "  fuzz [--time S] [-b B] [--seed N] [-o OPS] [--out DIR]\n"
            "                   random cases; failures shrunk into replayable case files (fuzz --help)\n"
            "  ppl --model FILE|probe|hybrid --kv K/V|all [-b B] [--text F] [--ctx N] [--chunk N]\n"
            "                   PPL and KL divergence of a model with K/V in a backend's cache against its f64 run\n"
            "  ppl --bounds     measure the table of the end-to-end gate (corpora/ppl_bounds.tsv)\n"
            "  mkmodel -o FILE [--hybrid] [--seed N] [--head-dim D] [--wtype T]\n"
            "                   write the probe model as GGUF\n"
            "  replay FILE.h5 [-b L] [-p P]\n"
            "                   rerun the cases of a dump from their stored inputs; exit status as run\n"
            "  diff A.h5 B.h5   compare two dumps; names the first stage where each case diverges\n"
            "  bisect --good REV --bad REV [--fixed] [-C DIR] [--build CMD] [--plugin LIB | -b BACKEND | --exe PATH]\n"
            "         [--tree full|none|DIRS] [--rule R[,R]] [-p P] [-- RUN-ARGS]\n"
            "                   git bisect run, in a temporary clone, over a repository (a work tree or a bare\n"
            "                   git directory) whose build makes a backend; --fixed finds the commit that fixed\n"
            "                   the cases (they fail at the older --bad, pass at --good); prints the\n"
            "                   first bad commit and its failing case; --rule: only failures by these rules\n"
            "                   count (a case that went from one failure to another, e.g. format to crash)\n"
            "  help COMMAND     a command's options (also kvverify COMMAND --help); --version\n"
            "\n");
    cli_run_options(out);
}

void cli_run_options(FILE *out)
{
    fprintf(out,
            "run options:\n"
            "  --gate            the default gate (what `make verify` runs)\n"
            "  --full            the full nightly matrix\n"
            "  --cases FILE      case names from a file, one per line ('-' = stdin)\n"
            "  --rerun-failed F  the cases that failed in a report (results.jsonl or ratios.tsv), on the\n"
            "                    backends they failed on (or those of -b)\n"
            "  --corpus DIR      stored cases --gate and --full replay too (default corpora;\n"
            "                    folders named known-failures are left out)\n"
            "  --no-corpus       replay no stored cases\n"
            "  -o, --op LIST     ops: quant,dequant,wht,attn,ppl\n"
            "  -b, --backend L   backends: cpu, vulkan, ggml-cpu, ggml-vulkan (a real ggml through the adapter),\n"
            "                    or a backend library path; options follow a ':' (default: cpu; with --gate\n"
            "                    or --full, plus vulkan when a Vulkan device is found)\n"
            "  --vk-device N     Vulkan device index (see `list devices`; also KVV_VK_DEVICE)\n"
            "  -p, --pattern L   case-name substrings or globs; a full case name runs that case\n"
            "                    (lists are comma-separated; a list option given twice adds to the list)\n"
            "  --head-dim LIST   head dims (dk or dk/dv), e.g. 128,576/512\n"
            "  --kv LIST         K/V type pairs, e.g. q8_0/turbo3,*/turbo4\n"
            "  --toggle LIST     only cases with these toggle values, e.g. cache=on,split=4\n"
            "  --set LIST        override fields in every case, e.g. threads=2,dist=outlier\n"
            "  --seed N          derive every case's seed from N (0 = the seeds in the names)\n"
            "  -j, --jobs N      isolated worker processes (default: number of CPUs)\n"
            "  --timeout S       seconds per case and backend before it counts as hung (default 120)\n"
            "  --no-isolate      run in this process (for debuggers; a crash ends the run)\n"
            "  --strict          skipped cases count as failures\n"
            "  --fail-fast       stop at the first failure\n"
            "  --guard           a PROT_NONE page right after every buffer a backend writes: the first\n"
            "                    access past the end stops it (guard zones are checked in any case)\n"
            "  -v, --verbose     a line per case\n"
            "  --json FILE       JSON lines: one object per case, flushed as it finishes ('-' = stdout)\n"
            "  --junit FILE      JUnit XML, a testcase per case\n"
            "  --markdown FILE   Markdown summary\n"
            "  --html FILE       self-contained HTML report with heatmaps and a section per failure\n"
            "  --ratios FILE     per-case error ratios (TSV), the baseline format of `compare`\n"
            "  --report-dir DIR  all of them into DIR (results.jsonl, junit.xml, summary.md,\n"
            "                    report.html, ratios.tsv)\n"
            "  --dump FILE       write the failing cases' tensors to an HDF5 file (README: HDF5 dumps)\n"
            "  --dump-all        ... every case, not only failing ones\n"
            "  --listed-formats  run generated cases in the format versions they name, not the ones a\n"
            "                    library backend stores (by default turbo3 runs as turbo3@qk128 on a build\n"
            "                    that stores it so)\n"
            "exit status: 0 when every case passes, 1 when any fails or the run was interrupted (SIGINT,\n"
            "SIGTERM), 2 on bad usage (README: Exit status)\n");
}


static const struct {
    const char *name;
    int (*fn)(int argc, char **argv);
} commands[] = {
    {"run", cmd_run}, {"list", cmd_list}, {"bench", cmd_bench}, {"tables", cmd_tables}, {"probe", cmd_probe}, {"version", cmd_version},
    {"fuzz", cmd_fuzz},
    {"compare", cmd_compare},
    {"ppl", cmd_ppl}, {"mkmodel", cmd_mkmodel},
    {"replay", cmd_replay}, {"diff", cmd_diff}, {"bisect", cmd_bisect}, {"bisect-step", cmd_bisect_step},
};

int main(int argc, char **argv)
{
    if (argc < 2) {
        cli_usage(stderr);
        return EXIT_USAGE;
    }
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].fn(argc - 1, argv + 1);
    if (!strcmp(argv[1], "--version"))
        return cmd_version(1, argv + 1);
    if (!strcmp(argv[1], "help") && argc > 2 && strcmp(argv[2], "--help") && strcmp(argv[2], "-h")) {
        /* `help CMD` is `CMD --help` */
        char *args[] = {argv[2], "--help", NULL};
        for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
            if (!strcmp(argv[2], commands[i].name))
                return commands[i].fn(2, args);
        fprintf(stderr, "kvverify: help: unknown command '%s'\n", argv[2]);
        return EXIT_USAGE;
    }
    if (!strcmp(argv[1], "help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        cli_usage(stdout);
        return 0;
    }
    fprintf(stderr, "kvverify: unknown command '%s'\n", argv[1]);
    cli_usage(stderr);
    return EXIT_USAGE;
}
