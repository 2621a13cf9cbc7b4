// http_echo_server: the HTTP layer alone, for load tests (wrk). Answers every request with a
// small constant body, or echoes a POST body.
// Usage: http_echo_server [port] [threads] [cert.pem key.pem]   (TLS with the last two)
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "http/server.h"

int main(int argc, char** argv) {
  mandate::http::Options options;
  options.port = argc > 1 ? static_cast<std::uint16_t>(std::atoi(argv[1])) : 8080;
  options.threads = argc > 2 ? static_cast<unsigned>(std::atoi(argv[2])) : 0;
  if (argc > 4) {
    options.tlsCertFile = argv[3];
    options.tlsKeyFile = argv[4];
  }
  mandate::http::Server server(options, [](mandate::http::Request&& req, mandate::http::Respond respond) {
    mandate::http::Response r;
    r.contentType = "text/plain";
    r.body = req.method == "POST" ? std::move(req.body) : std::string("ok\n");
    respond(std::move(r));
  });
  // Block the signals before the workers start so only the waiting thread receives them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::string error;
  if (!server.start(error)) {
    std::fprintf(stderr, "http_echo_server: %s\n", error.c_str());
    return 1;
  }
  std::printf("listening on 127.0.0.1:%u\n", server.port());
  std::fflush(stdout);
  int sig = 0;
  sigwait(&signals, &sig);
  server.stop();
  return 0;
}
