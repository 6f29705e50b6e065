// Small files read and written whole (see small_file.h).
#include "allocator/pal/small_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

namespace hakmem {

int64_t read_small_file(const char* path, char* buf, size_t cap) {
  if (cap == 0) {
    errno = EINVAL;
    return -1;
  }
  const int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  size_t n = 0;
  for (;;) {
    const ssize_t got = read(fd, buf + n, cap - 1 - n);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      const int saved = errno;
      close(fd);
      errno = saved;
      return -1;
    }
    if (got == 0) break;
    n += static_cast<size_t>(got);
    if (n == cap - 1) {
      char extra;
      const ssize_t more = read(fd, &extra, 1);
      close(fd);
      if (more != 0) {
        errno = EFBIG;
        return -1;
      }
      buf[n] = '\0';
      return static_cast<int64_t>(n);
    }
  }
  close(fd);
  buf[n] = '\0';
  return static_cast<int64_t>(n);
}

bool write_small_file(const char* path, const char* data, size_t n) {
  char tmp[4096];
  if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= static_cast<int>(sizeof tmp)) {
    errno = ENAMETOOLONG;
    return false;
  }
  const int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  size_t done = 0;
  while (done < n) {
    const ssize_t wrote = write(fd, data + done, n - done);
    if (wrote < 0 && errno == EINTR) continue;
    if (wrote <= 0) {
      const int saved = wrote < 0 ? errno : EIO;
      close(fd);
      unlink(tmp);
      errno = saved;
      return false;
    }
    done += static_cast<size_t>(wrote);
  }
  if (close(fd) != 0 || rename(tmp, path) != 0) {
    const int saved = errno;
    unlink(tmp);
    errno = saved;
    return false;
  }
  return true;
}

}  // namespace hakmem
