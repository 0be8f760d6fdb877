/* A step's run log read back: its failing cases (by rule) and whether any
 * case ran at all (the step's classification, the driver's report). */
#include <stdio.h>
#include <string.h>

#include "bisect/bisect.h"

/* Append src to the string in dst (of n bytes), cut to fit. */
static void append(char *dst, size_t n, const char *src)
{
    size_t k = strlen(dst), m = strlen(src);
    if (k + 1 >= n)
        return;
    if (m > n - 1 - k)
        m = n - 1 - k;
    memcpy(dst + k, src, m);
    dst[k + m] = 0;
}

int kvv_bisect_ran_none(const char *log)
{
    FILE *f = fopen(log, "r");
    char line[2048];
    int none = 0;
    long checks, pass, fail, skip;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "%ld checks: %ld passed, %ld failed, %ld skipped", &checks, &pass, &fail, &skip) == 4)
            none = pass == 0 && fail == 0;
    if (f)
        fclose(f);
    return none;
}

/* Whether a "[rule] detail" line names one of the rules (NULL: any) */
static int line_has_rule(const char *line, const char *rules)
{
    if (!rules)
        return 1;
    line += strspn(line, " \t");
    if (*line != '[')
        return 0;
    size_t len = strcspn(line + 1, "]");
    for (const char *r = rules; *r;) {
        size_t k = strcspn(r, ",");
        if (k == len && !strncmp(r, line + 1, len))
            return 1;
        r += k + (r[k] == ',');
    }
    return 0;
}

int kvv_bisect_scan_failures(const char *log, const char *rules, char *first, size_t n)
{
    FILE *f = fopen(log, "r");
    int count = 0;
    if (first && n)
        first[0] = 0;
    if (!f)
        return 0;
    char line[2048], fail[2048] = "";
    int pending = 0; /* a FAIL line whose rule is on the next line */
    while (fgets(line, sizeof line, f)) {
        if (pending) {
            pending = 0;
            if (line_has_rule(line, rules)) {
                if (count == 0 && first) {
                    append(first, n, fail);
                    append(first, n, line);
                }
                count++;
            }
        }
        if (!strncmp(line, "FAIL ", 5)) {
            snprintf(fail, sizeof fail, "%s", line);
            pending = 1;
        }
    }
    if (pending && !rules) { /* a FAIL line the log ends on */
        if (count == 0 && first)
            append(first, n, fail);
        count++;
    }
    fclose(f);
    return count;
}
