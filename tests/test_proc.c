/* proc/: a child answering on a pipe (kvv_proc_fork_pipe, write_all, reap)
 * and programs run with their output sent, captured or filtered. */
#include <fcntl.h>

#include "proc/proc.h"
#include "tests/harness.h"

static void test_fork_pipe(void)
{
    int fd = -1;
    pid_t pid = kvv_proc_fork_pipe(&fd, KVV_PROC_DIE_WITH_PARENT);
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        static char big[1 << 18]; /* more than a pipe holds: written in parts */
        memset(big, 'x', sizeof big);
        kvv_proc_write_all(fd, big, sizeof big);
        _exit(7);
    }
    size_t got = 0, xs = 0;
    char buf[4096];
    ssize_t r;
    while ((r = read(fd, buf, sizeof buf)) > 0) {
        got += (size_t)r;
        for (ssize_t i = 0; i < r; i++)
            xs += buf[i] == 'x';
    }
    close(fd);
    CU_ASSERT_EQUAL(got, (size_t)1 << 18);
    CU_ASSERT_EQUAL(xs, got);
    int st = kvv_proc_reap(pid);
    CU_ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 7);
    CU_ASSERT_EQUAL(kvv_proc_reap(pid), -1); /* reaped already */
    /* the write end is closed in the parent: a child that exits at once
     * gives end of file, not a hang */
    pid = kvv_proc_fork_pipe(&fd, 0);
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0)
        _exit(0);
    CU_ASSERT_EQUAL(read(fd, buf, sizeof buf), 0);
    close(fd);
    CU_ASSERT_TRUE(WIFEXITED(kvv_proc_reap(pid)));
}

static void test_programs(void)
{
    char out[64];
    char *echo[] = {"sh", "-c", "echo hello; echo noise >&2; exit 3", NULL};
    CU_ASSERT_EQUAL(kvv_proc_capture(echo, out, sizeof out), 3);
    CU_ASSERT_STRING_EQUAL(out, "hello"); /* stdout only, trailing newline removed */
    char small[4];
    CU_ASSERT_EQUAL(kvv_proc_capture(echo, small, sizeof small), 3);
    CU_ASSERT_STRING_EQUAL(small, "hel");
    char *killed[] = {"sh", "-c", "kill -TERM $$", NULL};
    CU_ASSERT_EQUAL(kvv_proc_run(killed, -1), 128 + SIGTERM);
    char *missing[] = {"/nonexistent/program", NULL};
    CU_ASSERT_EQUAL(kvv_proc_capture(missing, out, sizeof out), 127);
    /* run: both streams to the descriptor */
    const char *path = scratch_path("kvv-proc", "run.log");
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_EQUAL(kvv_proc_run(echo, fd), 3);
    close(fd);
    char text[256];
    CU_ASSERT_STRING_EQUAL(cli_slurp(path, text, sizeof text), "hello\nnoise\n");
    /* filter: every line to the log, the prefixed ones to out */
    char *lines[] = {"sh", "-c", "echo 'step: one'; echo other; echo 'step: two' >&2", NULL};
    FILE *log = tmpfile(), *sel = tmpfile();
    CU_ASSERT_FATAL(log && sel);
    CU_ASSERT_EQUAL(kvv_proc_filter(lines, log, "step: ", sel), 0);
    rewind(log);
    rewind(sel);
    size_t nl = fread(text, 1, sizeof text - 1, log);
    text[nl] = 0;
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "other\n"));
    nl = fread(text, 1, sizeof text - 1, sel);
    text[nl] = 0;
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "step: one\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "step: two\n"));
    CU_ASSERT_PTR_NULL(strstr(text, "other"));
    fclose(log);
    fclose(sel);
}

void kvv_register_tests(void)
{
    static const kvv_test tests[] = {{"a child answering on a pipe", test_fork_pipe},
                                     {"programs: run, capture, filter; exit statuses", test_programs},
                                     {NULL, NULL}};
    kvv_add_suite("proc", tests);
}
