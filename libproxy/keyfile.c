/*
 * keyfile.c — reading an authkey file, the one way mpxd and the client library both do it.
 *
 * Two forms, told apart by the file's first bytes (docs/operating.md, "The authkey"): a file
 * that starts with "mpxkey:" holds the key in hex after it, then at most one newline, which is
 * the form mpxd writes; any other file is the key itself, every byte of it, a final newline
 * included, so that a binary key is never cut short. Only a regular file is read: opening a FIFO or
 * a device would block or read forever, so the file is opened without waiting and checked before a
 * byte is read.
 */
#include <errno.h>
#include <sodium.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

/* The hex form: "mpxkey:", 2 to 2 * MPX__KEY_MAX hex digits, at most one newline. buf holds
 * the file's n bytes and gets the key. */
static int hex_key(const char *path, uint8_t *buf, size_t n, size_t *len, char *err, size_t errlen)
{
    uint8_t bin[MPX__KEY_MAX];
    const char *hex = (const char *)buf + MPX__KEY_PREFIX_LEN, *end = NULL;
    size_t digits = n - MPX__KEY_PREFIX_LEN, bin_len = 0;
    if (digits > 0 && hex[digits - 1] == '\n') digits--;
    bool ok = digits >= 2 && digits % 2 == 0 && digits / 2 <= MPX__KEY_MAX &&
              sodium_hex2bin(bin, sizeof bin, hex, digits, NULL, &bin_len, &end) == 0 &&
              end == hex + digits;
    if (ok) memcpy(buf, bin, bin_len);
    sodium_memzero(bin, sizeof bin);
    if (!ok) {
        snprintf(err, errlen,
                 "the authkey file %s starts with \"" MPX__KEY_PREFIX "\" but is not followed by "
                 "2 to %d hex digits and at most one newline",
                 path, 2 * MPX__KEY_MAX);
        return MPX_EINVAL;
    }
    *len = bin_len;
    return 0;
}

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
    if (n >= MPX__KEY_PREFIX_LEN && memcmp(key, MPX__KEY_PREFIX, MPX__KEY_PREFIX_LEN) == 0) {
        if (mode) *mode = st.st_mode & 0777;
        return hex_key(path, key, n, len, err, errlen);
    }
    if (n == 0 || n > MPX__KEY_MAX) {
        snprintf(err, errlen, "the authkey file %s must hold 1 to %d bytes", path, MPX__KEY_MAX);
        return MPX_EINVAL;
    }
    *len = n;
    if (mode) *mode = st.st_mode & 0777;
    return 0;
}
