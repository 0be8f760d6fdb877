/* A strict JSON reader for tests (RFC 8259 grammar): validates a value and
 * reads top-level members of an object, so reports can be checked without
 * trusting the code that wrote them. */
#ifndef KVV_JSON_CHECK_H
#define KVV_JSON_CHECK_H

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static void jc_ws(const char **p)
{
    while (**p == ' ' || **p == '\t' || **p == '\n' || **p == '\r')
        (*p)++;
}

/* A string literal; its decoded text (ASCII escapes, \u below 0x80) into out. */
static int jc_string(const char **p, char *out, size_t n)
{
    size_t k = 0;
    if (**p != '"')
        return -1;
    (*p)++;
    for (;;) {
        unsigned char c = (unsigned char)**p;
        if (c == '"')
            break;
        if (c < 0x20)
            return -1; /* control characters must be escaped */
        if (c == '\\') {
            (*p)++;
            switch (**p) {
            case '"': c = '"'; break;
            case '\\': c = '\\'; break;
            case '/': c = '/'; break;
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case 'n': c = '\n'; break;
            case 'r': c = '\r'; break;
            case 't': c = '\t'; break;
            case 'u': {
                unsigned u = 0;
                for (int i = 1; i <= 4; i++) {
                    if (!isxdigit((unsigned char)(*p)[i]))
                        return -1;
                    char h = (*p)[i];
                    u = u * 16 + (unsigned)(isdigit((unsigned char)h) ? h - '0' : tolower(h) - 'a' + 10);
                }
                *p += 4;
                c = u < 0x80 ? (unsigned char)u : '?';
                break;
            }
            default: return -1;
            }
        }
        if (out && k + 1 < n)
            out[k++] = (char)c;
        (*p)++;
    }
    (*p)++;
    if (out && n)
        out[k] = 0;
    return 0;
}

static int jc_number(const char **p)
{
    const char *s = *p;
    if (**p == '-')
        (*p)++;
    if (**p == '0')
        (*p)++;
    else if (isdigit((unsigned char)**p))
        while (isdigit((unsigned char)**p))
            (*p)++;
    else
        return -1;
    if (**p == '.') {
        (*p)++;
        if (!isdigit((unsigned char)**p))
            return -1;
        while (isdigit((unsigned char)**p))
            (*p)++;
    }
    if (**p == 'e' || **p == 'E') {
        (*p)++;
        if (**p == '+' || **p == '-')
            (*p)++;
        if (!isdigit((unsigned char)**p))
            return -1;
        while (isdigit((unsigned char)**p))
            (*p)++;
    }
    return *p > s ? 0 : -1;
}

static int jc_value(const char **p, int depth)
{
    if (depth > 32)
        return -1;
    jc_ws(p);
    if (**p == '"')
        return jc_string(p, NULL, 0);
    if (**p == '{' || **p == '[') {
        char close = **p == '{' ? '}' : ']';
        int obj = close == '}';
        (*p)++;
        jc_ws(p);
        if (**p == close) {
            (*p)++;
            return 0;
        }
        for (;;) {
            if (obj) {
                jc_ws(p);
                if (jc_string(p, NULL, 0))
                    return -1;
                jc_ws(p);
                if (**p != ':')
                    return -1;
                (*p)++;
            }
            if (jc_value(p, depth + 1))
                return -1;
            jc_ws(p);
            if (**p == ',') {
                (*p)++;
                continue;
            }
            if (**p != close)
                return -1;
            (*p)++;
            return 0;
        }
    }
    static const char *const lit[] = {"true", "false", "null"};
    for (int i = 0; i < 3; i++)
        if (!strncmp(*p, lit[i], strlen(lit[i]))) {
            *p += strlen(lit[i]);
            return 0;
        }
    return jc_number(p);
}

/* Whether s is exactly one JSON object (and whitespace). */
static int jc_is_object(const char *s)
{
    const char *p = s;
    jc_ws(&p);
    if (*p != '{' || jc_value(&p, 0))
        return 0;
    jc_ws(&p);
    return *p == 0;
}

/* The raw text of top-level member `key` of an object (a string member
 * decoded, anything else as written) into out; 0 when found. */
static int jc_member(const char *s, const char *key, char *out, size_t n)
{
    const char *p = s;
    jc_ws(&p);
    if (*p++ != '{')
        return -1;
    for (;;) {
        char k[64];
        jc_ws(&p);
        if (jc_string(&p, k, sizeof k))
            return -1;
        jc_ws(&p);
        if (*p++ != ':')
            return -1;
        jc_ws(&p);
        if (!strcmp(k, key)) {
            if (*p == '"')
                return jc_string(&p, out, n);
            const char *v = p;
            if (jc_value(&p, 0))
                return -1;
            snprintf(out, n, "%.*s", (int)(p - v), v);
            return 0;
        }
        if (jc_value(&p, 0))
            return -1;
        jc_ws(&p);
        if (*p != ',')
            return -1;
        p++;
    }
}

#endif
