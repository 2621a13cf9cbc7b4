// Loads roots and follows imports breadth-first; reports missing files and import cycles.
#include <deque>
#include <functional>
#include <map>

#include "check/program.h"

namespace mandate {

void loadProgram(Program& p, std::vector<LoadedSource> roots, SourceProvider& provider, Diagnostics& diags,
                 const CheckOptions& options) {
  std::map<std::string, FileId> byKey;
  std::deque<FileId> queue;
  auto add = [&](LoadedSource src, bool root) -> FileId {
    auto it = byKey.find(src.key);
    if (it != byKey.end()) {
      if (root) p.isRoot[it->second] = true;
      return it->second;
    }
    FileId id = p.sources.add(src.display, std::move(src.text));
    byKey.emplace(src.key, id);
    p.keys.push_back(src.key);
    p.isRoot.push_back(root);
    p.files.emplace_back();
    queue.push_back(id);
    return id;
  };
  for (auto& r : roots) add(std::move(r), true);

  while (!queue.empty()) {
    FileId id = queue.front();
    queue.pop_front();
    ast::File parsed = parseFile(p.sources, id, diags, options.parse);
    for (auto& item : parsed.items) {
      auto* imp = std::get_if<ast::Import>(&item);
      if (imp == nullptr) continue;
      LoadedSource src;
      std::string error;
      if (p.files.size() >= options.maxFiles) {
        diags.report(Code::E0106, imp->span, "too many files (limit " + std::to_string(options.maxFiles) + ")");
        continue;
      }
      if (!provider.resolveImport(p.keys[id], imp->path, src, error)) {
        diags.report(Code::E0207, imp->span, "cannot import \"" + imp->path + "\": " + error);
        continue;
      }
      imp->target = add(std::move(src), false);
      imp->resolved = true;
    }
    p.files[id] = std::move(parsed);
  }

  // Cycle detection: depth-first over resolved imports, reporting the import that closes a cycle.
  enum class Mark { None, Active, Done };
  std::vector<Mark> mark(p.files.size(), Mark::None);
  std::vector<FileId> stack;
  std::function<void(FileId)> visit = [&](FileId id) {
    mark[id] = Mark::Active;
    stack.push_back(id);
    for (auto& item : p.files[id].items) {
      auto* imp = std::get_if<ast::Import>(&item);
      if (imp == nullptr || !imp->resolved) continue;
      if (mark[imp->target] == Mark::Active) {
        std::string chain;
        bool on = false;
        for (FileId f : stack) {
          if (f == imp->target) on = true;
          if (on) chain += p.sources.file(f).path + " -> ";
        }
        chain += p.sources.file(imp->target).path;
        diags.report(Code::E0206, imp->span, "import cycle: " + chain, "move the shared declarations into a file both can import");
      } else if (mark[imp->target] == Mark::None) {
        visit(imp->target);
      }
    }
    stack.pop_back();
    mark[id] = Mark::Done;
  };
  for (FileId id = 0; id < p.files.size(); ++id)
    if (mark[id] == Mark::None) visit(id);
}

std::unique_ptr<Program> checkProgram(std::vector<LoadedSource> roots, SourceProvider& provider,
                                      Diagnostics& diags, const CheckOptions& options) {
  auto p = std::make_unique<Program>();
  loadProgram(*p, std::move(roots), provider, diags, options);
  resolveAndTypeCheck(*p, diags);
  if (options.lint && !diags.capped()) lintProgram(*p, diags);
  diags.sort();
  return p;
}

}  // namespace mandate
