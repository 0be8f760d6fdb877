/* Helpers shared by the subcommands. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "oracle/isolate.h"
#include "reports/reports.h"
#include "tools/cli.h"

void cli_machine_name(char *buf, size_t n)
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

int cli_list_check(const char *opt, const char *list)
{
    size_t len = strlen(list);
    if (strspn(list, ",") == len) {
        fprintf(stderr, "kvverify: %s: empty list '%s'\n", opt, list);
        return -1;
    }
    if (list[0] == ',' || list[len - 1] == ',' || strstr(list, ",,")) {
        fprintf(stderr, "kvverify: %s: empty item in the list '%s'\n", opt, list);
        return -1;
    }
    return 0;
}

int cli_list_add(const char *opt, const char *list, char *acc, size_t n)
{
    if (cli_list_check(opt, list))
        return -1;
    size_t have = strlen(acc);
    if (snprintf(acc + have, n - have, "%s%s", have ? "," : "", list) >= (int)(n - have)) {
        fprintf(stderr, "kvverify: %s: the list is longer than %zu characters\n", opt, n - 1);
        return -1;
    }
    return 0;
}

int cli_split_backends(const char *list, char *store, size_t n, const char **names)
{
    if (cli_list_check("-b", list))
        return -1;
    if (snprintf(store, n, "%s", list) >= (int)n) {
        fprintf(stderr, "kvverify: -b: the list is longer than %zu characters\n", n - 1);
        return -1;
    }
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


int cli_int(const char *opt, const char *text, long lo, long hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (!*text || *end || errno || v < lo || v > hi || *text == ' ') {
        fprintf(stderr, "kvverify: %s needs an integer in %ld..%ld, not '%s'\n", opt, lo, hi, text);
        return -1;
    }
    *out = (int)v;
    return 0;
}

int cli_u64(const char *opt, const char *text, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (!*text || *end || errno || *text == '-' || *text == '+' || *text == ' ') {
        fprintf(stderr, "kvverify: %s needs a non-negative integer below 2^64, not '%s'\n", opt, text);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_seconds(const char *opt, const char *text, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (!*text || *end || errno || !isfinite(v) || v < lo || v > hi) {
        fprintf(stderr, "kvverify: %s needs a number of seconds in %g..%g, not '%s'\n", opt, lo, hi, text);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_check_backend(const char *name, double seconds)
{
    /* Opened once in a throwaway child, never here: loading a library runs
     * its code, and a device backend starts driver threads that a fork
     * would not carry over; both belong in the isolated workers.  A backend
     * that cannot be opened is refused before any work, rather than failing
     * every case of the run one by one (or hanging in each). */
    char why[700];
    if (kvv_backend_try_open(name, seconds < CLI_OPEN_SECONDS ? seconds : CLI_OPEN_SECONDS, why, sizeof why) == 0)
        return 0;
    fprintf(stderr, "kvverify: backend %s: %s\n", name, why);
    return -1;
}

int cli_check_out_file(const char *opt, const char *path)
{
    struct stat sb;
    size_t len = strlen(path);
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else
        snprintf(dir, sizeof dir, "%.*s", slash == path ? 1 : (int)(slash - path), path);
    const char *why = NULL;
    if (len == 0 || path[len - 1] == '/')
        why = "not a file name";
    else if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
        why = strerror(EISDIR);
    else if (stat(dir, &sb) != 0 || access(dir, W_OK | X_OK) != 0) {
        fprintf(stderr, "kvverify: %s: cannot write %s: folder %s: %s\n", opt, path, dir, strerror(errno));
        return -1;
    } else if (!S_ISDIR(sb.st_mode))
        why = strerror(ENOTDIR);
    if (!why)
        return 0;
    fprintf(stderr, "kvverify: %s: cannot write %s: %s\n", opt, path, why);
    return -1;
}
