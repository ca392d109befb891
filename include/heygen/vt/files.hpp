// Files: a file read in chunks that notices a change; a download beside its final name.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace heygen {

/// A file could not be read, written or placed; the message names the file and says why.
class FileError : public std::runtime_error {
 public:
  /// `what` happened to `path`; `error_number` is the errno behind it (0 if none).
  FileError(std::string path, std::string_view what, int error_number = 0)
      : std::runtime_error(describe(path, what, error_number)), path_(std::move(path)), errno_(error_number) {}
  /// The file the error is about.
  [[nodiscard]] const std::string& path() const noexcept { return path_; }
  /// The errno behind the error, or 0.
  [[nodiscard]] int error_number() const noexcept { return errno_; }

 private:
  static std::string describe(const std::string& path, std::string_view what, int error_number) {
    std::string text = "heygen: ";
    text += path;
    text += ": ";
    text += what;
    if (error_number != 0) {
      text += " (";
      text += std::strerror(error_number);  // NOLINT(concurrency-mt-unsafe): messages for one errno are constant
      text += ")";
    }
    return text;
  }

  std::string path_;
  int errno_;
};

namespace files {

/// A file descriptor closed when it goes out of scope.
class Descriptor {
 public:
  /// Owns `fd` (-1: none).
  explicit Descriptor(int fd = -1) noexcept : fd_(fd) {}
  Descriptor(Descriptor&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Descriptor& operator=(Descriptor&& other) noexcept {
    if (this != &other) {
      close();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
  ~Descriptor() { close(); }

  /// The descriptor, or -1.
  [[nodiscard]] int get() const noexcept { return fd_; }
  /// Closes it now; the errno of a failed close (a write that never reached the disk), else 0.
  int close() noexcept {
    if (fd_ < 0) return 0;
    const int result = ::close(std::exchange(fd_, -1));
    return result == 0 ? 0 : errno;
  }

 private:
  int fd_;
};

/// A file to send, opened once, its size and modification time pinned: a change while it is sent is caught, not
/// sent half-old.
class SourceFile {
 public:
  /// Opens `path` for reading; throws FileError when it does not exist, is not a regular file, cannot be read, or
  /// is empty.
  static SourceFile open(const std::string& path) {
    Descriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));  // NOLINT(cppcoreguidelines-pro-type-vararg)
    if (fd.get() < 0) throw FileError(path, "cannot open the file", errno);
    struct stat info {};
    if (::fstat(fd.get(), &info) != 0) throw FileError(path, "cannot read the file's size", errno);
    if (S_ISDIR(info.st_mode)) throw FileError(path, "is a directory, not a file");
    if (!S_ISREG(info.st_mode)) throw FileError(path, "is not a regular file");
    if (info.st_size == 0) throw FileError(path, "is empty");
    return {path, std::move(fd), info};
  }

  /// The path it was opened by.
  [[nodiscard]] const std::string& path() const noexcept { return path_; }
  /// Its size when opened.
  [[nodiscard]] std::uint64_t size() const noexcept { return static_cast<std::uint64_t>(opened_.st_size); }

  /// Up to `capacity` bytes from `offset` into `out`; 0 when it cannot (a read error, or the file is shorter than
  /// it was: it changed), with the reason in error().
  std::size_t read(std::uint64_t offset, char* out, std::size_t capacity) {
    const ssize_t got = ::pread(fd_.get(), out, capacity, static_cast<off_t>(offset));
    if (got > 0) return static_cast<std::size_t>(got);
    error_ = got == 0 ? std::string("the file got shorter while it was read") : std::strerror(errno);  // NOLINT
    return 0;
  }

  /// Throws FileError when the file's size or modification time is no longer what it was when opened.
  void check_unchanged() const {
    struct stat now {};
    if (::stat(path_.c_str(), &now) != 0) throw FileError(path_, "disappeared while it was sent", errno);
    if (now.st_size != opened_.st_size || now.st_mtim.tv_sec != opened_.st_mtim.tv_sec ||
        now.st_mtim.tv_nsec != opened_.st_mtim.tv_nsec || now.st_ino != opened_.st_ino)
      throw FileError(path_, "changed while it was sent (size or modification time): not sent half-old");
  }

  /// Why the last read() returned 0.
  [[nodiscard]] const std::string& error() const noexcept { return error_; }

 private:
  SourceFile(std::string path, Descriptor fd, const struct stat& info)
      : path_(std::move(path)), fd_(std::move(fd)), opened_(info) {}

  std::string path_;
  Descriptor fd_;
  struct stat opened_ {};
  std::string error_{};
};

/// A download under way: a temporary file beside the final name (same folder, so placing it is a rename), appended
/// to through a buffer, placed under the final name only once complete. Kept after a failure that can resume.
class PartialFile {
 public:
  /// The temporary name for `final_path`: ".NAME.part" in the same folder, hidden.
  static std::string temporary_name(const std::string& final_path) {
    const auto slash = final_path.rfind('/');
    const std::size_t name_at = slash == std::string::npos ? 0 : slash + 1;
    return final_path.substr(0, name_at) + "." + final_path.substr(name_at) + ".part";
  }

  /// Opens the temporary file for `final_path`, keeping what an earlier try wrote (its size is where a resume
  /// starts); throws FileError when the folder cannot be written.
  static PartialFile open(const std::string& final_path) {
    std::string temporary = temporary_name(final_path);
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-vararg)
    Descriptor fd(::open(temporary.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
    if (fd.get() < 0) throw FileError(temporary, "cannot create the download's temporary file", errno);
    const off_t end = ::lseek(fd.get(), 0, SEEK_END);
    if (end < 0) throw FileError(temporary, "cannot read the temporary file's size", errno);
    return {final_path, std::move(temporary), std::move(fd), static_cast<std::uint64_t>(end)};
  }

  /// The final name.
  [[nodiscard]] const std::string& final_path() const noexcept { return final_path_; }
  /// The temporary name.
  [[nodiscard]] const std::string& temporary_path() const noexcept { return temporary_; }
  /// Bytes held so far (written and buffered).
  [[nodiscard]] std::uint64_t size() const noexcept { return written_ + buffer_.size(); }

  /// Throws away what it holds, to start again from byte 0.
  void restart() {
    buffer_.clear();
    if (::ftruncate(fd_.get(), 0) != 0 || ::lseek(fd_.get(), 0, SEEK_SET) != 0)
      throw FileError(temporary_, "cannot empty the temporary file", errno);
    written_ = 0;
    writeback_from_ = 0;
  }

  /// Appends `length` bytes; false when writing failed (a full disk, say), with the errno in error_number().
  bool append(const char* data, std::size_t length) {
    if (buffer_.capacity() == 0) buffer_.reserve(buffer_bytes);
    if (buffer_.size() + length > buffer_bytes && !drain()) return false;
    if (length >= buffer_bytes) return write_all(data, length);
    buffer_.insert(buffer_.end(), data, data + length);
    return true;
  }

  /// Writes out what is buffered; false on a write error.
  bool drain() {
    if (buffer_.empty()) return true;
    const bool ok = write_all(buffer_.data(), buffer_.size());
    buffer_.clear();
    return ok;
  }

  /// The errno of the last failed write.
  [[nodiscard]] int error_number() const noexcept { return errno_; }

  /// Writes out, syncs and closes the file, then puts it under its final name: never over another file unless
  /// `overwrite`. Throws FileError: when the disk refuses the last bytes or the sync (full, say), the temporary file
  /// is removed, as when it refuses them mid-way; when only the placing fails, it stays, complete, for another try.
  void place(bool overwrite) {
    if (!drain()) {
      discard();
      throw FileError(temporary_, "cannot write the download", errno_);
    }
    if (::fsync(fd_.get()) != 0) {
      const int failed = errno;
      discard();
      throw FileError(temporary_, "cannot sync the download to disk", failed);
    }
    if (const int failed = fd_.close(); failed != 0) throw FileError(temporary_, "cannot close the download", failed);
    if (overwrite) {
      if (std::rename(temporary_.c_str(), final_path_.c_str()) != 0)
        throw FileError(final_path_, "cannot rename the download into place", errno);
      return;
    }
    // link() fails when the final name exists, so no other file is replaced, even one that appeared meanwhile.
    if (::link(temporary_.c_str(), final_path_.c_str()) != 0)
      throw FileError(final_path_, errno == EEXIST ? "already exists (not overwritten)" : "cannot place the download",
                      errno == EEXIST ? 0 : errno);
    ::unlink(temporary_.c_str());
  }

  /// Removes the temporary file (after a failure a resume cannot mend, such as a full disk).
  void discard() noexcept {
    fd_.close();
    ::unlink(temporary_.c_str());
  }

 private:
  static constexpr std::size_t buffer_bytes = std::size_t{1} << 20;  // few, large writes: the disk's best pace
  static constexpr std::uint64_t writeback_bytes = std::uint64_t{32} << 20;

  PartialFile(std::string final_path, std::string temporary, Descriptor fd, std::uint64_t written)
      : final_path_(std::move(final_path)), temporary_(std::move(temporary)), fd_(std::move(fd)), written_(written) {}

  /// Starts the disk writing what is written so far, every `writeback_bytes`, without waiting for it: the sync
  /// before placing the file then has little left to do (a whole GiB synced at the end stalls for seconds).
  void start_writeback() noexcept {
#if defined(__linux__) && defined(SYNC_FILE_RANGE_WRITE)
    if (written_ - writeback_from_ < writeback_bytes) return;
    ::sync_file_range(fd_.get(), static_cast<off_t>(writeback_from_), static_cast<off_t>(written_ - writeback_from_),
                      SYNC_FILE_RANGE_WRITE);
    writeback_from_ = written_;
#endif
  }

  bool write_all(const char* data, std::size_t length) {
    while (length > 0) {
      const ssize_t put = ::write(fd_.get(), data, length);
      if (put < 0 && errno == EINTR) continue;
      if (put <= 0) {
        errno_ = put < 0 ? errno : EIO;
        return false;
      }
      data += put;
      length -= static_cast<std::size_t>(put);
      written_ += static_cast<std::uint64_t>(put);
    }
    start_writeback();
    return true;
  }

  std::string final_path_;
  std::string temporary_;
  Descriptor fd_;
  std::uint64_t written_;
  std::uint64_t writeback_from_ = 0;  // bytes before this were handed to the disk's writeback
  std::vector<char> buffer_{};
  int errno_ = 0;
};

/// True when something exists at `path`.
inline bool exists(const std::string& path) noexcept {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0;
}

}  // namespace files
}  // namespace heygen
