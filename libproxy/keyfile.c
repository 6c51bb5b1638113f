/*
 * keyfile.c — reading an authkey file, the one way mpxd and the client library both do it.
 *
 * The file holds the key's bytes, less one trailing newline (and a carriage return before it).
 * Only a regular file is read: opening a FIFO or a device would block or read forever, so the
 * file is opened without waiting and checked before a byte is read.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

int mpx__keyfile_read(const char *path, uint8_t key[MPX__KEY_MAX + 1], size_t *len, unsigned *mode,
                      char *err, size_t errlen)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(err, errlen, "cannot read the authkey file %s: %s", path, strerror(errno));
        if (fd >= 0) close(fd);
        return MPX_ESYS;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        snprintf(err, errlen, "the authkey file %s is not a regular file", path);
        return MPX_EINVAL;
    }
    size_t n = 0;
    while (n < MPX__KEY_MAX + 1) {
        ssize_t got = read(fd, key + n, MPX__KEY_MAX + 1 - n);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
            snprintf(err, errlen, "cannot read the authkey file %s: %s", path, strerror(errno));
            close(fd);
            return MPX_ESYS;
        }
        if (got == 0) break;
        n += (size_t)got;
    }
    close(fd);
    if (n > 0 && key[n - 1] == '\n') n--;
    if (n > 0 && key[n - 1] == '\r') n--;
    if (n == 0 || n > MPX__KEY_MAX) {
        snprintf(err, errlen, "the authkey file %s must hold 1 to %d bytes", path, MPX__KEY_MAX);
        return MPX_EINVAL;
    }
    *len = n;
    if (mode) *mode = st.st_mode & 0777;
    return 0;
}
