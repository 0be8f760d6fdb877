/* Helpers shared by the subcommands. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "oracle/oracle.h"
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

int cli_split_backends(const char *list, char *store, size_t n, const char **names)
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
