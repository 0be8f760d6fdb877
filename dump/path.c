/* Where a dump may be written: the checks of a path a person names (made
 * before any work), and the lock that keeps two runs out of one file.
 *
 * The lock is an open file description lock (F_OFD_SETLK) on the .partial
 * file, held from its creation until it has been renamed into place:
 *  - not flock(): HDF5 takes flock() locks itself when it opens a file (a
 *    shared one to read), so an exclusive flock() would keep h5dump and
 *    kvverify from reading a long run's .partial file meanwhile; OFD locks
 *    and flock() locks do not see each other (on local file systems);
 *  - not a classic fcntl() lock: those go away when the process closes any
 *    descriptor of the file, and HDF5 opens and closes its own;
 *  - an OFD lock is shared by every process that inherits the descriptor,
 *    so forked children (the run's workers) close it (pthread_atfork): a
 *    worker that outlives a killed run must not keep the path locked.
 * The lock goes with the run: a run that is killed leaves its .partial
 * file unlocked, and the next run on the path overwrites it. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dump/dump.h"

static const char *kind_of(mode_t m)
{
    return S_ISDIR(m)    ? "a directory"
           : S_ISCHR(m)  ? "a character device"
           : S_ISBLK(m)  ? "a block device"
           : S_ISFIFO(m) ? "a FIFO"
           : S_ISSOCK(m) ? "a socket"
           : S_ISLNK(m)  ? "a symbolic link"
                         : "not a regular file";
}

int kvv_dump_check_path(const char *path, char *why, size_t n)
{
    struct stat sb;
    size_t len = strlen(path);
    if (len == 0 || path[len - 1] == '/') {
        snprintf(why, n, "'%s' is not a file name", path);
        return -1;
    }
    /* an existing target is replaced by a rename: only a regular file may
     * be (a link to one is replaced, not what it points to) */
    if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode)) {
        snprintf(why, n, "%s is %s, not a regular file: a dump replaces only a regular file", path,
                 kind_of(sb.st_mode));
        return -1;
    }
    char *partial = malloc(len + 9), *dir = malloc(len + 2);
    if (!partial || !dir) {
        free(partial);
        free(dir);
        snprintf(why, n, "out of memory");
        return -1;
    }
    snprintf(partial, len + 9, "%s.partial", path);
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, len + 2, ".");
    else if (slash == path)
        snprintf(dir, len + 2, "/");
    else
        snprintf(dir, len + 2, "%.*s", (int)(slash - path), path);
    int rc = -1;
    if (lstat(partial, &sb) == 0 && !S_ISREG(sb.st_mode))
        snprintf(why, n, "%s is %s, not a regular file: the dump is written there until the run ends", partial,
                 kind_of(sb.st_mode));
    else if (stat(dir, &sb) != 0)
        snprintf(why, n, "cannot write the dump %s: folder %s: %s", path, dir, strerror(errno));
    else if (!S_ISDIR(sb.st_mode))
        snprintf(why, n, "cannot write the dump %s: %s: %s", path, dir, strerror(ENOTDIR));
    else if (access(dir, W_OK | X_OK) != 0)
        snprintf(why, n, "cannot write the dump %s: folder %s: %s", path, dir, strerror(errno));
    else
        rc = 0;
    free(partial);
    free(dir);
    return rc;
}

/* The lock descriptors of this process, closed in forked children. */
#define MAX_LOCKS 16
static int lock_fds[MAX_LOCKS] = {-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1};
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void close_locks_in_child(void)
{
    for (int i = 0; i < MAX_LOCKS; i++)
        if (lock_fds[i] >= 0) {
            close(lock_fds[i]);
            lock_fds[i] = -1;
        }
}

static void install_atfork(void) { pthread_atfork(NULL, NULL, close_locks_in_child); }

int kvv_dump_lock(const char *path, const char *partial, char *why, size_t n)
{
    pthread_once(&atfork_once, install_atfork);
    /* a run that held the lock may rename the file away between our open
     * and our lock: then the lock is on its file, not on the path; retry */
    for (int tries = 0; tries < 8; tries++) {
        int fd = open(partial, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0666);
        if (fd < 0) {
            snprintf(why, n, "cannot create %s: %s", partial, strerror(errno));
            return -1;
        }
        struct flock l;
        memset(&l, 0, sizeof l);
        l.l_type = F_WRLCK;
        l.l_whence = SEEK_SET;
        if (fcntl(fd, F_OFD_SETLK, &l) != 0 && errno != EINVAL) { /* EINVAL: no OFD locks here; go unlocked */
            int e = errno;
            close(fd);
            if (e == EAGAIN || e == EACCES)
                snprintf(why, n,
                         "another kvverify run is writing %s (it holds %s): wait for it to end, or give another "
                         "--dump path",
                         path, partial);
            else
                snprintf(why, n, "cannot lock %s: %s", partial, strerror(e));
            return -1;
        }
        struct stat a, b;
        if (fstat(fd, &a) == 0 && stat(partial, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
            for (int i = 0; i < MAX_LOCKS; i++)
                if (lock_fds[i] < 0) {
                    lock_fds[i] = fd;
                    break;
                }
            return fd;
        }
        close(fd);
    }
    snprintf(why, n, "cannot lock %s: other runs keep replacing it", partial);
    return -1;
}

void kvv_dump_unlock(int fd)
{
    if (fd < 0)
        return;
    for (int i = 0; i < MAX_LOCKS; i++)
        if (lock_fds[i] == fd)
            lock_fds[i] = -1;
    close(fd);
}
