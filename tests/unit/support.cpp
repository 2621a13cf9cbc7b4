#include "support.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "diag/render.h"
#include "format/formatter.h"
#include "syntax/parser.h"

namespace unit {

using namespace mandate;

namespace {
const fs::path kWorkDir = UNIT_WORK_DIR;
std::atomic<int> counter{0};

fs::path uniquePath(const std::string& stem) {
  fs::create_directories(kWorkDir);
  return kWorkDir / (stem + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
}
}  // namespace

std::string readFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + p.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void writeFile(const fs::path& p, std::string_view text) {
  if (p.has_parent_path()) fs::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  if (!out) throw std::runtime_error("cannot write " + p.string());
}

TempDir::TempDir() : path_(uniquePath("tmp")) { fs::create_directories(path_); }

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

RunResult runMandate(const std::vector<std::string>& args, const fs::path& cwd, int timeoutSeconds) {
  fs::path outPath = uniquePath("stdout"), errPath = uniquePath("stderr");
  std::vector<std::string> argv = {"timeout", "-k", "5", std::to_string(timeoutSeconds), kBinary.string()};
  argv.insert(argv.end(), args.begin(), args.end());
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) ::_exit(126);
    int in = ::open("/dev/null", O_RDONLY);
    int out = ::open(outPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = ::open(errPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (in < 0 || out < 0 || err < 0) ::_exit(126);
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(err, 2);
    // Tell sanitizer failures apart from exit status 1 ("problems found").
    std::string asan = "exitcode=86", ubsan = "exitcode=87";
    if (const char* v = std::getenv("ASAN_OPTIONS")) asan = std::string(v) + ":" + asan;
    if (const char* v = std::getenv("UBSAN_OPTIONS")) ubsan = std::string(v) + ":" + ubsan;
    ::setenv("ASAN_OPTIONS", asan.c_str(), 1);
    ::setenv("UBSAN_OPTIONS", ubsan.c_str(), 1);
    ::setenv("NO_COLOR", "1", 1);
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    ::execvp("timeout", cargv.data());
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
  }
  RunResult r;
  if (WIFEXITED(status)) r.exitCode = WEXITSTATUS(status);
  r.timedOut = r.exitCode == 124 || r.exitCode == 137;
  r.out = readFile(outPath);
  r.err = readFile(errPath);
  std::error_code ec;
  fs::remove(outPath, ec);
  fs::remove(errPath, ec);
  return r;
}

bool MemoryProvider::resolveImport(const std::string& fromKey, const std::string& importPath, LoadedSource& out,
                                   std::string& error) {
  fs::path target = fs::path(importPath).is_absolute() ? fs::path(importPath)
                                                       : fs::path(fromKey).parent_path() / importPath;
  std::string key = target.lexically_normal().string();
  auto it = files.find(key);
  if (it == files.end()) {
    error = "no such file";
    return false;
  }
  out.key = key;
  out.display = key;
  out.text = it->second;
  return true;
}

bool Checked::has(std::string_view code, std::uint32_t line, std::uint32_t col) const {
  for (const auto& d : diags->all())
    if (codeInfo(d.code).id == code && d.span.line == line && d.span.col == col) return true;
  return false;
}

bool Checked::has(std::string_view code) const { return count(code) > 0; }

std::size_t Checked::count(std::string_view code) const {
  std::size_t n = 0;
  for (const auto& d : diags->all()) n += codeInfo(d.code).id == code;
  return n;
}

std::string Checked::dump() const {
  std::string out;
  for (const auto& d : diags->all()) {
    out += std::to_string(d.span.file) + ":" + std::to_string(d.span.line) + ":" + std::to_string(d.span.col) + " " +
           std::string(codeInfo(d.code).id) + " " + d.message + "\n";
  }
  return out;
}

Checked checkFiles(const std::vector<std::pair<std::string, std::string>>& roots, MemoryProvider& provider,
                   const CheckOptions& options) {
  std::vector<LoadedSource> sources;
  for (const auto& [path, text] : roots) {
    sources.push_back({path, path, text});
    provider.files.emplace(path, text);  // roots can be imported too (cycles)
  }
  Checked c;
  c.diags = std::make_unique<Diagnostics>();
  c.program = checkProgram(std::move(sources), provider, *c.diags, options);
  return c;
}

Checked checkText(const std::string& text, const CheckOptions& options) {
  MemoryProvider none;
  return checkFiles({{"/mem/main.policy", text}}, none, options);
}

std::string formatText(const std::string& text, bool& parsed, std::string* diagnostics) {
  SourceSet sources;
  FileId id = sources.add("input.policy", text);
  Diagnostics diags;
  ast::File file = parseFile(sources, id, diags);
  if (diagnostics != nullptr) {
    diagnostics->clear();
    for (const auto& d : diags.all()) *diagnostics += renderText(sources, d);
  }
  parsed = file.parsed;
  if (!parsed) return {};
  return formatFile(file, sources.file(id));
}

std::vector<std::string> commentsOf(const std::string& text) {
  SourceSet sources;
  FileId id = sources.add("input.policy", text);
  Diagnostics diags;
  ast::File file = parseFile(sources, id, diags);
  std::vector<std::string> out;
  for (const auto& c : file.comments) out.push_back(c.text);
  return out;
}

const char* const kSchema = R"(schema {
  enum ClientCategory { retail, professional, eligible_counterparty }
  enum ProductClass { spot, margin, future, perpetual, option, swap, cfd }
  enum ClientKind { web, mobile, trading_bot, partner }
  actions { read, trade, withdraw }
  products ProductClass on trade
  subject {
    kyc_tier: int
    residence: country
    optional residence_region: region
    category: ClientCategory
    appropriateness: set<ProductClass>
    optional lei: string
  }
  client {
    kind: ClientKind
    ip_allowlist: set<cidr>
  }
  request {
    ip: ip
    country: country
    scopes: set<string>
    aal: int
    auth_age: duration
  }
  risk {
    score: int
  }
  limits {
    max_leverage: decimal
    daily_withdrawal_usd: decimal
  }
}
)";

}  // namespace unit
