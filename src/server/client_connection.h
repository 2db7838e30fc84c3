// The socket a request arrived on, found from the request's peer address, so that a
// handler that writes nothing for a long time (a non-streaming completion) can notice
// that its client has gone and stop the generation. httplib (0.11) gives handlers no
// access to their socket; the process's open sockets are searched instead (Linux).
#pragma once

#include <optional>
#include <string>

namespace dsinfer::server {

class ClientConnection {
 public:
  // The connected socket whose peer is peer_addr:peer_port (numeric address, as httplib
  // writes it), or nothing when there is none.
  static std::optional<ClientConnection> find(const std::string& peer_addr, int peer_port);

  // True once the peer has closed its side or the connection broke. A request the
  // client pipelined after this one counts as still there.
  bool closed() const;

 private:
  explicit ClientConnection(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace dsinfer::server
