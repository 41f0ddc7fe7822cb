#include "train/data_parallel.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include "afm/error.h"

namespace afm::train {

process_group join_process_group(const std::string& host, uint16_t port, int rank, int size,
                                 int timeout_s) {
  if (size < 1 || rank < 0 || rank >= size)
    fail("data parallel: rank ", rank, " is not in a group of ", size);
  struct state {
    c10::intrusive_ptr<c10d::TCPStore> store;
    c10::intrusive_ptr<c10d::ProcessGroupGloo> group;
  };
  auto s = std::make_shared<state>();
  try {
    c10d::TCPStoreOptions so;
    so.port = port;
    so.isServer = rank == 0;
    so.numWorkers = static_cast<size_t>(size);
    so.timeout = std::chrono::seconds(timeout_s);
    s->store = c10::make_intrusive<c10d::TCPStore>(host, so);
    auto go = c10d::ProcessGroupGloo::Options::create(std::chrono::seconds(timeout_s));
    go->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(host));
    s->group = c10::make_intrusive<c10d::ProcessGroupGloo>(s->store, rank, size, go);
  } catch (const std::exception& e) {
    fail("data parallel: rank ", rank, " of ", size, " could not join the group at ", host, ":",
         port, ": ", e.what());
  }
  process_group pg;
  pg.comm.rank = rank;
  pg.comm.size = size;
  c10d::ProcessGroupGloo* g = s->group.get();
  pg.comm.all_reduce_sum = [g](torch::Tensor& t) {
    std::vector<at::Tensor> v{t};
    g->allreduce(v)->wait();
  };
  pg.barrier = [g] { g->barrier()->wait(); };
  pg.handle = s;
  return pg;
}

uint16_t free_local_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) fail("data parallel: cannot open a socket");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0;
  ::close(fd);
  if (!ok) fail("data parallel: cannot find a free port on 127.0.0.1");
  return ntohs(a.sin_port);
}

}  // namespace afm::train
