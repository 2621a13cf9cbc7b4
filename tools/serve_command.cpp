// mandate serve: the authorization server.
#include <signal.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <iostream>

#include "commands.h"
#include "compile_sources.h"
#include "files.h"
#include "audit/audit_log.h"
#include "http/server.h"
#include "jose/jose.h"
#include "oauth/auth_server.h"
#include "oauth/log.h"
#include "server_setup.h"

namespace mandate::cli {
namespace {

struct ServeArgs {
  std::string config, dataDir, listen, issuer, policies, bundle, portFile, audit;
  unsigned threads = 0;
  bool threadsGiven = false;
};

std::string randomBytes(std::size_t n) {
  std::string out = jose::bufferedRandomBytes(n);
  if (out.size() != n) {
    // Without randomness no token id or secret is safe: stop rather than continue.
    oauth::logEvent(oauth::Level::Error, "the random number generator failed");
    std::abort();
  }
  return out;
}

int runServe(const ServeArgs& a, CLI::App* cmd) {
  using oauth::Level;
  using oauth::logEvent;
  oauth::Config config;
  std::string error;
  std::string configFile = a.config;
  if (configFile.empty())
    if (const char* env = std::getenv("MANDATE_CONFIG")) configFile = env;
  if (!configFile.empty() && !oauth::applyConfigFile(configFile, config, error)) {
    std::cerr << "mandate serve: " << error << "\n";
    return kExitUsage;
  }
  if (!oauth::applyEnvironment(config, error)) {
    std::cerr << "mandate serve: " << error << "\n";
    return kExitUsage;
  }
  if (cmd->count("--data-dir")) config.dataDir = a.dataDir;
  if (cmd->count("--listen")) config.listen = a.listen;
  if (cmd->count("--issuer")) config.issuer = a.issuer;
  if (cmd->count("--policies")) config.policies = a.policies;
  if (cmd->count("--bundle")) config.bundle = a.bundle;
  if (cmd->count("--policies") && !cmd->count("--bundle")) config.bundle.clear();
  if (cmd->count("--port-file")) config.portFile = a.portFile;
  if (a.threadsGiven) config.http.threads = a.threads;
  if (cmd->count("--audit") && !oauth::parseOnOff(a.audit, config.audit.enabled)) {
    std::cerr << "mandate serve: --audit: expected on or off\n";
    return kExitUsage;
  }
  bool issuerGiven = !config.issuer.empty();
  if (!oauth::finishConfig(config, error)) {
    std::cerr << "mandate serve: " << error << "\n";
    return kExitUsage;
  }
  std::string trustedKey;
  if (!config.bundleTrustedKey.empty() && !readWholeFile(config.bundleTrustedKey, 64 * 1024, trustedKey, error)) {
    std::cerr << "mandate serve: " << error << "\n";
    return kExitUsage;
  }

  // Signals are taken by sigwait below, never by a handler: block them before any thread starts
  // so every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  std::unique_ptr<store::Store> store;
  try {
    store = openDataDir(config.dataDir);
  } catch (const std::exception& e) {
    std::cerr << "mandate serve: " << e.what() << "\n";
    return kExitProblems;
  }
  oauth::PolicyHolder policy([&config, trustedKey](std::string& err) {
    return loadPolicy(config.policies, config.bundle, trustedKey, err);
  });
  // The audit trail opens before anything can be decided, so the first policy load is recorded.
  std::unique_ptr<audit::AuditLog> auditLog;
  if (config.audit.enabled) {
    audit::Options options;
    options.checkpointEvery = static_cast<std::uint64_t>(config.audit.checkpointEvery);
    options.checkpointInterval = std::chrono::seconds(config.audit.checkpointIntervalS);
    options.commitDelay = std::chrono::microseconds(config.audit.commitDelayUs);
    options.walTruncateInterval = std::chrono::seconds(config.store.walTruncateIntervalS);
    try {
      auditLog = audit::AuditLog::open(auditDbPath(config.dataDir), options);
    } catch (const std::exception& e) {
      std::cerr << "mandate serve: cannot open the audit trail: " << e.what() << "\n";
      return kExitProblems;
    }
  } else {
    logEvent(Level::Warn, "audit trail is OFF: tokens are issued without records (use only for benchmarks)");
  }
  oauth::SystemClock clock;
  oauth::AuthServer auth(config, *store, policy, clock, randomBytes);
  auth.setAudit(auditLog.get(), config.bundle.empty() ? config.policies : config.bundle);
  // The log's completions call into `auth`: close it before `auth` goes, on every way out.
  struct CloseAuditFirst {
    std::unique_ptr<audit::AuditLog>& log;
    ~CloseAuditFirst() { log.reset(); }
  } closeAuditFirst{auditLog};
  if (!auth.reloadPolicy(error)) {
    std::cerr << "mandate serve: no policy to serve with:\n" << error << "\n";
    return kExitProblems;
  }
  try {
    auth.start();
  } catch (const std::exception& e) {
    std::cerr << "mandate serve: " << e.what() << "\n";
    return kExitProblems;
  }
  http::Server server(config.http, [&auth](http::Request&& req, http::Respond respond) {
    auth.handle(std::move(req), std::move(respond));
  });
  auth.setConnectionCounter([&server] { return server.openConnections(); });
  if (!server.start(error)) {
    std::cerr << "mandate serve: cannot listen on " << config.listen << ": " << error << "\n";
    return kExitProblems;
  }
  if (!issuerGiven && config.http.port == 0) {
    // --listen HOST:0 without --issuer: the issuer names the port actually bound.
    std::string host = config.http.host.find(':') != std::string::npos ? "[" + config.http.host + "]" : config.http.host;
    auth.setIssuer("http://" + host + ":" + std::to_string(server.port()));
  }
  std::string pidFile = pidFilePath(config.dataDir);
  if (!writeFileAtomic(pidFile, std::to_string(::getpid()) + "\n", error))
    logEvent(Level::Warn, "cannot write the pid file", {{"error", error}});
  if (!config.portFile.empty() && !writeFileAtomic(config.portFile, std::to_string(server.port()) + "\n", error)) {
    std::cerr << "mandate serve: " << error << "\n";
    server.stop();
    return kExitProblems;
  }
  logEvent(Level::Info, "listening",
           {{"address", config.http.host + ":" + std::to_string(server.port())},
            {"issuer", auth.issuer()},
            {"data_dir", config.dataDir},
            {"policy", policy.current()->hash},
            {"tls", !config.http.tlsCertFile.empty()}});

  for (;;) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig == SIGHUP) {
      std::string err;
      auth.reloadPolicy(err);
      continue;
    }
    logEvent(Level::Info, "shutting down", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
    break;
  }
  server.stop();  // stop accepting, let in-flight requests finish
  auditLog.reset();  // commits what is queued; its completions call into `auth`
  auth.stop();
  ::unlink(pidFile.c_str());
  logEvent(Level::Info, "stopped");
  return kExitOk;
}

}  // namespace

void addServeCommand(CLI::App& app, int& result) {
  auto args = std::make_shared<ServeArgs>();
  CLI::App* cmd = app.add_subcommand("serve", "Run the authorization server");
  cmd->footer(
      "Defaults: --data-dir ./mandate-data, --listen 127.0.0.1:8080, --issuer http://<listen>,\n"
      "--policies ./policies. Settings come from the defaults, then the config file (--config or\n"
      "MANDATE_CONFIG; TOML, or JSON by extension), then MANDATE_* variables, then flags.\n"
      "SIGTERM/SIGINT: graceful stop. SIGHUP (or `mandate policy reload`): reload the policies.\n"
      "See docs/server.md.");
  cmd->add_option("--config", args->config, "Configuration file (TOML, or .json)");
  cmd->add_option("--data-dir", args->dataDir, "Data directory (SQLite store, keys)");
  cmd->add_option("--listen", args->listen, "HOST:PORT to listen on (port 0: any free port)");
  cmd->add_option("--issuer", args->issuer, "Issuer URL (iss of tokens, base of the endpoints)");
  cmd->add_option("--policies", args->policies, "Directory of .policy files, compiled at start and on reload");
  cmd->add_option("--bundle", args->bundle, "A built policy bundle (mandate build) instead of --policies");
  cmd->add_option("--port-file", args->portFile, "Write the bound port to this file once listening");
  cmd->add_option("--audit", args->audit,
                  "on (default): every token decision recorded durably in DATA/audit.db before the response; "
                  "off: no audit trail (benchmarks only)");
  cmd->add_option("--threads", args->threads, "Worker threads (0: one per core)")
      ->check(CLI::Range(0, 256))
      ->each([args](const std::string&) { args->threadsGiven = true; });
  cmd->callback([args, cmd, &result] { result = runServe(*args, cmd); });
}

}  // namespace mandate::cli
