/* What the machine has: its processors (the runner sizes its worker
 * threads by them; the benchmark names them); and where this program is. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "proc/proc.h"

int kvv_cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 256 ? 256 : (int)n;
}

void kvv_cpu_model(char *buf, size_t n)
{
    snprintf(buf, n, "unknown CPU");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[256];
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "model name", 10) && strchr(line, ':')) {
            char *p = strchr(line, ':') + 1;
            while (*p == ' ' || *p == '\t')
                p++;
            p[strcspn(p, "\n")] = 0;
            snprintf(buf, n, "%s", p);
            break;
        }
    fclose(f);
}

int kvv_self_exe(char *buf, size_t n)
{
    if (!n)
        return -1;
    buf[0] = 0;
    ssize_t len = readlink("/proc/self/exe", buf, n);
    if (len <= 0 || (size_t)len >= n) { /* unreadable, or cut short */
        buf[0] = 0;
        return -1;
    }
    buf[len] = 0;
    return 0;
}

int kvv_beside_self(const char *name, char *buf, size_t n)
{
    char exe[4096];
    if (kvv_self_exe(exe, sizeof exe)) {
        if (n)
            buf[0] = 0;
        return -1;
    }
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = 0;
    int w = snprintf(buf, n, "%s/%s", slash ? exe : ".", name);
    if (w < 0 || (size_t)w >= n) {
        if (n)
            buf[0] = 0;
        return -1;
    }
    return 0;
}
