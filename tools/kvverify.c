/* kvverify: the command-line front end.  Thin: it parses arguments, asks
 * oracle/ to do the work and reports/ to print it. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "oracle/oracle.h"
#include "reports/reports.h"
#ifdef KVV_HAVE_VULKAN
#include "kernels/vulkan/vk_backend.h"
#endif

#define EXIT_USAGE 2

static void usage(FILE *out)
{
    fprintf(out,
            "usage: kvverify <command> [options]\n"
            "\n"
            "commands:\n"
            "  run              run cases against the reference (default list: the gate)\n"
            "  list types       the type table\n"
            "  list cases       the case names a run would use (takes run's filters)\n"
            "  list backends    backends of this build\n"
            "  list devices     Vulkan devices (index for --vk-device) and what they offer\n"
            "  tables           shipped centroid tables against Lloyd-Max on the Beta and Gaussian densities\n"
            "  bench [-b L] [--threads N] [--reps N] [--vk-device N]\n"
            "                   throughput of backends and the reference (a program, not a test)\n"
            "  version          version and commit\n"
            "\n"
            "run options:\n"
            "  --gate            the default gate (what `make verify` runs)\n"
            "  --full            the full nightly matrix\n"
            "  --cases FILE      case names from a file, one per line ('-' = stdin)\n"
            "  -o, --op LIST     ops: quant,dequant,wht,attn\n"
            "  -b, --backend L   backends: cpu, vulkan, or a path to a backend library\n"
            "                    (default: cpu, plus vulkan when a Vulkan device is found)\n"
            "  --vk-device N     Vulkan device index (see `list devices`; also KVV_VK_DEVICE)\n"
            "  -p, --pattern L   case-name substrings or globs; a full case name runs that case\n"
            "  --head-dim LIST   head dims (dk or dk/dv), e.g. 128,576/512\n"
            "  --kv LIST         K/V type pairs, e.g. q8_0/turbo3,*/turbo4\n"
            "  --toggle LIST     only cases with these toggle values, e.g. cache=on,split=4\n"
            "  --set LIST        override fields in every case, e.g. threads=2,dist=outlier\n"
            "  --seed N          derive every case's seed from N (0 = the seeds in the names)\n"
            "  -j, --jobs N      isolated worker processes (default: number of CPUs)\n"
            "  --timeout S       seconds per case and backend before it counts as hung (default 120)\n"
            "  --no-isolate      run in this process (for debuggers; a crash ends the run)\n"
            "  --strict          skipped cases count as failures\n"
            "  -v, --verbose     a line per case\n"
            "exit status: 0 when every case passes, 1 when any fails, 2 on bad usage\n");
}

/* --vk-device N: which Vulkan device the backend opens (checked when it
 * opens; `list devices` shows the indices). */
static int select_vk_device(const char *arg)
{
    char *end;
    long n = strtol(arg, &end, 10);
    if (*end || !*arg || n < 0 || n > 255) {
        fprintf(stderr, "kvverify: --vk-device needs a device index (see `kvverify list devices`), not '%s'\n", arg);
        return -1;
    }
#ifdef KVV_HAVE_VULKAN
    char why[200];
    if (kvv_vulkan_select_device((int)n, why, sizeof why)) {
        fprintf(stderr, "kvverify: --vk-device: %s\n", why);
        return -1;
    }
    return 0;
#else
    fprintf(stderr, "kvverify: --vk-device: this kvverify was built without the Vulkan backend\n");
    return -1;
#endif
}

/* Without -b: cpu, plus vulkan when a device can be opened.  The probe runs
 * in a child process, so this process holds no Vulkan state when it forks
 * its workers.  One line says what was found. */
static const char *default_backends(void)
{
#ifdef KVV_HAVE_VULKAN
    char desc[512];
    if (kvv_vulkan_probe(desc, sizeof desc)) {
        printf("Vulkan: %s; running cpu and vulkan\n", desc);
        return "cpu,vulkan";
    }
    printf("Vulkan: no device (%s); running cpu only\n", desc);
#else
    printf("Vulkan: not built in (configure with libvulkan-dev and glslc installed); running cpu only\n");
#endif
    return "cpu";
}

/* With -b naming vulkan: one line on the device the workers will open. */
static void describe_vulkan(const char *list)
{
    char copy[1024], *save = NULL;
    snprintf(copy, sizeof copy, "%s", list);
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
        if (!strcmp(t, "vulkan")) {
#ifdef KVV_HAVE_VULKAN
            char desc[512];
            int ok = kvv_vulkan_probe(desc, sizeof desc);
            printf("Vulkan: %s%s\n", ok ? "" : "cannot open a device: ", desc);
#endif
            return;
        }
}

static int list_devices(void)
{
#ifdef KVV_HAVE_VULKAN
    char why[400];
    int n = kvv_vulkan_list_devices(stdout, why, sizeof why);
    if (n < 0) {
        printf("no Vulkan devices: %s\n", why);
        return 1;
    }
    if (n == 0)
        printf("no Vulkan devices: %s\n", why);
    return n > 0 ? 0 : 1;
#else
    printf("no Vulkan devices: this kvverify was built without the Vulkan backend\n");
    return 1;
#endif
}

typedef struct {
    kvv_filter f;
    const char *set, *cases_file, *backends;
    int full, jobs, verbose, strict, no_isolate, list_only, backends_given;
    double timeout;
    uint64_t seed;
} run_args;

static int parse_run_args(int argc, char **argv, run_args *a)
{
    enum { O_GATE = 256, O_FULL, O_CASES, O_HEAD, O_KV, O_TOGGLE, O_SET, O_SEED, O_TIMEOUT, O_NOISO, O_STRICT, O_VKDEV };
    static const struct option opts[] = {
        {"gate", no_argument, 0, O_GATE},       {"full", no_argument, 0, O_FULL},
        {"cases", required_argument, 0, O_CASES}, {"op", required_argument, 0, 'o'},
        {"backend", required_argument, 0, 'b'}, {"pattern", required_argument, 0, 'p'},
        {"head-dim", required_argument, 0, O_HEAD}, {"kv", required_argument, 0, O_KV},
        {"toggle", required_argument, 0, O_TOGGLE}, {"set", required_argument, 0, O_SET},
        {"seed", required_argument, 0, O_SEED}, {"jobs", required_argument, 0, 'j'},
        {"timeout", required_argument, 0, O_TIMEOUT}, {"no-isolate", no_argument, 0, O_NOISO},
        {"strict", no_argument, 0, O_STRICT},   {"verbose", no_argument, 0, 'v'},
        {"vk-device", required_argument, 0, O_VKDEV}, {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    memset(a, 0, sizeof *a);
    a->backends = "cpu";
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    a->jobs = ncpu > 0 ? (int)ncpu : 1;
    a->timeout = 120;
    optind = 1;
    int ch;
    char *end;
    while ((ch = getopt_long(argc, argv, "o:b:p:j:vh", opts, NULL)) != -1) {
        switch (ch) {
        case O_GATE: a->full = 0; break;
        case O_FULL: a->full = 1; break;
        case O_CASES: a->cases_file = optarg; break;
        case 'o': a->f.ops = optarg; break;
        case 'b': a->backends = optarg; a->backends_given = 1; break;
        case 'p': a->f.pattern = optarg; break;
        case O_HEAD: a->f.head_dims = optarg; break;
        case O_KV: a->f.kv = optarg; break;
        case O_TOGGLE: a->f.toggles = optarg; break;
        case O_SET: a->set = optarg; break;
        case O_SEED:
            a->seed = strtoull(optarg, &end, 10);
            if (*end || !*optarg || *optarg == '-') {
                fprintf(stderr, "kvverify: --seed needs a non-negative integer, not '%s'\n", optarg);
                return -1;
            }
            break;
        case 'j':
            a->jobs = (int)strtol(optarg, &end, 10);
            if (*end || a->jobs < 1 || a->jobs > 256) {
                fprintf(stderr, "kvverify: -j needs 1..256, not '%s'\n", optarg);
                return -1;
            }
            break;
        case O_TIMEOUT:
            a->timeout = strtod(optarg, &end);
            if (*end || !(a->timeout > 0)) {
                fprintf(stderr, "kvverify: --timeout needs a positive number of seconds, not '%s'\n", optarg);
                return -1;
            }
            break;
        case O_NOISO: a->no_isolate = 1; break;
        case O_STRICT: a->strict = 1; break;
        case O_VKDEV:
            if (select_vk_device(optarg))
                return -1;
            break;
        case 'v': a->verbose = 1; break;
        case 'h': usage(stdout); exit(0);
        default: return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "kvverify: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    char why[300];
    if (kvv_filter_check(&a->f, why, sizeof why)) {
        fprintf(stderr, "kvverify: %s\n", why);
        return -1;
    }
    return 0;
}

/* Seeds derived from --seed stay printable in the case name, so a failure
 * line still reruns exactly. */
static uint64_t mix_seed(uint64_t s, uint64_t base)
{
    uint64_t z = s * 0x9e3779b97f4a7c15ull ^ base;
    z = (z ^ (z >> 31)) * 0xbf58476d1ce4e5b9ull;
    return (z ^ (z >> 29)) % 1000000007ull;
}

static int load_cases_file(const char *path, kvv_case_list *l)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
    if (!f) {
        fprintf(stderr, "kvverify: cannot open case file %s\n", path);
        return -1;
    }
    char line[1024];
    int lineno = 0, rc = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        line[strcspn(line, "\r\n")] = 0;
        char *s = line + strspn(line, " \t");
        if (!*s || *s == '#')
            continue;
        kvv_case c;
        char why[200];
        if (kvv_case_parse(s, &c, why, sizeof why)) {
            fprintf(stderr, "kvverify: %s:%d: %s\n", path, lineno, why);
            rc = -1;
            break;
        }
        kvv_case_list_push(l, &c);
    }
    if (f != stdin)
        fclose(f);
    return rc;
}

/* Build the case list of a run: the base list, filters, overrides, seeds.
 * A pattern that is a full case name is run even if no list holds it. */
static int build_cases(const run_args *a, kvv_case_list *out)
{
    kvv_case_list base = {0};
    int rc = a->cases_file ? load_cases_file(a->cases_file, &base) : a->full ? kvv_full_cases(&base) : kvv_gate_cases(&base);
    if (rc)
        return -1;
    char why[300];
    for (int i = 0; i < base.n; i++) {
        kvv_case c = base.items[i];
        if (a->set && kvv_case_apply_set(&c, a->set, why, sizeof why)) {
            fprintf(stderr, "kvverify: %s\n", why);
            kvv_case_list_free(&base);
            return -1;
        }
        if (a->seed)
            c.seed = mix_seed(a->seed, c.seed);
        int m = kvv_filter_match(&a->f, &c, why, sizeof why);
        if (m < 0) {
            fprintf(stderr, "kvverify: %s\n", why);
            kvv_case_list_free(&base);
            return -1;
        }
        if (m)
            kvv_case_list_push(out, &c);
    }
    kvv_case_list_free(&base);
    if (out->n == 0 && a->f.pattern && !strpbrk(a->f.pattern, "*?[,")) {
        kvv_case c;
        if (kvv_case_parse(a->f.pattern, &c, why, sizeof why) == 0) {
            kvv_case_list_push(out, &c);
        } else if (strchr(a->f.pattern, '/') && strchr(a->f.pattern, '=')) {
            fprintf(stderr, "kvverify: no case matches '%s', and it is not a valid case name: %s\n", a->f.pattern, why);
            return -1;
        }
    }
    return 0;
}

static void machine_name(char *buf, size_t n)
{
    struct utsname u;
    char model[128] = "";
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[256];
        while (fgets(line, sizeof line, f))
            if (!strncmp(line, "model name", 10) && strchr(line, ':')) {
                snprintf(model, sizeof model, "%s", strchr(line, ':') + 2);
                model[strcspn(model, "\n")] = 0;
                break;
            }
        fclose(f);
    }
    if (uname(&u) == 0)
        snprintf(buf, n, "%s %s, %ld CPUs%s%s", u.nodename, u.machine, sysconf(_SC_NPROCESSORS_ONLN),
                 *model ? ", " : "", model);
    else
        snprintf(buf, n, "unknown machine");
}

static int split_backends(const char *list, char *store, size_t n, const char **names)
{
    snprintf(store, n, "%s", list);
    int k = 0;
    char *save = NULL;
    for (char *t = strtok_r(store, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (k == KVV_MAX_BACKENDS) {
            fprintf(stderr, "kvverify: at most %d backends in one run\n", KVV_MAX_BACKENDS);
            return -1;
        }
        names[k++] = t;
    }
    if (k == 0) {
        fprintf(stderr, "kvverify: -b needs at least one backend\n");
        return -1;
    }
    return k;
}

static int cmd_run(int argc, char **argv, int list_only)
{
    run_args a;
    if (parse_run_args(argc, argv, &a))
        return EXIT_USAGE;
    kvv_case_list cases = {0};
    if (build_cases(&a, &cases))
        return EXIT_USAGE;
    if (list_only) {
        char name[512];
        for (int i = 0; i < cases.n; i++) {
            kvv_case_name(&cases.items[i], name, sizeof name);
            printf("%s\n", name);
        }
        kvv_case_list_free(&cases);
        return 0;
    }
    if (cases.n == 0) {
        fprintf(stderr, "kvverify: no case matches the filters\n");
        kvv_case_list_free(&cases);
        return EXIT_USAGE;
    }
    char bstore[1024];
    const char *bnames[KVV_MAX_BACKENDS];
    if (!a.backends_given)
        a.backends = default_backends();
    else
        describe_vulkan(a.backends);
    int nb = split_backends(a.backends, bstore, sizeof bstore, bnames);
    if (nb < 0) {
        kvv_case_list_free(&cases);
        return EXIT_USAGE;
    }
    char machine[256], started[64], command[1024] = "";
    machine_name(machine, sizeof machine);
    time_t now = time(NULL);
    strftime(started, sizeof started, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    for (int i = 0; i < argc; i++)
        snprintf(command + strlen(command), sizeof command - strlen(command), "%s%s", i ? " " : "", argv[i]);
    kvv_run_info info = {KVV_VERSION, KVV_GIT_COMMIT, machine, started, command, nb, {0}, cases.n, a.seed};
    for (int i = 0; i < nb; i++)
        info.backends[i] = bnames[i];
    kvv_reporter *term = kvv_reporter_terminal(stdout, a.verbose);
    kvv_reporter *reps[] = {term};
    kvv_run_opts o = {bnames, nb, NULL, cases.items, cases.n, reps, 1, a.no_isolate ? 0 : a.jobs, a.timeout, &info};
    kvv_summary s;
    int failures = kvv_run(&o, &s);
    term->destroy(term);
    kvv_case_list_free(&cases);
    if (failures < 0) {
        fprintf(stderr, "kvverify: the run could not start\n");
        return 1;
    }
    if (s.interrupted)
        return 1;
    return failures > 0 || (a.strict && s.total.skip > 0) ? 1 : 0;
}

static int cmd_bench(int argc, char **argv)
{
    static const struct option opts[] = {{"backend", required_argument, 0, 'b'},
                                         {"threads", required_argument, 0, 't'},
                                         {"reps", required_argument, 0, 'r'},
                                         {"vk-device", required_argument, 0, 'd'},
                                         {0, 0, 0, 0}};
    const char *blist = "cpu";
    int threads = 1, reps = 5, ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "b:t:r:", opts, NULL)) != -1) {
        if (ch == 'b')
            blist = optarg;
        else if (ch == 't')
            threads = atoi(optarg);
        else if (ch == 'r')
            reps = atoi(optarg);
        else if (ch == 'd') {
            if (select_vk_device(optarg))
                return EXIT_USAGE;
        } else
            return EXIT_USAGE;
    }
    if (threads < 1 || threads > 256 || reps < 1 || reps > 1000) {
        fprintf(stderr, "kvverify bench: --threads 1..256, --reps 1..1000\n");
        return EXIT_USAGE;
    }
    char store[1024], why[300];
    const char *names[KVV_MAX_BACKENDS];
    const kvv_backend *bk[KVV_MAX_BACKENDS];
    int nb = split_backends(blist, store, sizeof store, names);
    if (nb < 0)
        return EXIT_USAGE;
    for (int i = 0; i < nb; i++)
        if (!(bk[i] = kvv_backend_open(names[i], why, sizeof why))) {
            fprintf(stderr, "kvverify bench: backend %s: %s\n", names[i], why);
            return 1;
        }
    return kvv_bench(stdout, bk, names, nb, threads, reps) ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "run"))
        return cmd_run(argc - 1, argv + 1, 0);
    if (!strcmp(cmd, "list")) {
        const char *what = argc > 2 ? argv[2] : "";
        if (!strcmp(what, "types")) {
            kvv_print_types(stdout);
            return 0;
        }
        if (!strcmp(what, "cases"))
            return cmd_run(argc - 2, argv + 2, 1);
        if (!strcmp(what, "backends")) {
            printf("%s\n", kvv_backend_builtin_names());
            return 0;
        }
        if (!strcmp(what, "devices")) {
            if (argc > 4 && !strcmp(argv[3], "--vk-device") && select_vk_device(argv[4]))
                return EXIT_USAGE;
            return list_devices();
        }
        fprintf(stderr, "kvverify: list what? types, cases, backends, devices\n");
        return EXIT_USAGE;
    }
    if (!strcmp(cmd, "bench"))
        return cmd_bench(argc - 1, argv + 1);
    if (!strcmp(cmd, "tables"))
    {
        kvv_print_tables(stdout);
        return 0;
    }
    if (!strcmp(cmd, "version")) {
        printf("kvverify %s (commit %s)\n", KVV_VERSION, KVV_GIT_COMMIT);
        return 0;
    }
    if (!strcmp(cmd, "help") || !strcmp(cmd, "-h") || !strcmp(cmd, "--help")) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "kvverify: unknown command '%s'\n", cmd);
    usage(stderr);
    return EXIT_USAGE;
}
