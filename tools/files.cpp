#include "files.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <system_error>

#include <fcntl.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace mandate::cli {
namespace {

std::string displayPath(const fs::path& p) {
  std::error_code ec;
  fs::path rel = fs::relative(p, fs::current_path(ec), ec);
  if (!ec && !rel.empty() && rel.native().rfind("..", 0) != 0) return rel.lexically_normal().string();
  return p.lexically_normal().string();
}

std::string keyOf(const fs::path& p) {
  std::error_code ec;
  fs::path c = fs::weakly_canonical(p, ec);
  return ec ? fs::absolute(p).lexically_normal().string() : c.string();
}

}  // namespace

bool readFileLimited(const std::string& path, std::size_t maxBytes, std::string& out, std::string& error) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    error = std::strerror(errno);
    return false;
  }
  out.clear();
  char buf[65536];
  while (out.size() <= maxBytes) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      error = std::strerror(errno);
      ::close(fd);
      return false;
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  if (out.size() > maxBytes + 1) out.resize(maxBytes + 1);
  return true;
}

bool collectSources(const std::vector<std::string>& paths, std::size_t maxBytes, std::vector<LoadedSource>& out,
                    std::vector<std::string>& unreadable, std::string& error) {
  std::vector<fs::path> files;
  for (const auto& p : paths) {
    std::error_code ec;
    fs::file_status st = fs::status(p, ec);
    if (ec || !fs::exists(st)) {
      error = "no such file or directory: " + p;
      return false;
    }
    if (fs::is_directory(st)) {
      std::vector<fs::path> found;
      fs::recursive_directory_iterator it(p, fs::directory_options::skip_permission_denied, ec), end;
      for (; !ec && it != end; it.increment(ec)) {
        if (it->is_regular_file(ec) && it->path().extension() == ".policy") found.push_back(it->path());
      }
      if (ec) unreadable.push_back(p + ": " + ec.message());
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else {
      files.emplace_back(p);
    }
  }
  for (const auto& f : files) {
    LoadedSource src;
    std::string why;
    if (!readFileLimited(f.string(), maxBytes, src.text, why)) {
      unreadable.push_back(displayPath(f) + ": " + why);
      continue;
    }
    src.key = keyOf(f);
    src.display = displayPath(f);
    out.push_back(std::move(src));
  }
  return true;
}

bool FileSystemProvider::resolveImport(const std::string& fromKey, const std::string& importPath, LoadedSource& out,
                                       std::string& error) {
  fs::path target = fs::path(importPath).is_absolute() ? fs::path(importPath)
                                                       : fs::path(fromKey).parent_path() / importPath;
  std::error_code ec;
  fs::file_status st = fs::status(target, ec);
  if (ec || !fs::exists(st)) {
    error = "no such file";
    return false;
  }
  if (fs::is_directory(st)) {
    error = "it is a directory";
    return false;
  }
  if (!readFileLimited(target.string(), maxBytes_, out.text, error)) return false;
  out.key = keyOf(target);
  out.display = displayPath(target);
  return true;
}

bool writeFileAtomic(const std::string& path, const std::string& text, std::string& error) {
  fs::path target(path);
  fs::path tmp = target;
  tmp += ".mandate-fmt.tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) {
      error = "cannot write " + tmp.string();
      std::error_code ec;
      fs::remove(tmp, ec);
      return false;
    }
  }
  std::error_code ec;
  // Keep an existing file's permissions. A new file keeps the default (0666 less the umask): the
  // status of a missing file has perms::unknown (0xFFFF), which would set 07777 -- setuid,
  // setgid, sticky and world-writable.
  fs::file_status st = fs::status(target, ec);
  if (!ec && fs::exists(st)) fs::permissions(tmp, st.permissions(), ec);
  fs::rename(tmp, target, ec);
  if (ec) {
    error = "cannot replace " + path + ": " + ec.message();
    fs::remove(tmp, ec);
    return false;
  }
  return true;
}

}  // namespace mandate::cli
