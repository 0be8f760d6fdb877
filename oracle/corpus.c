/* Case files and the stored corpus (corpora/): shrunk fuzz finds and
 * regression cases, replayed by the gate. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "oracle/cases.h"

#define LINE_MAX_LEN 1024
#define KNOWN_FAILURES "known-failures"

int kvv_case_file_load(const char *path, kvv_case_list *l, char *why, size_t n)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
    if (!f) {
        snprintf(why, n, "cannot open case file %s: %s", path, strerror(errno));
        return -1;
    }
    kvv_case_list got = {0};
    char line[LINE_MAX_LEN];
    int lineno = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        lineno++;
        size_t len = strlen(line);
        if (len == sizeof line - 1 && line[len - 1] != '\n' && !feof(f)) {
            snprintf(why, n, "%s:%d: line longer than %d characters", path, lineno, LINE_MAX_LEN - 2);
            rc = -1;
            break;
        }
        line[strcspn(line, "\r\n")] = 0;
        char *s = line + strspn(line, " \t");
        if (!*s || *s == '#')
            continue;
        for (char *e = s + strlen(s); e > s && (e[-1] == ' ' || e[-1] == '\t');)
            *--e = 0;
        kvv_case c;
        char err[200];
        if (kvv_case_parse(s, &c, err, sizeof err)) {
            snprintf(why, n, "%s:%d: %s", path, lineno, err);
            rc = -1;
        } else if (kvv_case_list_push(&got, &c)) {
            snprintf(why, n, "%s: out of memory", path);
            rc = -1;
        }
    }
    if (rc == 0 && ferror(f)) {
        snprintf(why, n, "%s: read error", path);
        rc = -1;
    }
    if (f != stdin)
        fclose(f);
    for (int i = 0; rc == 0 && i < got.n; i++)
        if (kvv_case_list_push(l, &got.items[i])) {
            snprintf(why, n, "%s: out of memory", path);
            rc = -1;
        }
    kvv_case_list_free(&got);
    return rc;
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

/* depth: folders nest at most this deep (also stops symlink loops) */
static int load_dir(const char *dir, int depth, kvv_case_list *l, char *why, size_t n)
{
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(why, n, "cannot read folder %s: %s", dir, strerror(errno));
        return -1;
    }
    char **names = NULL;
    size_t count = 0, cap = 0;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        if (count == cap) {
            cap = cap ? 2 * cap : 32;
            char **p = realloc(names, cap * sizeof *p);
            if (!p) {
                rc = -1;
                break;
            }
            names = p;
        }
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        if (!(names[count] = malloc(len))) {
            rc = -1;
            break;
        }
        snprintf(names[count++], len, "%s/%s", dir, e->d_name);
    }
    closedir(d);
    if (rc)
        snprintf(why, n, "out of memory listing %s", dir);
    else
        qsort(names, count, sizeof *names, by_name);
    int files = 0;
    for (size_t i = 0; i < count; i++) {
        struct stat st;
        const char *base = strrchr(names[i], '/') + 1;
        if (rc == 0 && stat(names[i], &st) == 0) {
            if (S_ISDIR(st.st_mode) && strcmp(base, KNOWN_FAILURES) && depth > 0) {
                int r = load_dir(names[i], depth - 1, l, why, n);
                if (r < 0)
                    rc = -1;
                else
                    files += r;
            } else if (S_ISREG(st.st_mode) && ends_with(base, ".cases")) {
                if (kvv_case_file_load(names[i], l, why, n))
                    rc = -1;
                else
                    files++;
            }
        }
        free(names[i]);
    }
    free(names);
    return rc ? -1 : files;
}

int kvv_corpus_load(const char *dir, kvv_case_list *l, char *why, size_t n)
{
    struct stat st;
    if (stat(dir, &st) != 0)
        return 0;
    if (!S_ISDIR(st.st_mode)) {
        snprintf(why, n, "corpus %s is not a folder", dir);
        return -1;
    }
    return load_dir(dir, 8, l, why, n);
}
