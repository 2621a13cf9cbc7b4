#include "store/connection_pool.h"

namespace mandate::store::sqlite {

ConnectionPool::Lease ConnectionPool::acquire(const char* op) {
  std::unique_ptr<Connection> c;
  {
    std::lock_guard lock(mu_);
    if (!idle_.empty()) {
      c = std::move(idle_.back());
      idle_.pop_back();
    }
  }
  if (!c) {
    c = std::make_unique<Connection>(path_);
    c->setWriteLock(&writeLock_);
    if (check_) check_(*c);
  }
  c->setOperation(op);
  return Lease(*this, std::move(c));
}

void ConnectionPool::release(std::unique_ptr<Connection> c) {
  // A connection still inside a transaction (a failed ROLLBACK) would hold the write lock or an
  // old snapshot: close it rather than hand it to the next caller.
  if (!c || !c->idle()) return;
  std::lock_guard lock(mu_);
  if (idle_.size() < kMaxIdle) idle_.push_back(std::move(c));
}

}  // namespace mandate::store::sqlite
